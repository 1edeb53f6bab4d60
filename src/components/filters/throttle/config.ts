import { z } from 'zod';
import { duration } from '../../../core/units.js';

export const options = z.object({
  key: z
    .string()
    .min(1)
    .default('{tag}')
    .describe(
      'Template of the rate-limit key, e.g. "{kubernetes.namespace_name}/{kubernetes.pod_name}"; {tag} is the record tag.',
    ),
  rate: z.number().positive().default(100).describe('Records per second each key may sustain.'),
  burst: z
    .number()
    .min(0)
    .optional()
    .describe(
      'Records a key may send at once above the sustained rate (the token bucket size). Default: one second of rate.',
    ),
  action: z
    .enum(['drop', 'block'])
    .default('drop')
    .describe(
      'drop: drop records over the limit (counted per key, summarised periodically). block: pass them but make the inputs wait until the key is back under its rate (backpressure; the input pauses for all its keys).',
    ),
  max_keys: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe(
      'Keys tracked at once; the least recently seen key is forgotten beyond this (a key explosion cannot exhaust memory).',
    ),
  summary_interval: duration('How often dropped-record counts are summarised.').prefault('60s'),
  emit_summary: z
    .boolean()
    .default(false)
    .describe(
      'Also put one summary record per throttled key ("N records dropped for key K") into the stream, with the next batch.',
    ),
  max_block: duration('action: block waits at most this long per batch.').prefault('10s'),
});
