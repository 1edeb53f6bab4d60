// Options of the `elasticsearch` output. Secrets come from `${ENV}` interpolation or from files
// (`*_file`), never from literals in a shared config.

import { z } from 'zod';
import { rateLimit } from '../_shared/rate-limit.js';
import { trustedFieldsDescription } from '../_shared/trusted.js';
import { duration, size } from '../../../core/units.js';

const secretFile = (what: string) =>
  z
    .string()
    .min(1)
    .optional()
    .describe(`File holding the ${what} (trailing newline ignored); read at start-up.`);

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
  auth: z
    .strictObject({
      type: z.enum(['none', 'basic', 'api_key', 'bearer']).default('none').describe('Scheme.'),
      user: z.string().optional().describe('basic: user name.'),
      password: z.string().optional().describe('basic: password; use ${ENV} interpolation.'),
      password_file: secretFile('basic password'),
      api_key: z
        .string()
        .optional()
        .describe('api_key: the encoded key (base64 of id:key) as Kibana shows it; use ${ENV}.'),
      api_key_file: secretFile('encoded API key'),
      token: z.string().optional().describe('bearer: the token; use ${ENV}.'),
      token_file: secretFile('bearer token'),
    })
    .prefault({})
    .describe('Authentication.'),
  tls: z
    .strictObject({
      ca_file: z.string().min(1).optional().describe('PEM CA bundle to verify the server with.'),
      cert_file: z.string().min(1).optional().describe('PEM client certificate (mutual TLS).'),
      key_file: z.string().min(1).optional().describe('PEM client key (mutual TLS).'),
      verify: z
        .boolean()
        .default(true)
        .describe('Verify the server certificate and name. Turn off only for a lab cluster.'),
    })
    .prefault({})
    .describe('TLS for https URLs.'),
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
