// A Loki encoder for unit tests: the output's defaults (JSON lines, `message` as the message
// field, 256 kB lines, 10,000 streams, no age limit) with a fixed clock; each test names only
// what it changes (labels, structured metadata, limits).

import { LokiEncoder, type EncoderConfig } from '../../src/components/outputs/loki/encoder.js';

export function testLokiEncoder(over: Partial<EncoderConfig>, nowMs: number): LokiEncoder {
  return new LokiEncoder(
    {
      labels: {},
      structuredMetadata: [],
      lineFormat: 'json',
      messageField: 'message',
      maxLineBytes: 256_000,
      rejectOlderThanMs: 0,
      maxStreams: 10_000,
      ...over,
    },
    () => nowMs,
  );
}
