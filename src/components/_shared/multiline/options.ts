// The `multiline` option shape shared by the file input's `multiline` key and the `multiline`
// filter: one schema, one engine (engine.ts), one set of parsers (parsers.ts).

import { z } from 'zod';
import { duration, size } from '../../../core/units.js';

export const PARSER_NAMES = ['java', 'python', 'go', 'ruby', 'dotnet', 'regex'] as const;
export type ParserName = (typeof PARSER_NAMES)[number];

export const multilineShape = {
  parsers: z
    .array(z.enum(PARSER_NAMES))
    .default([])
    .describe(
      'Built-in parsers, tried in order: java, python, go, ruby, dotnet (stack traces in their real formats), regex (start_pattern/continue_pattern). Empty: regex.',
    ),
  start_pattern: z
    .string()
    .optional()
    .describe(
      'Regex matching the first line of a record. Alone: every other line joins the record before it. With continue_pattern: only lines matching continue_pattern join; other lines are records of their own.',
    ),
  continue_pattern: z
    .string()
    .optional()
    .describe(
      'Regex matching continuation lines (e.g. `^\\s`); they join the line before. Backreferences are refused; a pattern with lookaround sees the first 1 KiB of a line.',
    ),
  max_lines: z
    .number()
    .int()
    .min(1)
    .default(500)
    .describe(
      'A record is emitted once it has this many lines; further continuation lines form the next piece (both flagged `truncated: true`).',
    ),
  max_bytes: size('A record is emitted once it is this large (same as max_lines).').prefault(
    '1MiB',
  ),
  flush_timeout: duration(
    'A record is emitted when no line joined it for this long (the end of a trace is only known when the next line arrives).',
  ).prefault('1s'),
  timeout: duration('Older name of flush_timeout (wins when set).').optional(),
};

export const multilineOptions = z
  .object(multilineShape)
  .describe(
    'Join lines into one record (stack traces): built-in `parsers`, or start_pattern / continue_pattern.',
  );

export type MultilineOptions = z.output<typeof multilineOptions>;
