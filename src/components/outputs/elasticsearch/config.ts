// Options of the `elasticsearch` output. `auth` and `tls` are the HTTP outputs' shared shape
// (_shared/http-options.ts); secrets come from `${ENV}`, `*_env` or `*_file`, never literals.

import { z } from 'zod';
import { authOptions, tlsOptions } from '../_shared/http-options.js';
import { rateLimit } from '../_shared/rate-limit.js';
import { trustedFieldsDescription } from '../_shared/trusted.js';
import { duration, size } from '../../../core/units.js';

export const ES_AUTH_TYPES = ['none', 'basic', 'bearer', 'api_key'] as const;

export const options = z.object({
  url: z
    .url({ protocol: /^https?$/ })
    .describe(
      'Base URL of the cluster, e.g. https://es.internal:9200 (a path prefix is kept: http://proxy/es).',
    ),
  index: z
    .string()
    .min(1)
    .default('shiplog-%Y.%m.%d')
    .describe(
      'Target index: strftime (%Y %m %d %H %M %S %j %y %%) of the record time in UTC, and {field} references; lower-cased.',
    ),
  data_stream: z
    .strictObject({
      type: z.string().min(1).default('logs').describe('Data stream type.'),
      dataset: z.string().min(1).default('generic').describe('Dataset ({field} allowed).'),
      namespace: z.string().min(1).default('default').describe('Namespace ({field} allowed).'),
    })
    .optional()
    .describe(
      'Write to the data stream <type>-<dataset>-<namespace> instead of `index`; forces action create.',
    ),
  trusted_fields: z.array(z.string().min(1)).default([]).describe(trustedFieldsDescription),
  action: z
    .enum(['create', 'index'])
    .default('create')
    .describe(
      'Bulk action. create never overwrites: with deterministic ids a replay is a harmless 409.',
    ),
  document_id: z
    .string()
    .min(1)
    .default('auto')
    .describe(
      'Document id. auto: a hash of the record source position (file identity + offset, journald cursor), so replays never duplicate; none: Elasticsearch chooses (a retry after a lost response can duplicate); {field}: a record field.',
    ),
  pipeline: z.string().min(1).optional().describe('Ingest pipeline to run on every document.'),
  time_key: z
    .string()
    .default('@timestamp')
    .describe(
      'Field that receives the record time (RFC 3339, UTC) unless the record has it; empty: do not add.',
    ),
  compression: z
    .enum(['none', 'gzip'])
    .default('none')
    .describe('gzip the request body (Content-Encoding: gzip).'),
  auth: authOptions(ES_AUTH_TYPES),
  tls: tlsOptions(),
  batch: z
    .strictObject({
      max_bytes: size('Flush a bulk request at this many bytes of NDJSON.').prefault('5MiB'),
      max_wait: duration('... or when its oldest record waited this long.').prefault('1s'),
    })
    .prefault({})
    .describe('Bulk request sizing.'),
  workers: z.number().int().min(1).max(64).default(2).describe('Bulk requests in flight at once.'),
  rate_limit: rateLimit,
  timeout: duration('Time allowed for one bulk request (headers and body).').prefault('30s'),
  healthcheck: z
    .boolean()
    .default(false)
    .describe('GET / at start-up and fail the start when the cluster does not answer 2xx.'),
});

export type EsOptions = z.output<typeof options>;
