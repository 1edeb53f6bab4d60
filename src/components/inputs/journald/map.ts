// journalctl `--output=json` lines → records. Pure, synchronous, one call per batch of lines.
//
// journalctl's JSON: every value is a string, except binary values (not valid UTF-8, or
// containing control characters) which are arrays of byte numbers, repeated fields which are
// arrays of those, and fields over 4096 bytes which are null unless `--all` is given (it is).
// `__REALTIME_TIMESTAMP` is microseconds since the epoch, as a string.

import type { Fields, LogRecord } from '../../../core/record.js';
import { PRIORITY_NAMES, type JournaldConfig } from './config.js';
import { COMMON_FIELDS, unitName } from './args.js';

/** Fields that become top-level record fields (or the time / sourceId) and leave `journal`. */
const CONSUMED = new Set([
  'MESSAGE',
  'PRIORITY',
  '_SYSTEMD_UNIT',
  '_HOSTNAME',
  '_PID',
  'SYSLOG_IDENTIFIER',
  '__CURSOR',
  '__REALTIME_TIMESTAMP',
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A journal value as text: byte arrays decoded as UTF-8, or base64 when they are not text. At
 * most `max` bytes of the value are kept (`cut` says a value was longer).
 */
function decodeValue(
  v: unknown,
  max = Infinity,
): { text: string; binary: boolean; cut: boolean } | undefined {
  if (typeof v === 'string') {
    if (v.length * 3 <= max || Buffer.byteLength(v) <= max)
      return { text: v, binary: false, cut: false };
    return { text: cutUtf8(v, max), binary: false, cut: true };
  }
  if (Array.isArray(v) && (v.length === 0 || typeof v[0] === 'number')) {
    const cut = v.length > max;
    const buf = Buffer.from((cut ? v.slice(0, max) : v) as number[]);
    try {
      return { text: utf8.decode(buf), binary: false, cut };
    } catch {
      // A cut may split a UTF-8 sequence: text with a cut-off last character is still text.
      if (cut) {
        const text = buf.toString('utf8').replace(/\uFFFD$/, '');
        if (!text.includes('\uFFFD')) return { text, binary: false, cut };
      }
      return { text: buf.toString('base64'), binary: true, cut };
    }
  }
  return undefined;
}

/** The longest prefix of `s` that is at most `max` UTF-8 bytes (no split character). */
function cutUtf8(s: string, max: number): string {
  const buf = Buffer.from(s);
  let end = Math.min(max, buf.length);
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

export interface MapStats {
  /** Lines that were not a JSON object with a __CURSOR: counted and skipped. */
  malformed: number;
  /** Entries dropped by exclude_units. */
  excluded: number;
  /** Entries over max_entry_bytes: skipped, their cursor passed. */
  oversized: number;
  /** Entries with at least one field cut at max_field_bytes. */
  truncated: number;
}

export interface MapResult {
  records: LogRecord[];
  /** Approximate in-memory bytes of `records`. */
  bytes: number;
  /** Cursor of the last well-formed entry among the lines (kept or excluded), if any. */
  cursor: string | undefined;
}

export class JournalMapper {
  private readonly exclude: Set<string> | undefined;
  private readonly keep: 'all' | Set<string>;
  readonly stats: MapStats = { malformed: 0, excluded: 0, oversized: 0, truncated: 0 };
  private readonly maxField: number;
  /** Example of the last malformed line (truncated), for a rate-limited log. */
  lastMalformed: string | undefined;

  constructor(
    config: Pick<JournaldConfig, 'fields' | 'exclude_units'> &
      Partial<Pick<JournaldConfig, 'max_field_bytes'>>,
  ) {
    this.maxField = config.max_field_bytes ?? 64 * 1024;
    this.exclude =
      config.exclude_units.length > 0 ? new Set(config.exclude_units.map(unitName)) : undefined;
    this.keep =
      config.fields === 'all'
        ? 'all'
        : new Set<string>(config.fields === 'common' ? COMMON_FIELDS : config.fields);
  }

  /**
   * An entry over max_entry_bytes (split.ts): skipped, but its cursor moves the position past it,
   * so a restart does not meet it again. Without a cursor the next entry's moves it.
   */
  skipOversized(cursor: string | undefined, out: MapResult): void {
    if (cursor !== undefined) out.cursor = cursor;
    this.stats.oversized++;
  }

  /** Map JSON lines; appends to `out.records`. */
  mapLines(lines: readonly string[], out: MapResult): void {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.length === 0) continue;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.malformed(line);
        continue;
      }
      const cursor = entry?.__CURSOR;
      if (typeof cursor !== 'string' || typeof entry !== 'object' || Array.isArray(entry)) {
        this.malformed(line);
        continue;
      }
      out.cursor = cursor;
      if (this.exclude !== undefined) {
        const u = entry._SYSTEMD_UNIT;
        if (typeof u === 'string' && this.exclude.has(u)) {
          this.stats.excluded++;
          continue;
        }
      }
      out.records.push(this.toRecord(entry, cursor));
      out.bytes += line.length + 256;
    }
  }

  toRecord(entry: Record<string, unknown>, cursor: string): LogRecord {
    const fields: Fields = {};
    const max = this.maxField;
    let cutNames: string[] | undefined;
    const msg = entry.MESSAGE;
    if (msg !== undefined && msg !== null) {
      if (Array.isArray(msg) && msg.length > 0 && typeof msg[0] !== 'number') {
        // Repeated MESSAGE (rare): keep every value, one per line.
        let binary = false;
        const parts: string[] = [];
        let cut = false;
        for (const m of msg) {
          const d = decodeValue(m, max);
          if (d) {
            parts.push(d.text);
            binary ||= d.binary;
            cut ||= d.cut;
          }
        }
        if (cut) (cutNames ??= []).push('MESSAGE');
        fields.message = parts.join('\n');
        if (binary) fields.message_binary = true;
      } else {
        const d = decodeValue(msg, max);
        if (d) {
          fields.message = d.text;
          if (d.binary) fields.message_binary = true;
          if (d.cut) (cutNames ??= []).push('MESSAGE');
        }
      }
    } else {
      fields.message = '';
    }
    const prio = firstText(entry.PRIORITY);
    if (prio !== undefined) {
      const n = prio.length === 1 ? prio.charCodeAt(0) - 48 : -1;
      if (n >= 0 && n <= 7) fields.level = PRIORITY_NAMES[n];
    }
    const unit = firstText(entry._SYSTEMD_UNIT);
    if (unit !== undefined) fields.unit = unit;
    const host = firstText(entry._HOSTNAME);
    if (host !== undefined) fields.hostname = host;
    const pid = firstText(entry._PID);
    if (pid !== undefined) {
      const n = Number(pid);
      fields.pid = Number.isInteger(n) ? n : pid;
    }
    const ident = firstText(entry.SYSLOG_IDENTIFIER);
    if (ident !== undefined) fields.syslog_identifier = ident;

    let journal: Fields | undefined;
    let binaryNames: string[] | undefined;
    for (const key in entry) {
      if (CONSUMED.has(key)) continue;
      if (this.keep !== 'all' && !this.keep.has(key)) continue;
      const v = entry[key];
      let value: unknown = v;
      if (typeof v === 'string') {
        const d = decodeValue(v, max)!;
        value = d.text;
        if (d.cut) (cutNames ??= []).push(key);
      } else if (Array.isArray(v)) {
        if (v.length === 0 || typeof v[0] === 'number') {
          const d = decodeValue(v, max)!;
          value = d.text;
          if (d.binary) (binaryNames ??= []).push(key);
          if (d.cut) (cutNames ??= []).push(key);
        } else {
          // Repeated field: an array of values, each a string or a byte array.
          let binary = false;
          let cut = false;
          value = v.map((x) => {
            const d = decodeValue(x, max);
            if (d?.binary) binary = true;
            if (d?.cut) cut = true;
            return d ? d.text : x;
          });
          if (binary) (binaryNames ??= []).push(key);
          if (cut) (cutNames ??= []).push(key);
        }
      }
      (journal ??= {})[key] = value;
    }
    if (journal) fields.journal = journal;
    if (binaryNames) fields.journal_binary = binaryNames;
    if (cutNames) {
      fields.journal_truncated = cutNames;
      this.stats.truncated++;
    }

    let timeMs: number;
    let timeNs = 0;
    const rt = entry.__REALTIME_TIMESTAMP;
    const us = typeof rt === 'string' ? Number(rt) : NaN;
    if (Number.isSafeInteger(us) && us >= 0) {
      // µs since the epoch stay exact in a double until year 2255.
      timeMs = Math.floor(us / 1000);
      timeNs = (us % 1000) * 1000;
    } else {
      timeMs = Date.now();
    }
    return { fields, timeMs, timeNs, sourceId: `journald:${cursor}` };
  }

  private malformed(line: string): void {
    this.stats.malformed++;
    this.lastMalformed = line.length > 200 ? `${line.slice(0, 200)}…` : line;
  }
}

function firstText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length > 0) {
    const d = decodeValue(typeof v[0] === 'number' ? v : v[0]);
    return d?.text;
  }
  return undefined;
}
