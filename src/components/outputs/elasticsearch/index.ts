// `elasticsearch`: `_bulk` NDJSON with per-document outcomes, deterministic ids, index templates
// (strftime UTC + {field}) or data streams. See README.md for the delivery semantics.

import { defineOutput, type Output } from '../../../core/component.js';
import { healthcheck } from './healthcheck.js';
import { meta } from './meta.js';
import { ElasticsearchOutput } from './output.js';

export default defineOutput({
  ...meta,
  create(config, ctx): Output {
    return new ElasticsearchOutput(config, ctx);
  },
  healthcheck: (config) => healthcheck(config),
});
