// journalctl's command line, built from the config and a start position. Pure: tested offline.
//
// Facts that shape it (checked against systemd 252):
// - `--follow` prints only the last 10 entries unless `--no-tail` is given, even together with
//   `--after-cursor`: without `--no-tail` a resumed reader silently skips entries.
// - `--follow` implies the current boot on systemd 250–257 unless `--merge` (or an explicit
//   `--boot`) is given: a cursor from before a reboot would skip the rest of that boot.
// - `--after-cursor` and `--since` exclude each other.
// - `--after-cursor` skips one entry after seeking, and when the cursor's file was vacuumed it
//   skips one more (#23.9): resuming uses `--cursor` (inclusive) and the reader drops entries not
//   after the saved cursor (cursor.ts).

import { parseDuration } from '../../../core/units.js';
import { PRIORITY_NAMES, type JournaldConfig } from './config.js';

/** Fields the mapping always needs (see map.ts); journalctl adds __CURSOR and timestamps itself. */
export const MAPPED_FIELDS = [
  'MESSAGE',
  'PRIORITY',
  '_SYSTEMD_UNIT',
  '_HOSTNAME',
  '_PID',
  'SYSLOG_IDENTIFIER',
] as const;

/** `fields: common`: what people filter and search on, without the bulky or redundant rest. */
export const COMMON_FIELDS = [
  '_TRANSPORT',
  '_COMM',
  '_EXE',
  '_CMDLINE',
  '_UID',
  '_GID',
  '_BOOT_ID',
  '_MACHINE_ID',
  '_SYSTEMD_SLICE',
  '_SYSTEMD_USER_UNIT',
  '_SYSTEMD_INVOCATION_ID',
  'SYSLOG_FACILITY',
  'MESSAGE_ID',
  'CODE_FILE',
  'CODE_LINE',
  'CODE_FUNC',
  'ERRNO',
  'CONTAINER_NAME',
  'CONTAINER_ID',
  'IMAGE_NAME',
] as const;

export type ReadFrom =
  | { kind: 'head' }
  | { kind: 'tail' }
  | { kind: 'time'; ms: number }
  | { kind: 'lookback'; ms: number };

/** `head`, `tail`, an RFC 3339 time, or a duration to look back. Undefined when invalid. */
export function parseReadFrom(v: string): ReadFrom | undefined {
  const s = v.trim();
  if (s === 'head') return { kind: 'head' };
  if (s === 'tail') return { kind: 'tail' };
  const d = parseDuration(s);
  if (d !== undefined) return { kind: 'lookback', ms: d };
  // Only full dates with a time zone (or a bare date): Date.parse is lenient otherwise.
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(s)) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return { kind: 'time', ms: t };
  }
  return undefined;
}

/** A unit name as systemd stores it in _SYSTEMD_UNIT: `nginx` means `nginx.service`. */
export function unitName(u: string): string {
  return u.includes('.') ? u : `${u}.service`;
}

export function priorityValue(p: JournaldConfig['priority']): number | undefined {
  if (p === undefined) return undefined;
  return typeof p === 'number' ? p : PRIORITY_NAMES.indexOf(p);
}

/** Journal fields to request with `--output-fields`, or undefined for all of them. */
export function outputFields(fields: JournaldConfig['fields']): string[] | undefined {
  if (fields === 'all') return undefined;
  const list = fields === 'common' ? COMMON_FIELDS : fields;
  return [...new Set<string>([...MAPPED_FIELDS, ...list])];
}

/** Source selection, boot scope, matches and output format: everything but the position. */
export function baseArgs(config: JournaldConfig): string[] {
  const args = ['--output=json', '--all', '--quiet', '--no-pager'];
  if (config.journal_directory !== undefined) args.push(`--directory=${config.journal_directory}`);
  for (const f of config.files ?? []) args.push(`--file=${f}`);
  args.push(config.current_boot_only ? '--boot' : '--merge');
  const prio = priorityValue(config.priority);
  if (prio !== undefined) args.push(`--priority=0..${prio}`);
  const of = outputFields(config.fields);
  if (of) args.push(`--output-fields=${of.join(',')}`);
  args.push(...config.extra_args);
  // Matches last: journalctl ORs values of one field and ANDs different fields.
  for (const u of config.units) args.push(`_SYSTEMD_UNIT=${unitName(u)}`);
  for (const [field, v] of Object.entries(config.matches)) {
    for (const value of Array.isArray(v) ? v : [v]) args.push(`${field}=${value}`);
  }
  return args;
}

/** Where one journalctl run starts. */
export type StartAt =
  | { cursor: string }
  | { since: ReadFrom }
  /** Nothing saved and read_from is tail but the journal was empty: everything is new. */
  | { head: true };

export function journalctlArgs(
  config: JournaldConfig,
  start: StartAt,
  opts: { follow: boolean; now?: number },
): string[] {
  const args: string[] = [];
  if (opts.follow) args.push('--follow');
  const now = opts.now ?? Date.now();
  if ('cursor' in start) {
    args.push(`--cursor=${start.cursor}`);
  } else if ('since' in start) {
    const rf = start.since;
    if (rf.kind === 'time') args.push(`--since=@${Math.floor(rf.ms / 1000)}`);
    else if (rf.kind === 'lookback') args.push(`--since=@${Math.floor((now - rf.ms) / 1000)}`);
    else if (rf.kind === 'tail') args.push('--lines=0');
  }
  // --follow would otherwise start with only the last 10 entries (see the header).
  if (opts.follow && !args.includes('--lines=0')) args.push('--no-tail');
  return [...args, ...baseArgs(config)];
}

/** Arguments that print the cursor of the newest matching entry, for `read_from: tail`. */
export function lastEntryArgs(config: JournaldConfig): string[] {
  return ['--lines=1', ...baseArgs(config)];
}
