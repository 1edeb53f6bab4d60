// `loki`: Loki's native push (snappy protobuf, or JSON), labels from static values and {field}
// templates, structured metadata, tenants, auth and TLS. See README.md for delivery semantics.

import { defineOutput, type Output } from '../../../core/component.js';
import { healthcheck } from './healthcheck.js';
import { meta } from './meta.js';
import { LokiOutput } from './output.js';

export default defineOutput({
  ...meta,
  create(config, ctx): Output {
    return new LokiOutput(config, ctx);
  },
  healthcheck: (config) => healthcheck(config),
});
