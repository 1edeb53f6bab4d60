// The event model. Records move in batches; a batch carries one tag (routing is per batch,
// never per record) and the acknowledgement token of the source position it came from.

import type { AckToken } from './acks.js';
import { extraFields } from './json-record.js';

export type Fields = Record<string, unknown>;

export interface LogRecord {
  /** The record body: `message` for raw lines, merged JSON after parse_json, metadata objects. */
  fields: Fields;
  /** Event time: milliseconds since the epoch (integer). */
  timeMs: number;
  /** Sub-millisecond part of the event time in nanoseconds (0..999_999), for full ns precision. */
  timeNs: number;
  /**
   * JSON text equal to `JSON.stringify(fields)`, kept when a record was parsed from a JSON line and
   * not modified since: outputs reuse it instead of re-serialising. Anything that mutates `fields`
   * must clear it (see `touch`). Always text JSON.parse accepted (outputs rely on it: no raw
   * control character inside a string).
   */
  raw?: string;
  /**
   * Top-level keys of `fields` that `raw` does not contain (input metadata such as `file` that a
   * parser merged beside the parsed line). Their values are serialised and appended to `raw`.
   */
  rawExtra?: readonly string[];
  /** Output labels promoted by the `label` filter (Loki stream labels). */
  labels?: Record<string, string>;
  /** Stable identity of the record's source position (file identity + offset, journald cursor): for deterministic ids. */
  sourceId?: string;
}

export interface Batch {
  tag: string;
  records: LogRecord[];
  /** Approximate bytes this batch holds in memory; used for buffer accounting. */
  bytes: number;
}

/** A batch as one output receives it: its share of a routed batch, acknowledged once. */
export interface OutputBatch extends Batch {
  /**
   * Call exactly once when every record of this batch is delivered or dead-lettered. Until then
   * the batch counts against the output's buffer and the source's checkpoint cannot pass it.
   * Outputs may keep and call it detached from the batch (not as a method): it must not use `this`.
   */
  ack(): void;
}

export interface InputBatch extends Batch {
  /** The source position this batch ends at; committed once every output acknowledged it. */
  token?: AckToken;
}

export function newRecord(fields: Fields, timeMs: number = Date.now(), timeNs = 0): LogRecord {
  return { fields, timeMs, timeNs };
}

/**
 * A deep copy of a record as a plain object. Use it, not structuredClone or a spread: a record may
 * be a JsonRecord (json-record.ts), whose `fields` is a getter that neither copies.
 */
export function copyRecord(r: LogRecord): LogRecord {
  const c: LogRecord = {
    fields: structuredClone(r.fields),
    timeMs: r.timeMs,
    timeNs: r.timeNs,
  };
  if (r.raw !== undefined) c.raw = r.raw;
  if (r.rawExtra !== undefined) c.rawExtra = [...r.rawExtra];
  if (r.labels !== undefined) c.labels = { ...r.labels };
  if (r.sourceId !== undefined) c.sourceId = r.sourceId;
  return c;
}

/** Mark a record as modified: the cached raw JSON no longer matches its fields. */
export function touch(record: LogRecord): void {
  if (record.raw !== undefined) record.raw = undefined;
  if (record.rawExtra !== undefined) record.rawExtra = undefined;
}

/** Serialise a record's fields, reusing the original text when the record is unchanged. */
export function recordJson(record: LogRecord): string {
  const raw = record.raw;
  if (raw === undefined) return JSON.stringify(record.fields);
  return record.rawExtra === undefined
    ? raw
    : appendRawExtra(raw, extraFields(record), record.rawExtra);
}

/**
 * `json` (an object's JSON text) with `fields[k]` for each of `keys` added as members, skipping
 * undefined values and keys in `skip`; `map` may replace a value before it is serialised.
 * Returns `json` unchanged when nothing is added.
 */
export function appendRawExtra(
  json: string,
  fields: Fields,
  keys: readonly string[],
  skip?: readonly string[],
  map?: (key: string, value: unknown) => unknown,
): string {
  let end = json.length - 1;
  while (end > 0 && json.charCodeAt(end) !== 125 /* } */) end--;
  let inner = json.slice(0, end);
  let empty = true;
  for (let i = end - 1; i > 0; i--) {
    const c = json.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    empty = c === 123; /* { */
    break;
  }
  let added = false;
  for (const k of keys) {
    const v = map ? map(k, fields[k]) : fields[k];
    if (v === undefined || (skip && skip.includes(k))) continue;
    const text = JSON.stringify(v);
    if (text === undefined) continue;
    inner += (empty ? '' : ',') + JSON.stringify(k) + ':' + text;
    empty = false;
    added = true;
  }
  return added ? inner + '}' : json;
}

/** Read `a.b.c` from a record's fields. */
export function getPath(fields: Fields, path: string | readonly string[]): unknown {
  if (typeof path === 'string') {
    if (path.indexOf('.') === -1) return fields[path];
    path = path.split('.');
  }
  let cur: unknown = fields;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Fields)[key];
  }
  return cur;
}

/** Set `a.b.c`, creating intermediate objects. */
export function setPath(fields: Fields, path: string | readonly string[], value: unknown): void {
  const parts = typeof path === 'string' ? path.split('.') : path;
  let cur: Fields = fields;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      const created: Fields = {};
      cur[parts[i]] = created;
      cur = created;
    } else {
      cur = next as Fields;
    }
  }
  cur[parts[parts.length - 1]] = value;
}

/** Delete `a.b.c`; returns whether something was removed. */
export function deletePath(fields: Fields, path: string | readonly string[]): boolean {
  const parts = typeof path === 'string' ? path.split('.') : path;
  let cur: unknown = fields;
  for (let i = 0; i < parts.length - 1; i++) {
    if (cur === null || typeof cur !== 'object') return false;
    cur = (cur as Fields)[parts[i]];
  }
  if (cur === null || typeof cur !== 'object') return false;
  const last = parts[parts.length - 1];
  if (!(last in (cur as Fields))) return false;
  delete (cur as Fields)[last];
  return true;
}

/**
 * A cheap estimate of a record's heap footprint, for buffer accounting (measured on V8: a parsed
 * 280-byte JSON line with nine keys holds ~850 bytes with its raw text). No allocation.
 */
export function estimateBytes(record: LogRecord): number {
  // raw first: reading `fields` builds a lazy record's object (json-record.ts).
  if (record.raw !== undefined) return record.raw.length * 2 + 300;
  const msg = record.fields.message;
  if (typeof msg === 'string') return msg.length + 250;
  return 700;
}

export function stringifyValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}
