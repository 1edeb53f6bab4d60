// The Loki receiver's JSON push API (what Fluent Bit's loki output sends): decoded fully by
// default, counted without parsing in countOnly mode (benchmarks), protobuf unchanged.

import { afterEach, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import snappy from 'snappy';
import { encodePushRequest } from '../../src/components/outputs/loki/logproto.js';
import { LokiReceiver, countJsonEntries } from './loki.js';

let receiver: LokiReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const nowNs = (): string => (BigInt(Date.now()) * 1_000_000n).toString();

/** Lines that look like entries or contain brackets and quotes, as record JSON does. */
const TRICKY = [
  '{"level":"INFO","message":"plain"}',
  '["1700000000000000000","not an entry"]',
  'a [ "1" ] b',
  '[',
  'ends with [',
  '{"list":["123",-4,"-5"],"nested":[["9"]]}',
  'back\\slash [\\"1\\"] and "quotes"',
  '',
];

function fluentBitBody(lines: string[], pretty = false): Buffer {
  const ts = nowNs();
  const doc = {
    streams: [
      {
        stream: { job: 'bench', level: 'INFO' },
        values: lines.map((l) => [ts, l]),
      },
      {
        stream: { job: 'bench', level: 'WARN' },
        values: lines.slice(0, 3).map((l) => [ts, l, { trace_id: '[x"1' }]),
      },
    ],
  };
  return Buffer.from(pretty ? JSON.stringify(doc, null, 2) : JSON.stringify(doc));
}

async function push(
  url: string,
  body: Buffer | Uint8Array,
  headers: Record<string, string>,
): Promise<number> {
  const res = await fetch(`${url}/loki/api/v1/push`, { method: 'POST', body, headers });
  await res.text();
  return res.status;
}

describe('countJsonEntries', () => {
  it('counts exactly the values entries, whatever the lines contain', () => {
    expect(countJsonEntries(fluentBitBody(TRICKY))).toBe(TRICKY.length + 3);
    expect(countJsonEntries(fluentBitBody(TRICKY, true))).toBe(TRICKY.length + 3);
    expect(countJsonEntries(Buffer.from('{"streams":[]}'))).toBe(0);
  });

  it('agrees with a full parse on generated lines', () => {
    const lines = Array.from({ length: 500 }, (_, i) =>
      JSON.stringify({ i, a: [String(i), `[${i}]`], s: `"[${i}"`, n: -i }),
    );
    const body = fluentBitBody(lines);
    const parsed = JSON.parse(body.toString()) as { streams: Array<{ values: unknown[] }> };
    const total = parsed.streams.reduce((n, s) => n + s.values.length, 0);
    expect(countJsonEntries(body)).toBe(total);
  });
});

describe('LokiReceiver JSON pushes', () => {
  it('decodes a JSON push fully: labels, ns timestamps, lines, structured metadata', async () => {
    receiver = await LokiReceiver.start();
    const status = await push(receiver.url, fluentBitBody(TRICKY), {
      'content-type': 'application/json',
    });
    expect(status).toBe(204);
    expect(receiver.stats.accepted).toBe(TRICKY.length + 3);
    expect(receiver.entries.filter((e) => e.labels.level === 'INFO').map((e) => e.line)).toEqual(
      TRICKY,
    );
    const warn = receiver.entries.find((e) => e.labels.level === 'WARN');
    expect(warn?.stream).toBe('{job="bench", level="WARN"}');
    expect(warn?.metadata).toEqual({ trace_id: '[x"1' });
    expect(typeof warn?.ts).toBe('bigint');
  });

  it('refuses numeric timestamps in full mode (Loki wants strings of ns)', async () => {
    receiver = await LokiReceiver.start();
    const body = JSON.stringify({
      streams: [{ stream: { job: 'x' }, values: [[Date.now() * 1e6, 'line']] }],
    });
    expect(
      await push(receiver.url, Buffer.from(body), { 'content-type': 'application/json' }),
    ).toBe(400);
    expect(receiver.stats.accepted).toBe(0);
  });

  it('counts JSON pushes in countOnly mode, gzip or not, and stores nothing', async () => {
    receiver = await LokiReceiver.start({ countOnly: true });
    const body = fluentBitBody(TRICKY);
    expect(await push(receiver.url, body, { 'content-type': 'application/json' })).toBe(204);
    expect(
      await push(receiver.url, gzipSync(body), {
        'content-type': 'application/json; charset=utf-8',
        'content-encoding': 'gzip',
      }),
    ).toBe(204);
    expect(receiver.stats.accepted).toBe(2 * (TRICKY.length + 3));
    expect(receiver.entries).toHaveLength(0);
    expect(receiver.requests).toHaveLength(0);
  });

  it('still counts protobuf+snappy pushes in countOnly mode', async () => {
    receiver = await LokiReceiver.start({ countOnly: true });
    const seconds = Math.floor(Date.now() / 1000);
    const proto = encodePushRequest([
      {
        labels: '{job="bench"}',
        entries: TRICKY.map((line, i) => ({ timestamp: { seconds, nanos: i }, line })),
      },
    ]);
    const body = snappy.compressSync(Buffer.from(proto));
    expect(await push(receiver.url, body, { 'content-type': 'application/x-protobuf' })).toBe(204);
    expect(receiver.stats.accepted).toBe(TRICKY.length);
  });
});
