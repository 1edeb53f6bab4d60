// Pure encoding for the Elasticsearch `_bulk` API: index names from strftime (UTC) + `{field}`
// templates, deterministic document ids, and the NDJSON body (action line + source line per
// record, ending in "\n" as the API requires). No I/O; tested offline.

import type { Arena } from '../_shared/arena.js';
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { compileTemplate, type Template } from '../../../core/template.js';
import { recordJson, type LogRecord } from '../../../core/record.js';
import { extraFields, hasTop } from '../../../core/json-record.js';
import { RawExtraText } from '../_shared/raw-extra.js';

// node:crypto through require(): an ESM import of it also loads WebCrypto (issue #22).
const { hash } = createRequire(import.meta.url)('node:crypto') as typeof Crypto;

// ---------------------------------------------------------------------------------------------
// Index names

const DAY = 86_400_000;
const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/** strftime directives we support, with the time granularity (ms) each one depends on. */
const DIRECTIVES: Record<string, { unit: number; fmt: (d: Date) => string }> = {
  Y: { unit: DAY, fmt: (d) => String(d.getUTCFullYear()) },
  y: { unit: DAY, fmt: (d) => pad2(d.getUTCFullYear() % 100) },
  m: { unit: DAY, fmt: (d) => pad2(d.getUTCMonth() + 1) },
  d: { unit: DAY, fmt: (d) => pad2(d.getUTCDate()) },
  j: {
    unit: DAY,
    fmt: (d) =>
      String(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY) + 1).padStart(
        3,
        '0',
      ),
  },
  H: { unit: 3_600_000, fmt: (d) => pad2(d.getUTCHours()) },
  M: { unit: 60_000, fmt: (d) => pad2(d.getUTCMinutes()) },
  S: { unit: 1000, fmt: (d) => pad2(d.getUTCSeconds()) },
};

export interface IndexNamer {
  readonly constant: boolean;
  name(record: LogRecord): string;
}

/**
 * Compile an index template: strftime directives on the record time (UTC), then `{field}`
 * references. The result is lower-cased (Elasticsearch rejects upper-case index names).
 * The time part is cached per time unit (a day for `%Y.%m.%d`), so naming costs a division and a
 * compare per record.
 */
export function compileIndex(source: string): IndexNamer {
  type Part = string | ((d: Date) => string);
  const parts: Part[] = [];
  let lit = '';
  let unit = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c !== '%') {
      lit += c;
      continue;
    }
    const k = source[++i];
    if (k === '%') {
      lit += '%';
      continue;
    }
    const dir = k === undefined ? undefined : DIRECTIVES[k];
    if (!dir) {
      throw new Error(
        `unsupported strftime directive "%${k ?? ''}" in "${source}" (supported: %Y %y %m %d %j %H %M %S %%)`,
      );
    }
    if (lit) parts.push(lit);
    lit = '';
    parts.push(dir.fmt);
    unit = unit === 0 ? dir.unit : Math.min(unit, dir.unit);
  }
  if (lit) parts.push(lit);
  const timeFree = unit === 0;
  const renderTime = (ms: number): string => {
    const d = new Date(ms);
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(d);
    return out;
  };
  const fieldTemplates = new Map<string, Template>();
  const templateFor = (text: string): Template => {
    let t = fieldTemplates.get(text);
    if (!t) {
      t = compileTemplate(text);
      if (fieldTemplates.size < 1024) fieldTemplates.set(text, t);
    }
    return t;
  };
  // Fail at start-up on a malformed field reference.
  const probe = compileTemplate(timeFree ? source : renderTime(0));
  if (probe.constant && timeFree) {
    const constant = probe.render({}).toLowerCase();
    return { constant: true, name: () => constant };
  }
  let cacheKey = NaN;
  let cacheText = '';
  let cacheTemplate: Template = probe;
  return {
    constant: false,
    name(record: LogRecord): string {
      if (!timeFree) {
        const key = Math.floor(record.timeMs / unit);
        if (key !== cacheKey) {
          cacheKey = key;
          cacheText = renderTime(record.timeMs);
          cacheTemplate = templateFor(cacheText);
          if (cacheTemplate.constant) cacheText = cacheText.toLowerCase();
        }
        if (cacheTemplate.constant) return cacheText;
      }
      return cacheTemplate.render(record.fields).toLowerCase();
    },
  };
}

