import { z } from 'zod';
import { MAX_LABEL_VALUE } from '../../_shared/loki-labels/index.js';

const entry = z.union([
  z.string().min(1),
  z
    .strictObject({
      field: z.string().min(1).describe('Field to read (dotted path).'),
      name: z
        .string()
        .min(1)
        .optional()
        .describe('Label name. Default: the field path with invalid characters replaced by _.'),
      lowercase: z.boolean().default(false).describe('Lowercase the value.'),
      map: z
        .record(z.string(), z.string())
        .default({})
        .describe('Replace values, after lowercasing: { warning: warn }.'),
    })
    .describe('A field promoted to a label, with its own name and value normalisation.'),
]);

export const options = z.object({
  from: z
    .array(entry)
    .min(1)
    .describe(
      'Fields to promote to output labels: names (`level`, `kubernetes.namespace_name`) or { field, name, lowercase, map }.',
    ),
  normalize_level: z
    .boolean()
    .default(true)
    .describe(
      'For labels named level or severity: lowercase and map aliases (WARNING → warn, ERR → error, FATAL/CRIT → critical, syslog 0-7).',
    ),
  max_values_per_label: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe(
      'Cardinality guard: distinct values admitted per label; later new values become `_other` (counted, logged once per label).',
    ),
  max_value_length: z
    .number()
    .int()
    .min(1)
    .max(MAX_LABEL_VALUE)
    .default(256)
    .describe("Longer values are cut to this many UTF-8 bytes (Loki's limit is 2048)."),
  remove_fields: z
    .boolean()
    .default(false)
    .describe('Remove the promoted fields from the record (they still appear as labels).'),
});
