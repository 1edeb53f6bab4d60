import { z } from 'zod';
import { parseOptions } from '../_shared/parse.js';

export const options = z.object({
  ...parseOptions,
  max_depth: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(64)
    .describe(
      'Nesting deeper than this is a parse error: deeply nested JSON would overflow the stack of later serialisation.',
    ),
});
