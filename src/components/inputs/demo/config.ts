import { z } from 'zod';

export const options = z.object({
  rate: z.number().min(0).default(10).describe('Records per second; 0 = as fast as possible.'),
  count: z.number().int().min(0).default(0).describe('Stop after this many records; 0 = never.'),
  batch_size: z
    .number()
    .int()
    .min(1)
    .max(65536)
    .default(1024)
    .describe('Records per emitted batch (at most).'),
  format: z
    .enum(['record', 'line'])
    .default('record')
    .describe(
      'record: structured fields like parsed agent logs; line: the same as a JSON text in `message`, as a file input reads it.',
    ),
  seed: z.number().int().default(1).describe('Seed of the deterministic generator.'),
});
