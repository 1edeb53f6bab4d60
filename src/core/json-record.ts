// A record parsed from a JSON object line by one scan (json-scan.ts) instead of JSON.parse: it
// holds the line and where its top-level members lie; `fields` is built (JSON.parse of the line,
// then the input metadata kept beside it) the first time anything reads it. Outputs that only need
// the line, a few top-level values or member boundaries read them from the spans (issue #22).

import { CANONICAL, findMember, memberValue, NUMBERS, type Spans } from './json-scan.js';
import type { Fields, LogRecord } from './record.js';

export class JsonRecord implements LogRecord {
  raw: string | undefined;
  labels: Record<string, string> | undefined;
  sourceId: string | undefined;
  private f: Fields | undefined = undefined;

  constructor(
    /** The scanned line: `raw` until a filter changes the record (touch), kept after. */
    readonly text: string,
    /**
     * scanObject's output for `text` (flags, then MEMBER ints per top-level member) at
     * [at, at + len) of this array: a SpanPool block shared with other records.
     */
    readonly spans: Spans,
    /** Input metadata beside the line (`file`): its keys but `skip` follow the line's members. */
    readonly meta: Fields | undefined,
    readonly skip: string,
    public rawExtra: readonly string[] | undefined,
    public timeMs: number,
    public timeNs: number,
    readonly at = 0,
    readonly len = spans.length,
  ) {
    this.raw = text;
    this.labels = undefined;
    this.sourceId = undefined;
  }

  get fields(): Fields {
    return this.f ?? this.materialise();
  }

  set fields(v: Fields) {
    this.f = v;
  }

  /** Whether `fields` was built (something read or replaced it). */
  get materialised(): boolean {
    return this.f !== undefined;
  }

  private materialise(): Fields {
    const o = JSON.parse(this.text) as Fields;
    const m = this.meta;
    if (m !== undefined) {
      const skip = this.skip;
      for (const k in m) if (k !== skip) o[k] = m[k];
    }
    this.f = o;
    return o;
  }
}

/** Ints per SpanPool block (64 KiB: the most one long-lived record can hold on to). */
const POOL_INTS = 16384;

/**
 * Where parse_json keeps the spans of the records it builds: each record holds the shared
 * Int32Array block and where its spans lie in it, instead of an array of its own (issue #22:
 * that array was a fifth of the bytes W2 allocated per line, ~390 B; a view of the block, ~105 B,
 * still was the largest object a record kept while it waited for its output). A block is dropped
 * (not reused) when it is full, so spans are never overwritten: a block lives as long as any
 * record holding it.
 */
export class SpanPool {
  /** The block the last copy went to. */
  block = new Int32Array(POOL_INTS);
  private used = 0;

  /**
   * Copy `src[0, n)` (the caller reuses `src`) to a place that stays valid: `block` (read it
   * after this call) from the offset returned.
   */
  copy(src: readonly number[], n: number): number {
    let b = this.block;
    let at = this.used;
    if (at + n > b.length) {
      b = this.block = new Int32Array(Math.max(POOL_INTS, n));
      at = 0;
    }
    for (let i = 0; i < n; i++) b[at + i] = src[i];
    this.used = at + n;
    return at;
  }
}

/**
 * The spans of a record's raw text (indexed from 0): defined only for a JsonRecord whose `raw` is
 * still the scanned line (no filter changed it since). For a record in a SpanPool block, a view
 * made for the caller (outputs read it while they encode the record, then drop it).
 */
export function rawSpans(rec: LogRecord): Spans | undefined {
  if (!(rec instanceof JsonRecord) || rec.raw !== rec.text) return undefined;
  const { spans, at, len } = rec;
  if (at === 0 && len === spans.length) return spans;
  return spans instanceof Int32Array
    ? spans.subarray(at, at + len)
    : Array.prototype.slice.call(spans, at, at + len);
}

/**
 * The record when it is a JsonRecord whose `raw` is still the scanned line: its spans are
 * `spans[at, at + len)` (what rawSpans copies out, read in place).
 */
export function scannedRecord(rec: LogRecord): JsonRecord | undefined {
  return rec instanceof JsonRecord && rec.raw === rec.text ? rec : undefined;
}

/** The raw text of a JsonRecord is exactly what JSON.stringify writes for it (see findCuts). */
export function canonicalSpans(spans: Spans, at = 0): boolean {
  return (spans[at] & CANONICAL) !== 0;
}

/** The raw text of a JsonRecord is JSON.stringify's but for the numbers its spans list. */
export function numberSpans(spans: Spans, at = 0): boolean {
  return (spans[at] & NUMBERS) !== 0;
}

/** Marker of a key that is not in a record (distinct from a member whose value is undefined). */
export const MISSING: unique symbol = Symbol('missing');

/**
 * The value of top-level `key` as `fields[key]` would give it, without building `fields` when the
 * record is an untouched, unbuilt JsonRecord; MISSING when the key is absent. `key` must not name
 * an Object.prototype property (the caller checks).
 */
export function topValue(rec: LogRecord, key: string): unknown {
  if (rec instanceof JsonRecord && !rec.materialised) {
    const m = findMember(rec.text, rec.spans, key, rec.at);
    if (m >= 0) return memberValue(rec.text, rec.spans, m);
    const meta = rec.meta;
    if (meta !== undefined && key in meta && key !== rec.skip) return meta[key];
    return MISSING;
  }
  const f = rec.fields;
  return key in f ? f[key] : MISSING;
}

/**
 * Where an output reads the values of a record's `rawExtra` keys: the input metadata of an unbuilt
 * JsonRecord (the same values `fields` would hold), else `fields`.
 */
export function extraFields(rec: LogRecord): Fields {
  if (rec instanceof JsonRecord && !rec.materialised && rec.meta !== undefined) return rec.meta;
  return rec.fields;
}

/**
 * `key in rec.fields` without building `fields` when the record is an unbuilt JsonRecord. `key`
 * must not name an Object.prototype property (the caller checks).
 */
export function hasTop(rec: LogRecord, key: string): boolean {
  if (rec instanceof JsonRecord && !rec.materialised) {
    if (findMember(rec.text, rec.spans, key, rec.at) >= 0) return true;
    const meta = rec.meta;
    return meta !== undefined && key in meta && key !== rec.skip;
  }
  return key in rec.fields;
}