/** The data stream name `<type>-<dataset>-<namespace>`, each part a `{field}` template. */
export function dataStreamIndex(ds: { type: string; dataset: string; namespace: string }): string {
  // strftime is not meaningful for a data stream name: escape `%` so compileIndex keeps it.
  return `${ds.type}-${ds.dataset}-${ds.namespace}`.replaceAll('%', '%%');
}

// ---------------------------------------------------------------------------------------------
// Document ids

/**
 * How a record's `_id` is chosen.
 * - auto: a hash (see autoId) of `record.sourceId` — the source identity and position set
 *   by file/journald inputs — so a replay after a crash or a retry after a lost response yields the
 *   same id, and `create` answers 409 instead of indexing a second copy. Records without a
 *   sourceId (demo, stdin) fall back to a hash of their JSON and time: identical records with an
 *   identical timestamp collapse into one document, which is the price of idempotence there.
 * - none: no `_id`; Elasticsearch generates one (not idempotent).
 * - a `{field}` template.
 */
export type IdFn = ((record: LogRecord, json?: string) => string | undefined) | undefined;

export function compileId(spec: string): IdFn {
  if (spec === 'none') return undefined;
  if (spec === 'auto') return autoId;
  const t = compileTemplate(spec);
  if (t.constant) {
    throw new Error(
      `id must be auto, none or a {field} template; "${spec}" would give every document the same id`,
    );
  }
  return (record) => {
    const v = t.render(record.fields);
    return v === '' ? undefined : v;
  };
}

/**
 * A record's `_id` under `document_id: auto`, in one of two forms that never meet ('.' is not a
 * base64url character):
 * - `<h>.<offset>` for a sourceId `<head>:<offset>` (decimal digits after its last ':': the file
 *   and kubernetes inputs' `<dev>:<ino>:<fingerprint>.<nonce>:<byte offset>`): h is sha256 of
 *   the head cut to 22 base64url chars (132 bits), computed once per head (the last 1024 are
 *   kept), and the offset is copied. Distinct sourceIds give distinct ids: the same head means
 *   another offset, another head another hash. Hashing each record's sourceId cost W4 0.34 s of
 *   its main thread per 500k lines; this costs a compare and a concatenation.
 * - otherwise (journald cursors, records without a sourceId) sha256 of the sourceId, or of the
 *   record's JSON and time, cut to 27 base64url chars (162 bits: one hash per record).
 * Both are deterministic: a replay yields the ids of the first attempt. `json` may be passed when
 * the caller already serialised the record.
 */
export function autoId(record: LogRecord, json?: string): string {
  const sid = record.sourceId;
  if (sid === undefined)
    return hash(
      'sha256',
      `${json ?? recordJson(record)}\n${record.timeMs}.${record.timeNs}`,
      'base64url',
    ).slice(0, 27);
  const at = offsetAt(sid);
  if (at >= 0) return lastHash + sid.slice(at);
  return hash('sha256', sid, 'base64url').slice(0, 27);
}

/**
 * Where the offset of a `<head>:<offset>` sourceId starts, its head's hash (with the '.') left in
 * `lastHash`; -1 for any other sourceId.
 */
