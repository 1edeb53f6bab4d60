// Options of the `multiline` filter: the file input's `multiline` shape, plus a bound on the
// number of streams with an open record.

import { z } from 'zod';
import { multilineShape } from '../../_shared/multiline/index.js';

export const options = z.object({
  ...multilineShape,
  max_streams: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe(
      'At most this many streams hold an open record; opening one more emits the oldest held record first.',
    ),
});

export type MultilineFilterConfig = z.output<typeof options>;
