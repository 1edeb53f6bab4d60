import { z } from 'zod';
import { parseOptions, typesOption } from '../_shared/parse.js';

export const options = z.object({
  types: typesOption,
  auto_types: z
    .boolean()
    .default(false)
    .describe(
      'Turn unquoted true/false into booleans and unquoted decimal numbers into numbers (quoted values stay strings).',
    ),
  ...parseOptions,
});
