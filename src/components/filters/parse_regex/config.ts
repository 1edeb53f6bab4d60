import { z } from 'zod';
import { parseOptions, typesOption } from '../_shared/parse.js';

export const options = z.object({
  pattern: z
    .string()
    .min(1)
    .describe(
      'JavaScript regular expression with named groups, e.g. ^(?<client>\\S+) \\S+ (?<user>\\S+) \\[(?<time>[^\\]]+)\\] "(?<method>\\S+) (?<path>\\S*)[^"]*" (?<status>\\d{3}) (?<bytes>\\d+|-). Unnamed groups are ignored.',
    ),
  types: typesOption,
  skip_empty: z
    .boolean()
    .default(true)
    .describe('Leave out named groups that did not take part in the match or matched "" / "-".'),
  ...parseOptions,
});
