// Options of the `journald` input. Everything here ends up as journalctl arguments (see args.ts)
// or as record-mapping choices (see map.ts); nothing is read from the journal at config time.

import { z } from 'zod';
import { duration, size } from '../../../core/units.js';

/** syslog severities, index = PRIORITY value (journalctl's own names for `-p`). */
export const PRIORITY_NAMES = [
  'emerg',
  'alert',
  'crit',
  'err',
  'warning',
  'notice',
  'info',
  'debug',
] as const;

/** Journal field names: upper-case letters, digits and underscores (sd-journal's rule). */
export const FIELD_NAME = /^[A-Z0-9_]+$/;

export const options = z.object({
  journalctl_path: z
    .string()
    .min(1)
    .default('journalctl')
    .describe('The journalctl binary: a name looked up in PATH, or an absolute path.'),
  journal_directory: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Read the journal files in this directory (`--directory`), e.g. a host journal mounted into a container. Default: the system journal.',
    ),
  files: z
    .array(z.string().min(1))
    .optional()
    .describe(
      'Read these journal files (`--file`, globs allowed) instead of a directory. Excludes journal_directory.',
    ),
  read_from: z
    .string()
    .min(1)
    .default('tail')
    .describe(
      'Where to start when no cursor was saved: tail (new entries only), head (everything stored), an RFC 3339 time, or a duration to look back (`1h`).',
    ),
  units: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Only entries of these systemd units (`_SYSTEMD_UNIT=` matches; a name without a dot gets `.service`). Empty: all units.',
    ),
  exclude_units: z
    .array(z.string().min(1))
    .default([])
    .describe('Drop entries of these systemd units (same naming as `units`).'),
  matches: z
    .record(
      z.string().regex(FIELD_NAME, 'a journal field name (A-Z, 0-9, _)'),
      z.union([z.string(), z.array(z.string()).min(1)]),
    )
    .default({})
    .describe(
      'Field matches, `FIELD: value` or `FIELD: [v1, v2]`: values of one field are ORed, different fields ANDed (journalctl match semantics).',
    ),
  priority: z
    .union([z.enum(PRIORITY_NAMES), z.number().int().min(0).max(7)])
    .optional()
    .describe(
      'Only entries at this severity or more severe (emerg, alert, crit, err, warning, notice, info, debug, or 0-7). Default: all.',
    ),
  fields: z
    .union([z.enum(['all', 'common']), z.array(z.string().regex(FIELD_NAME)).min(0)])
    .default('all')
    .describe(
      'Journal fields kept under `journal.` besides the mapped ones (message, level, unit, hostname, pid, syslog_identifier): all, common (transport, command, uid, boot id, code location, …), or a list of field names.',
    ),
  current_boot_only: z
    .boolean()
    .default(false)
    .describe(
      'Only entries of the current boot (`--boot`). Default false: entries of earlier boots after the saved cursor are read too (`--merge`).',
    ),
  max_field_bytes: size(
    'Journal field values (MESSAGE included) longer than this are cut to it; the record lists the cut fields in `journal_truncated`. journalctl itself prints fields over 4096 bytes as null unless --all (used here).',
  ).prefault('64KiB'),
  max_entry_bytes: size(
    'An entry whose journalctl JSON line is longer than this is skipped (its cursor is passed, it is counted as dropped with reason="oversized" and logged): an unprivileged local user may log a 32 MiB field, and parsing such lines exhausted the heap.',
  ).prefault('1MiB'),
  restart_delay: duration(
    'First delay before respawning journalctl after it exits; doubles per consecutive failure.',
  ).prefault('1s'),
  restart_max_delay: duration('Largest delay between journalctl respawns.').prefault('60s'),
  extra_args: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Extra journalctl arguments, e.g. `--namespace=*`. Must not change the output format or the position options.',
    ),
});

export type JournaldConfig = z.output<typeof options>;