function offsetAt(sid: string): number {
  // The head of the last sourceId, when its offsets follow (a file read in order).
  const h = lastHead.length;
  if (
    lastHash !== '' &&
    sid.length > h + 1 &&
    sid.charCodeAt(h) === 58 &&
    sid.startsWith(lastHead) &&
    digitsFrom(sid, h + 1)
  )
    return h + 1;
  const colon = sid.lastIndexOf(':');
  if (colon < 0 || !digitsFrom(sid, colon + 1)) return -1;
  const head = sid.slice(0, colon);
  let hashed = heads.get(head);
  if (hashed === undefined) {
    hashed = hash('sha256', head, 'base64url').slice(0, 22) + '.';
    if (heads.size >= 1024) heads.clear();
    heads.set(head, hashed);
  }
  lastHead = head;
  lastHash = hashed;
  return colon + 1;
}

/** The head of the last `<head>:<offset>` sourceId, and its hash with the '.' (autoId). */
let lastHead = '';
let lastHash = '';
/** The hashes of recent heads (records of several files interleave: kubernetes pods). */
const heads = new Map<string, string>();

/** `s[from..]` is 1 to 20 decimal digits (a byte offset; an `_id` stays far under 512 bytes). */
function digitsFrom(s: string, from: number): boolean {
  const n = s.length;
  if (n - from > 20 || n === from) return false;
  for (let i = from; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Bulk body

export interface BulkEncoder {
  /**
   * The NDJSON body for `records`, ending in "\n". `ids` receives the `_id` sent for each record
   * (undefined with `id: none`).
   */
  encode(records: readonly LogRecord[], ids?: Array<string | undefined>): Buffer;
  /**
   * Append the action and document lines of `records[from, to)` to `arena`, pushing where each
   * record's lines end (arena offsets) to `ends` (sealing: the chunk is encoded as it fills).
   */
  encodeInto(
    records: readonly LogRecord[],
    from: number,
    to: number,
    arena: Arena,
    ends: number[],
  ): void;
  /** Cheap estimate of one record's share of the body, for batching by bytes. */
  measure(record: LogRecord): number;
}

export interface BulkOptions {
  index: IndexNamer;
  action: 'create' | 'index';
  id: IdFn;
  /** Field for the record time; '' to leave documents as they are. */
  timeKey: string;
}

/** RFC 3339 with nanoseconds when the record has sub-millisecond precision. */
export function rfc3339(timeMs: number, timeNs: number): string {
  const iso = new Date(timeMs).toISOString();
  if (!timeNs) return iso;
  return `${iso.slice(0, 23)}${String(timeNs).padStart(6, '0')}Z`;
}

/**
 * `new Date(ms).toISOString()` for record times, without a Date per record: the text up to the
 * seconds is kept per second (records come in time order), the milliseconds appended.
 */
export class IsoMs {
  private sec = NaN;
  private head = '';

  format(ms: number): string {
    // Fractions (Date truncates them), out of range or NaN (Date throws): as Date does it.
    if (!Number.isInteger(ms) || Math.abs(ms) > 8.64e15) return new Date(ms).toISOString();
    const sec = Math.floor(ms / 1000);
    if (sec !== this.sec) {
      const full = new Date(sec * 1000).toISOString(); // …:SS.000Z
      this.head = full.slice(0, full.length - 4);
      this.sec = sec;
    }
    const m = ms - sec * 1000;
    return this.head + (m < 10 ? '00' : m < 100 ? '0' : '') + m + 'Z';
  }

  private headBytes = Buffer.alloc(0);
  private bytesSec = NaN;

  /** `format(ms)` written into `buf` at `at` (room for 40 bytes); returns where it ends. */
  write(buf: Buffer, at: number, ms: number): number {
    if (!Number.isInteger(ms) || Math.abs(ms) > 8.64e15)
      return at + buf.write(this.format(ms), at, 'latin1');
    const sec = Math.floor(ms / 1000);
    if (sec !== this.bytesSec) {
      const full = new Date(sec * 1000).toISOString();
      this.headBytes = Buffer.from(full.slice(0, full.length - 4), 'latin1');
      this.bytesSec = sec;
    }
    const h = this.headBytes;
    for (let i = 0; i < h.length; i++) buf[at++] = h[i];
    const m = ms - sec * 1000;
    buf[at] = 48 + Math.floor(m / 100);
    buf[at + 1] = 48 + (Math.floor(m / 10) % 10);
    buf[at + 2] = 48 + (m % 10);
    buf[at + 3] = 90; // Z
    return at + 4;
  }
}

const SAFE = /^[A-Za-z0-9_.+\-:]*$/;
const jsonStr = (s: string): string => (SAFE.test(s) ? `"${s}"` : JSON.stringify(s));

export function createBulkEncoder(o: BulkOptions): BulkEncoder {
  // `{"create":{"_index":"x"` per index name, built once.
  const prefixes = new Map<string, string>();
  const prefixFor = (index: string): string => {
    let p = prefixes.get(index);
    if (p === undefined) {
      p = `{"${o.action}":{"_index":${jsonStr(index)}`;
      if (prefixes.size > 4096) prefixes.clear();
      prefixes.set(index, p);
    }
    return p;
  };
  // autoId's base64url ids need no escaping: no SAFE test per record.
  const idJson = o.id === autoId ? (id: string): string => `"${id}"` : jsonStr;
  const timeKey = o.timeKey;
  const timeKeyJson = timeKey ? `{${JSON.stringify(timeKey)}:"` : '';
  const iso = new IsoMs();
  // Whether a record has the time key: read from a lazy record's spans (json-record.ts).
  const timeKeySafe = !(timeKey in Object.prototype);
  const hasTime = (r: LogRecord): boolean =>
    timeKeySafe ? hasTop(r, timeKey) : timeKey in r.fields;
  const document = (r: LogRecord, json: string): string => {
    if (!timeKey || hasTime(r) || json.length < 2 || json.charCodeAt(0) !== 123) {
      return json;
    }
    let t: string;
    if (r.timeNs) t = rfc3339(r.timeMs, r.timeNs);
    else t = iso.format(r.timeMs);
    // Splice the time in front of the existing members: no re-serialisation of the record.
    return json.length === 2 ? `${timeKeyJson}${t}"}` : `${timeKeyJson}${t}",${json.slice(1)}`;
  };
  const entry = (r: LogRecord, ids: Array<string | undefined> | undefined, i: number): string => {
    const json = recordJson(r);
    const id = o.id?.(r, json);
    if (ids) ids[i] = id;
    return (
      prefixFor(o.index.name(r)) +
      (id === undefined ? '}}\n' : `,"_id":${idJson(id)}}}\n`) +
      document(r, json) +
      '\n'
    );
  };
  const extra = new RawExtraText();
  const auto = o.id === autoId;
  const timeKeyBytes = Buffer.from(timeKeyJson, 'utf8');
  // `{"create":{"_index":"<index>","_id":"<hash>.` of the last auto id: the action line up to the
  // offset, the same for every line of a file (autoId).
  let headIndex = '';
  let headHash = '';
  let headBytes = Buffer.alloc(0);
  /**
   * A record with raw JSON text (`{` first, `}` last, at least one member) written into the arena
   * without building its lines: the action line, then the raw text once (the time member spliced
   * in front by overwriting its `{`), then the input metadata members in place of its `}`. The
   * same bytes as `entry`. False (nothing written) for any other record. With an auto id from a
   * file position and a millisecond time, the action line and the time are written as bytes (the
   * cached head, the offset's digits, the time): no string per record to build, flatten and
   * encode (0.12 s of W4's main thread per 500k lines flattened those strings).
   */
  const writeRaw = (r: LogRecord, arena: Arena): boolean => {
    const raw = r.raw;
    if (raw === undefined) return false;
    const n = raw.length;
    if (n < 3 || raw.charCodeAt(0) !== 123 || raw.charCodeAt(n - 1) !== 125) return false;
    let k = n - 2;
    let c = raw.charCodeAt(k);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = raw.charCodeAt(--k);
    if (c === 123) return false; // an empty object: the string path
    const splice = timeKey !== '' && !hasTime(r);
    const sid = r.sourceId;
    const off = auto && sid !== undefined && !(splice && r.timeNs) ? offsetAt(sid) : -1;
    let head = '';
    if (off < 0) {
      const id = o.id?.(r);
      head = prefixFor(o.index.name(r)) + (id === undefined ? '}}\n' : `,"_id":${idJson(id)}}}\n`);
      if (splice) {
        let t: string;
        if (r.timeNs) t = rfc3339(r.timeMs, r.timeNs);
        else t = iso.format(r.timeMs);
        head += timeKeyJson + t + '"';
      }
    } else {
      const index = o.index.name(r);
      if (index !== headIndex || lastHash !== headHash || headBytes.length === 0) {
        headBytes = Buffer.from(prefixFor(index) + ',"_id":"' + lastHash, 'utf8');
        headIndex = index;
        headHash = lastHash;
      }
    }
    const closing =
      r.rawExtra === undefined
        ? undefined
        : extra.closing(extra.members(extraFields(r), r.rawExtra));
    // Worst case 3 bytes per UTF-16 unit; the byte head: its bytes, the offset, the time.
    arena.ensure(
      (head.length + n + (closing?.length ?? 0)) * 3 +
        (off < 0 ? 1 : headBytes.length + timeKeyBytes.length + 80),
    );
    const b = arena.buf;
    let at = arena.used;
    if (off < 0) at += b.write(head, at, 'utf8');
    else {
      b.set(headBytes, at);
      at += headBytes.length;
      for (let i = off; i < sid!.length; i++) b[at++] = sid!.charCodeAt(i);
      b[at++] = 34; // "}}\n
      b[at++] = 125;
      b[at++] = 125;
      b[at++] = 10;
      if (splice) {
        b.set(timeKeyBytes, at);
        at = iso.write(b, at + timeKeyBytes.length, r.timeMs);
        b[at++] = 34;
      }
    }
    const rawAt = at;
    at += b.write(raw, at, 'utf8');
    if (splice) b[rawAt] = 44; // , after the time member, in place of the raw text's {
    if (closing !== undefined && closing.length > 1) {
      at--; // the raw text's }
      at += b.write(closing, at, 'utf8');
    }
    b[at++] = 10;
    arena.used = at;
    return true;
  };
  return {
    encodeInto(records, from, to, arena, ends) {
      for (let i = from; i < to; i++) {
        const r = records[i];
        if (!writeRaw(r, arena)) {
          const e = entry(r, undefined, i);
          // Worst case 3 bytes per UTF-16 unit.
          arena.ensure(e.length * 3);
          arena.used += arena.buf.write(e, arena.used, 'utf8');
        }
        ends.push(arena.used);
      }
    },
    encode(records, ids) {
      // One utf8 write per record into a growing Buffer: no multi-megabyte rope to flatten, and
      // the bytes go to the socket as they are (a string body would be encoded again).
      let buf = Buffer.allocUnsafe(Math.max(64 * 1024, records.length * 640));
      let off = 0;
      for (let i = 0; i < records.length; i++) {
        const e = entry(records[i], ids, i);
        // Worst case 3 bytes per UTF-16 unit.
        if (buf.length - off < e.length * 3) {
          const next = Buffer.allocUnsafe(Math.max(buf.length * 2, off + e.length * 3));
          buf.copy(next, 0, 0, off);
          buf = next;
        }
        off += buf.write(e, off, 'utf8');
      }
      return buf.subarray(0, off);
    },
    measure(r) {
      const body = r.raw?.length ?? 0;
      return (body || estimate(r)) + 120;
    },
  };
}

function estimate(r: LogRecord): number {
  const msg = r.fields.message;
  let n = typeof msg === 'string' ? msg.length + 16 : 64;
  for (const k in r.fields) if (k !== 'message') n += 48;
  return n;
}
