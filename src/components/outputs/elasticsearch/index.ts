// `elasticsearch`: `_bulk` NDJSON with per-document outcomes, deterministic ids, index templates
// (strftime UTC + {field}) or data streams. See README.md for the delivery semantics.

import { defineOutput, type Output } from '../../../core/component.js';
import { options } from './config.js';
import { ElasticsearchOutput } from './output.js';

export default defineOutput({
  kind: 'output',
  ownsQueue: true,
  type: 'elasticsearch',
  description:
    'Indexes records with the Elasticsearch _bulk API: per-document outcomes, deterministic ids, gzip, basic/API-key/bearer auth.',
  options,
  create(config, ctx): Output {
    return new ElasticsearchOutput(config, ctx);
  },
});
