// Routing templates only over trusted fields (#17.11). A `{field}` in a Loki tenant or an
// Elasticsearch index / data stream / document id lets whoever writes that field choose where a
// record goes, with shiplog's credentials: a log producer could write into another tenant or
// index, or pre-claim document ids (a later record's 409 would then count as delivered). Only
// metadata the inputs set (and parse filters do not overwrite by default) is trusted: the
// `kubernetes.*` fields (from the API server) and `file.*` (the path). Anything else must be
// listed in the output's `trusted_fields` (say so only when no log producer can set it).

import { invalidConfig as invalid } from '../../../core/errors.js';

export const TRUSTED_ROOTS = ['kubernetes', 'file'] as const;

export const trustedFieldsDescription =
  'Record fields (dotted paths) that routing templates ({field} in tenant / index / data_stream / document_id) may use besides kubernetes.* and file.*. Only list fields no log producer can set: a template over a field a log line controls lets that line choose the tenant or index.';

/** Throws a config error naming `key` when `fields` holds one not trusted. */
export function checkTrusted(key: string, fields: readonly string[], trusted: readonly string[]) {
  for (const f of fields) {
    const root = f.split('.')[0];
    if ((TRUSTED_ROOTS as readonly string[]).includes(root)) continue;
    if (trusted.some((t) => f === t || f.startsWith(`${t}.`))) continue;
    throw invalid(
      key,
      `{${f}} is a record field a log producer may set: it would choose where records go. Use kubernetes.* or file.* metadata, or add "${f}" to trusted_fields if no log line can set it`,
    );
  }
}
