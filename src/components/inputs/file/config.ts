// Options of the `file` input. Sizes are bytes and durations milliseconds once parsed.

import { z } from 'zod';
import { duration, size } from '../../../core/units.js';
import { multilineOptions as multiline } from '../../_shared/multiline/index.js';

export const options = z.object({
  paths: z
    .array(z.string().min(1))
    .min(1)
    .describe(
      'Files to tail: absolute paths or globs (`*`, `?`, `**`, `{a,b}`, `[abc]`). Relative paths resolve against the working directory.',
    ),
  exclude: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Globs of files to skip. A pattern without `/` matches the file name (`*.gz`), otherwise the full path.',
    ),
  read_from: z
    .enum(['head', 'tail'])
    .default('head')
    .describe(
      'Where to start in a file without a checkpoint that exists at start-up. Files that appear later are always read from the head.',
    ),
  max_line_bytes: size(
    'Longer lines are cut, flagged with `truncated: true` and counted.',
  ).prefault('64KiB'),
  multiline: multiline.optional(),
  encoding: z
    .enum(['utf-8', 'latin1'])
    .default('utf-8')
    .describe('Text encoding of the files. Invalid UTF-8 bytes become U+FFFD.'),
  ignore_older_than: duration(
    'Skip files (without a checkpoint) not modified for this long; 0 = never skip.',
  ).prefault('0'),
  close_inactive: duration(
    'Close the handle of a file that did not grow for this long; it is reopened when it grows.',
  ).prefault('5m'),
  max_open_files: z
    .number()
    .int()
    .min(1)
    .default(1024)
    .describe(
      'At most this many files are open. At the limit the file that held its slot longest gives it up (closed at its position, reopened when it grows): slots rotate among busy files.',
    ),
  rotate_wait: duration(
    'After a file was renamed or deleted, keep reading it until it did not grow for this long. Also how long an unterminated last line is held.',
  ).prefault('5s'),
  fingerprint_bytes: size(
    'Bytes at the start of a file hashed into its identity (with device and inode).',
  ).prefault('1KiB'),
  scan_interval: duration(
    'Rescan the globs this often (watch events also trigger scans; the rescan catches missed events).',
  ).prefault('1s'),
  read_buffer: size('Bytes read per read call; one read becomes one batch.').prefault('64KiB'),
  follow_symlinks: z
    .boolean()
    .default(false)
    .describe(
      "Read files that the globs match through a symlink. Off: symlinks are skipped (a `.log` symlink in an app-writable directory must not ship another file). On: only when the link's target is under the glob's base directory (the literal part before the first wildcard).",
    ),
});

export type FileInputConfig = z.output<typeof options>;
