import { z } from 'zod';
import { parseOptions } from '../_shared/parse.js';

export const options = z.object({
  ...parseOptions,
  max_depth: z
    .number()
    .int()
    .min(1)
    // V8's JSON.stringify overflows its stack at ~5,000 levels; outputs serialise records.
    .max(1000)
    .default(64)
    .describe(
      'Nesting deeper than this is a parse error: deeply nested JSON would overflow the stack of later serialisation (at most 1000).',
    ),
});
