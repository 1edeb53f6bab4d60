import { z } from 'zod';

export const options = z.object({
  include: z
    .record(z.string().min(1), z.string())
    .default({})
    .describe(
      'Keep only records where EVERY listed field matches its regex: { level: "^(warn|error)$" }. A missing field does not match.',
    ),
  exclude: z
    .record(z.string().min(1), z.string())
    .default({})
    .describe(
      'Drop records where ANY listed field matches its regex: { path: "^/healthz" }. Applied after include.',
    ),
  max_length: z
    .number()
    .int()
    .min(1)
    .default(65_536)
    .describe('Only the first this-many characters of a value are tested.'),
});
