// What the registry knows of the `loki` output without loading it (undici, snappy, protobufjs,
// the encoder): type, description and options. The factory is in index.ts.

import { options } from './config.js';

export const meta = {
  kind: 'output' as const,
  ownsQueue: true,
  type: 'loki',
  description:
    'Pushes to Grafana Loki (snappy protobuf or JSON): labels, structured metadata, tenant, basic/bearer auth, TLS; 400s are never resent.',
  options,
};
