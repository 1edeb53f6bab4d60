// `loki`: Loki's native push (snappy protobuf, or JSON), labels from static values and {field}
// templates, structured metadata, tenants, auth and TLS. See README.md for delivery semantics.

import { defineOutput, type Output } from '../../../core/component.js';
import { options } from './config.js';
import { LokiOutput } from './output.js';

export default defineOutput({
  kind: 'output',
  ownsQueue: true,
  type: 'loki',
  description:
    'Pushes to Grafana Loki (snappy protobuf or JSON): labels, structured metadata, tenant, basic/bearer auth, TLS; 400s are never resent.',
  options,
  create(config, ctx): Output {
    return new LokiOutput(config, ctx);
  },
});
