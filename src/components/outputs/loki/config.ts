// Options of the `loki` output. `auth` and `tls` are the HTTP outputs' shared shape
// (_shared/http-options.ts); secrets come from `${ENV}`, `*_env` or `*_file`, never literals.

import { z } from 'zod';
import { authOptions, tlsOptions } from '../_shared/http-options.js';
import { rateLimit } from '../_shared/rate-limit.js';
import { trustedFieldsDescription } from '../_shared/trusted.js';
import { duration, size } from '../../../core/units.js';

/** Loki has no API-key scheme (a gateway taking a key takes it as a bearer token or a header). */
export const LOKI_AUTH_TYPES = ['none', 'basic', 'bearer'] as const;

export const options = z.object({
  url: z
    .url({ protocol: /^https?$/ })
    .describe(
      'Base URL of Loki (or its gateway), e.g. http://loki:3100; /loki/api/v1/push is appended (a path prefix is kept).',
    ),
  encoding: z
    .enum(['protobuf', 'json'])
    .default('protobuf')
    .describe(
      "protobuf: snappy-compressed logproto.PushRequest (Loki's native format, smallest and fastest); json: the JSON push API.",
    ),
  compression: z
    .enum(['gzip', 'none'])
    .default('gzip')
    .describe(
      'encoding json only: gzip the body. Protobuf bodies are always snappy (Loki requires it).',
    ),
  labels: z
    .record(
      z.string(),
      z.string().refine((v) => !/\{tag(\[\d+\])?\}/.test(v), {
        message:
          '{tag} is not a record field: a Loki label cannot use the routing tag (it would be empty and the label dropped). Use a field ({kubernetes.namespace_name}) or a static value',
      }),
    )
    .default({})
    .describe(
      'Stream labels: static values or {field} templates, e.g. { job: agents, level: "{level}" }. Names are sanitised to [a-zA-Z_][a-zA-Z0-9_]*; empty values are dropped; labels set by the `label` filter are added.',
    ),
  structured_metadata: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Record fields sent as structured metadata (high-cardinality ids such as correlation_id, trace_id): queryable, never stream labels.',
    ),
  max_streams: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe(
      'Cardinality guard: label sets seen in the last hour beyond this many are refused (dead-lettered, counted, and the label with the most values is named in a warning).',
    ),
  stream_quota: z
    .strictObject({
      by: z
        .string()
        .min(1)
        .describe(
          'Template naming the source a stream belongs to, e.g. "{kubernetes.namespace_name}".',
        ),
      max: z.number().int().min(1).describe('Active streams one source may hold.'),
    })
    .optional()
    .describe(
      'Per-source share of the streams: one producer writing many label values exhausts its own quota (its new streams are dead-lettered, counted like max_streams) instead of the shared max_streams pool.',
    ),
  line_format: z
    .enum(['json', 'message'])
    .default('json')
    .describe(
      'json: the record as JSON without the fields used as labels (the original line is reused when nothing was removed; a record that is only an unparsed `message` is sent as that line); message: the value of `message_field`.',
    ),
  message_field: z
    .string()
    .min(1)
    .default('message')
    .describe(
      'line_format message: the field holding the line (a record without it is sent as JSON).',
    ),
  time_field: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Take the entry time from this field instead of the record time: RFC 3339 / ISO 8601 or epoch seconds/ms/µs/ns by magnitude (the parse filters' time_format auto); unparseable values fall back to the record time.",
    ),
  tenant: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Tenant sent as X-Scope-OrgID: a name or a {field} template (one push per tenant). Required by multi-tenant Loki.',
    ),
  trusted_fields: z.array(z.string().min(1)).default([]).describe(trustedFieldsDescription),
  auth: authOptions(LOKI_AUTH_TYPES, {
    note: 'Grafana Cloud: type basic, user = the instance id, password = an access policy token.',
    legacy: true,
  }),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe('Extra HTTP headers on every push (values may use ${ENV}).'),
  tls: tlsOptions(true),
  batch: z
    .strictObject({
      max_bytes: size(
        'Flush a push at this many bytes of log lines (before compression).',
      ).prefault('1MiB'),
      max_wait: duration('... or when its oldest record waited this long.').prefault('1s'),
    })
    .prefault({})
    .describe('Push sizing.'),
  workers: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe(
      'Pushes in flight at once. 1 keeps each stream in order; more raises throughput, and Loki accepts entries up to 1h out of order per stream.',
    ),
  rate_limit: rateLimit,
  timeout: duration('Time allowed for one push (until the response headers and body).').prefault(
    '10s',
  ),
  reject_older_than: duration(
    "Entries older than this are dead-lettered without sending (Loki's reject_old_samples_max_age); 0 = send everything.",
  ).prefault('7d'),
  max_line_bytes: size(
    "Lines longer than this are truncated before sending and counted (Loki's max_line_size; it rejects longer ones).",
  ).prefault('256KB'),
});

export type LokiOptions = z.output<typeof options>;
