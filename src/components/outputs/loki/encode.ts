// Pure encoding for the `loki` output: records → streams (labels sanitised to Loki's rules, the
// cardinality guard, structured metadata, lines, nanosecond timestamps, entries sorted per stream)
// → protobuf or JSON push bodies; and the reading of a Loki 400 body back onto the entries it
// names (Loki stores the valid entries of a push and reports the rest). No I/O here.

import { compileTemplate, type Template } from '../../../core/template.js';
import {
  appendRawExtra,
  getPath,
  recordJson,
  setPath,
  stringifyValue,
  type Fields,
  type LogRecord,
} from '../../../core/record.js';
import type { LabelPair } from './logproto.js';
import { writePushRequest } from './wire.js';

/** Loki's default `max_label_names_per_series`. */
export const MAX_LABELS = 15;
/** Loki's default `max_label_value_length`. */
export const MAX_LABEL_VALUE = 2048;
/** Streams not seen for this long no longer count against max_streams (Loki's idle period is similar). */
export const STREAM_IDLE_MS = 3_600_000;
const FALLBACK_LABELS: Array<[string, string]> = [['job', 'shiplog']];

// ---------------------------------------------------------------------------------------------
// Labels

/**
 * Loki (Prometheus) label names: `[a-zA-Z_][a-zA-Z0-9_]*`; names starting with `__` are reserved.
 * Invalid characters become `_`, a leading digit gets a `_` prefix, leading `__` collapses to `_`.
 * Returns undefined for a name with nothing usable in it.
 */
export function sanitizeLabelName(name: string): string | undefined {
  let s = /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) ? name : name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (s.length === 0 || /^_*$/.test(s)) return undefined;
  if (/^[0-9]/.test(s)) s = '_' + s;
  if (s.startsWith('__')) s = s.replace(/^_+/, '_');
  return s;
}

/** Escape a label value for the selector text (Go-quoted string, as Prometheus labels.String()). */
export function quoteLabelValue(v: string): string {
  if (!/["\\\n\r\t]/.test(v)) return '"' + v + '"';
  return JSON.stringify(v);
}

/** `{a="x", b="y"}` from pairs sorted by name: the canonical form Loki itself prints. */
export function labelsText(pairs: ReadonlyArray<readonly [string, string]>): string {
  let s = '{';
  for (let i = 0; i < pairs.length; i++) {
    if (i > 0) s += ', ';
    s += pairs[i][0] + '=' + quoteLabelValue(pairs[i][1]);
  }
  return s + '}';
}

interface StreamDesc {
  text: string;
  pairs: Array<[string, string]>;
  /** Labels dropped beyond MAX_LABELS. */
  dropped: number;
}

// ---------------------------------------------------------------------------------------------
// Time

/**
 * Parse a time value: RFC 3339 (any fraction, up to ns), or epoch seconds / ms / µs / ns chosen by
 * magnitude (numbers or numeric strings). Returns [ms, sub-ms ns] or undefined.
 */
export function parseTime(v: unknown): [number, number] | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? epoch(v) : undefined;
  if (typeof v !== 'string' || v.length === 0) return undefined;
  if (/^-?\d+(\.\d+)?$/.test(v)) {
    // Integer nanoseconds do not fit a double: split the digits.
    if (/^\d{17,19}$/.test(v)) {
      const ms = Number(v.slice(0, v.length - 6));
      return [ms, Number(v.slice(v.length - 6))];
    }
    return epoch(Number(v));
  }
  const m = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(
    v.trim(),
  );
  if (!m) return undefined;
  const zone = m[3] === undefined || m[3] === 'z' ? 'Z' : m[3];
  const base = Date.parse(m[1].replace(' ', 'T') + zone);
  if (Number.isNaN(base)) return undefined;
  const frac = (m[2] ?? '').slice(0, 9).padEnd(9, '0');
  const ms = base + Number(frac.slice(0, 3));
  return [ms, Number(frac.slice(3))];
}

function epoch(n: number): [number, number] {
  const a = Math.abs(n);
  let ms: number;
  if (a < 1e11) ms = n * 1000;
  else if (a < 1e14) ms = n;
  else if (a < 1e17) ms = n / 1000;
  else ms = n / 1e6;
  const whole = Math.floor(ms);
  return [whole, Math.round((ms - whole) * 1e6) % 1_000_000];
}

/** Nanoseconds since the epoch as a decimal string (Loki's JSON API wants strings). */
export function nsString(seconds: number, nanos: number): string {
  if (seconds <= 0) return String(BigInt(seconds) * 1_000_000_000n + BigInt(nanos));
  return String(seconds) + String(nanos).padStart(9, '0');
}

// ---------------------------------------------------------------------------------------------
// Lines

/** Cut a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= max) return s;
  let cut = max;
  while (cut > 0 && (buf[cut] & 0xc0) === 0x80) cut--;
  return buf.toString('utf8', 0, cut);
}

function onlyKey(fields: Fields, key: string): boolean {
  let n = 0;
  for (const k in fields) {
    if (k !== key || ++n > 1) return false;
  }
  return n === 1;
}

function hasPath(fields: Fields, path: readonly string[]): boolean {
  let cur: unknown = fields;
  for (let i = 0; i < path.length - 1; i++) {
    if (cur === null || typeof cur !== 'object') return false;
    cur = (cur as Fields)[path[i]];
  }
  return cur !== null && typeof cur === 'object' && path[path.length - 1] in (cur as Fields);
}

/** A copy of `fields` without `paths` (copying only the objects along each path). */
export function withoutPaths(fields: Fields, paths: ReadonlyArray<readonly string[]>): Fields {
  const out: Fields = { ...fields };
  for (const p of paths) {
    let cur = out;
    let ok = true;
    for (let i = 0; i < p.length - 1; i++) {
      const next = cur[p[i]];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        ok = false;
        break;
      }
      const copy = { ...(next as Fields) };
      cur[p[i]] = copy;
      cur = copy;
    }
    if (ok) delete cur[p[p.length - 1]];
  }
  return out;
}

/**
 * The character ranges to cut out of `raw` (the record's JSON text) so that what remains is
 * `JSON.stringify(fields)` without the top-level keys `drop`: a dropped member goes with the comma
 * before it (or after it, when no kept member precedes). Writes merged [from, to) pairs into `out`
 * and returns how many numbers it wrote: 0 when no dropped key is in the text, -1 when the text is
 * not exactly what JSON.stringify would write (whitespace, escapes it would not use,
 * non-canonical numbers, integer-like keys V8 would reorder, lone surrogates), and the caller
 * then serialises the fields. Dropped key names must be plain (no character JSON escapes).
 */
export function findCuts(raw: string, drop: readonly string[], out: number[]): number {
  const n = raw.length;
  if (n < 2 || raw.charCodeAt(0) !== 123 /* { */) return -1;
  if (raw.charCodeAt(1) === 125 /* } */) return n === 2 ? 0 : -1;
  plain = !SPECIAL.test(raw);
  let k = 0;
  let keptBefore = false;
  let i = 1;
  for (;;) {
    if (raw.charCodeAt(i) !== 34) return -1;
    const ks = i + 1;
    const ke = stringEnd(raw, ks);
    if (ke < 0 || indexLike(raw, ks, ke) || raw.charCodeAt(ke + 1) !== 58 /* : */) return -1;
    const ve = valueEnd(raw, ke + 2, 0);
    if (ve < 0) return -1;
    const c = raw.charCodeAt(ve);
    if (c !== 44 /* , */ && (c !== 125 /* } */ || ve + 1 !== n)) return -1;
    if (isDropped(raw, ks, ke, drop)) {
      const from = keptBefore ? i - 1 : i;
      const to = keptBefore || c === 125 ? ve : ve + 1;
      if (k > 0 && out[k - 1] === from) out[k - 1] = to;
      else {
        out[k++] = from;
        out[k++] = to;
      }
    } else keptBefore = true;
    if (c === 125) return k;
    i = ve + 1;
  }
}

/** `src` without the [from, to) ranges `cuts[at..end)` (sorted, not overlapping). */
export function applyCuts(src: string, cuts: readonly number[], at = 0, end = cuts.length): string {
  let s = '';
  let from = 0;
  for (let k = at; k < end; k += 2) {
    s += src.slice(from, cuts[k]);
    from = cuts[k + 1];
  }
  return s + src.slice(from);
}

const cutScratch: number[] = [];

/**
 * `JSON.stringify(fields)` without the top-level keys `drop`, cut out of `raw` (see findCuts):
 * `raw` itself when no dropped key is in it, undefined when the text is not canonical.
 */
export function spliceTopKeys(raw: string, drop: readonly string[]): string | undefined {
  const k = findCuts(raw, drop, cutScratch);
  if (k < 0) return undefined;
  return k === 0 ? raw : applyCuts(raw, cutScratch, 0, k);
}

function isDropped(raw: string, ks: number, ke: number, drop: readonly string[]): boolean {
  const len = ke - ks;
  for (let d = 0; d < drop.length; d++) {
    if (drop[d].length === len && raw.startsWith(drop[d], ks)) return true;
  }
  return false;
}

/** A key of digits only: V8 orders integer-like keys first, so the text order may differ. */
function indexLike(raw: string, ks: number, ke: number): boolean {
  if (ke === ks) return false;
  for (let i = ks; i < ke; i++) {
    const c = raw.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Characters that need a closer look inside strings: escapes, controls, surrogates. */
// eslint-disable-next-line no-control-regex
const SPECIAL = /[\\\u0000-\u001f\ud800-\udfff]/;
/** The text being cut has none of SPECIAL: a string ends at the next quote. */
let plain = false;

/** Index of the closing quote of the string starting at `i`, or -1 (not as JSON.stringify writes it). */
function stringEnd(raw: string, i: number): number {
  if (plain) return raw.indexOf('"', i);
  const n = raw.length;
  while (i < n) {
    const c = raw.charCodeAt(i);
    if (c === 34) return i;
    if (c === 92 /* \ */) {
      const e = raw.charCodeAt(i + 1);
      // JSON.stringify writes \" \\ \b \f \n \r \t; \/ and \u escapes are not its own.
      if (e === 34 || e === 92 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2;
        continue;
      }
      return -1;
    }
    if (c < 32) return -1;
    if (c >= 0xd800 && c <= 0xdfff) {
      // A pair is written as is; a lone surrogate would be escaped.
      const d = raw.charCodeAt(i + 1);
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return -1;
      i += 2;
      continue;
    }
    i++;
  }
  return -1;
}

/** Index just past the JSON value starting at `i`, or -1 (invalid or not canonical). */
function valueEnd(raw: string, i: number, depth: number): number {
  const c = raw.charCodeAt(i);
  if (c === 34) {
    const e = stringEnd(raw, i + 1);
    return e < 0 ? -1 : e + 1;
  }
  if (c === 123 || c === 91) {
    if (depth > 64) return -1;
    const close = c === 123 ? 125 : 93;
    i++;
    if (raw.charCodeAt(i) === close) return i + 1;
    for (;;) {
      if (c === 123) {
        if (raw.charCodeAt(i) !== 34) return -1;
        const ke = stringEnd(raw, i + 1);
        if (ke < 0 || indexLike(raw, i + 1, ke) || raw.charCodeAt(ke + 1) !== 58) return -1;
        i = ke + 2;
      }
      i = valueEnd(raw, i, depth + 1);
      if (i < 0) return -1;
      const d = raw.charCodeAt(i);
      if (d === close) return i + 1;
      if (d !== 44) return -1;
      i++;
    }
  }
  if (c === 116) return raw.startsWith('true', i) ? i + 4 : -1;
  if (c === 102) return raw.startsWith('false', i) ? i + 5 : -1;
  if (c === 110) return raw.startsWith('null', i) ? i + 4 : -1;
  if (c === 45 || (c >= 48 && c <= 57)) return numberEnd(raw, i);
  return -1;
}

function numberEnd(raw: string, start: number): number {
  let i = start;
  const n = raw.length;
  let simple = true; // -?[1-9][0-9]* or 0, at most 15 digits: written back the same
  if (raw.charCodeAt(i) === 45) i++;
  const digits = i;
  while (i < n) {
    const c = raw.charCodeAt(i);
    if (c >= 48 && c <= 57) i++;
    else if (c === 46 || c === 101 || c === 69 || c === 43 || c === 45) {
      simple = false;
      i++;
    } else break;
  }
  const len = i - digits;
  if (simple && len > 0 && len <= 15) {
    if (raw.charCodeAt(digits) !== 48) return i;
    if (len === 1 && digits === start) return i; // 0 (but not -0)
    return -1;
  }
  if (canonicalDecimal(raw, digits, i)) return i;
  const text = raw.slice(start, i);
  const v = Number(text);
  return Number.isFinite(v) && String(v) === text ? i : -1;
}

/**
 * `int.frac` (digits only) as Number→String writes it back, decided without converting: no
 * leading zero in the integer part, no trailing zero in the fraction, at most 15 significant
 * digits (a double holds any 15-digit decimal exactly, and the shortest round-trip form is those
 * digits), and within the range JavaScript prints without an exponent (1e-6 ≤ |v| < 1e21).
 */
export function canonicalDecimal(raw: string, from: number, to: number): boolean {
  let dot = -1;
  for (let j = from; j < to; j++) {
    const c = raw.charCodeAt(j);
    if (c === 46) {
      if (dot >= 0) return false;
      dot = j;
    } else if (c < 48 || c > 57) return false;
  }
  if (dot <= from || dot === to - 1) return false;
  if (raw.charCodeAt(to - 1) === 48) return false; // trailing zero: 1.50 prints as 1.5
  const intLen = dot - from;
  if (intLen > 1 && raw.charCodeAt(from) === 48) return false;
  let sig: number;
  if (intLen === 1 && raw.charCodeAt(from) === 48) {
    let z = dot + 1;
    while (z < to && raw.charCodeAt(z) === 48) z++;
    if (z - dot - 1 >= 6) return false; // 0.0000001 prints as 1e-7
    sig = to - z;
  } else {
    if (intLen > 21) return false;
    sig = intLen + (to - dot - 1);
  }
  return sig <= 15;
}

const saved: unknown[] = [];
const ABSENT = Symbol('absent');

/**
 * `JSON.stringify(fields)` without the top-level keys `drop`: their values are set to undefined
 * (which JSON.stringify leaves out) for the one call and put back before returning, so the object
 * keeps its shape and V8's fast serializer; no copy, no delete. Undefined when the object refuses
 * the assignment (frozen, read-only key): the caller takes the copying path.
 */
export function stringifyMasked(fields: Fields, drop: readonly string[]): string | undefined {
  let set = 0;
  try {
    for (; set < drop.length; set++) {
      const k = drop[set];
      if (Object.hasOwn(fields, k)) {
        saved[set] = fields[k];
        fields[k] = undefined;
      } else saved[set] = ABSENT;
    }
    return JSON.stringify(fields);
  } catch {
    return undefined;
  } finally {
    for (let i = 0; i < set; i++) {
      if (saved[i] !== ABSENT) fields[drop[i]] = saved[i];
      saved[i] = undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tenants

/** Loki's tenant id limit (dskit tenant.MaxTenantIDLength). */
export const MAX_TENANT_LENGTH = 150;

/** A static tenant that breaks Loki's rules (a config error). */
export class TenantError extends Error {}

/**
 * Why `t` is not a valid Loki tenant id, or undefined when it is. Loki (dskit ValidTenantID)
 * accepts `[a-zA-Z0-9!_.*'()-]`, at most 150 bytes, not `.` or `..`. A rendered tenant that is
 * empty (the record lacks the field) would send the record without X-Scope-OrgID: refused too.
 */
export function tenantProblem(t: string): string | undefined {
  if (t.length === 0) return 'the tenant template rendered empty (field missing)';
  if (t.length > MAX_TENANT_LENGTH)
    return `longer than ${MAX_TENANT_LENGTH} characters (${t.length})`;
  if (t === '.' || t === '..') return `"${t}" is not allowed`;
  const m = /[^a-zA-Z0-9!_.*'()-]/.exec(t);
  if (m) {
    const c = m[0];
    const code = c.codePointAt(0)!;
    const shown =
      code >= 0x21 && code < 0x7f
        ? `"${c}"`
        : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return `character ${shown} at ${m.index} (Loki allows letters, digits and !-_.*'())`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Records → pushes

export interface EncoderConfig {
  labels: Record<string, string>;
  structuredMetadata: string[];
  lineFormat: 'json' | 'message';
  messageField: string;
  timeField?: string;
  /** Tenant template (X-Scope-OrgID); undefined = no header. */
  tenant?: string;
  maxLineBytes: number;
  /** 0 = off. */
  rejectOlderThanMs: number;
  maxStreams: number;
  /** Per-source share of the streams (#17.7): `by` is a template naming the source. */
  streamQuota?: { by: string; max: number };
}

/**
 * One log entry of a push. The time is two plain fields (no timestamp object per entry), and a
 * line cut out of the record's JSON text is kept as that text plus the ranges cut out of it: the
 * wire writer copies the text and closes the gaps in its buffer, so no line string is built.
 */
export class Entry {
  constructor(
    /** Seconds since the epoch. */
    public seconds: number,
    /** Nanoseconds within the second. */
    public nanos: number,
    /** The line, or (cutFrom >= 0) the text it is cut from. */
    public src: string,
    /** Index of the record in the chunk. */
    public index: number,
    public structuredMetadata: LabelPair[] | undefined = undefined,
    /** First range [cutFrom, cutTo) cut out of src; -1: src is the line. */
    public cutFrom = -1,
    public cutTo = -1,
    /** Further ranges cut out of src, as [from, to) pairs. */
    public cuts: number[] | undefined = undefined,
  ) {}

  /** The line text (built on demand for a cut line). */
  get line(): string {
    const src = this.src;
    if (this.cutFrom < 0) return src;
    let s = src.slice(0, this.cutFrom);
    let from = this.cutTo;
    const more = this.cuts;
    if (more !== undefined) {
      for (let k = 0; k < more.length; k += 2) {
        s += src.slice(from, more[k]);
        from = more[k + 1];
      }
    }
    return s + src.slice(from);
  }

  /** The time as logproto's Timestamp shape. */
  get timestamp(): { seconds: number; nanos: number } {
    return { seconds: this.seconds, nanos: this.nanos };
  }
}

export interface Stream {
  labels: string;
  pairs: Array<[string, string]>;
  entries: Entry[];
}

export interface Push {
  /** X-Scope-OrgID; undefined or '' = none. */
  tenant: string | undefined;
  streams: Stream[];
  /** Entries in this push. */
  count: number;
  /** Approximate bytes of log lines. */
  bytes: number;
}

export interface Prepared {
  pushes: Push[];
  /** Records refused before sending (too old, over max_streams). */
  rejected: Array<{ index: number; reason: string }>;
  /** Lines cut at max_line_bytes in this chunk. */
  truncated: number;
  /** Labels dropped beyond 15 per stream in this chunk. */
  labelsDropped: number;
  /** Unparseable time_field values (record time used). */
  badTimes: number;
  /** Set when max_streams refused records: the label with the most distinct values. */
  explodingLabel?: { name: string; values: number };
}

interface LabelSpec {
  name: string;
  template: Template;
}

export class LokiEncoder {
  private readonly specs: LabelSpec[];
  private readonly constantPairs: Array<[string, string]>;
  private readonly dynamic: LabelSpec[];
  private readonly dropPaths: string[][];
  /** The dropped fields when all are top-level keys JSON writes without escapes (fast paths). */
  private readonly topDrops: string[] | undefined;
  /**
   * Mixed label fields (some nested, e.g. `kubernetes.namespace_name`): the top-level ones (JSON
   * writes them without escapes) and the nested ones by their first key. For records whose raw
   * line holds the top-level ones and whose input metadata (rawExtra) holds the nested ones.
   */
  private readonly mixed: { top: string[]; nested: Map<string, string[][]> } | undefined;
  private readonly metaPaths: Array<{ name: string; path: string[] }>;
  private readonly tenant: Template | undefined;
  private readonly messagePath: string[];
  private readonly timePath: string[] | undefined;
  /** label key (values joined) → stream description, so most records cost a Map lookup. */
  private readonly descCache = new Map<string, StreamDesc>();
  /** Records without per-record labels: one Map level per dynamic label value, no key string. */
  private descTrie = new Map<string, unknown>();
  private trieSize = 0;
  /** JSON lines are cut out of the raw text (see findCuts). */
  private readonly cutLines: boolean;
  private readonly cutBuf: number[] = [];
  /** Active streams (label text → last seen, ms) for max_streams. */
  private readonly active = new Map<
    string,
    { seen: number; pairs: Array<[string, string]>; source?: string }
  >();
  private readonly quota: { by: Template; max: number } | undefined;
  /** Active streams per source (stream_quota). */
  private readonly perSource = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    private readonly cfg: EncoderConfig,
    private readonly now: () => number = Date.now,
  ) {
    const specs: LabelSpec[] = [];
    for (const [rawName, tpl] of Object.entries(cfg.labels)) {
      const name = sanitizeLabelName(rawName);
      if (name === undefined) throw new Error(`label name "${rawName}" has no valid character`);
      specs.push({ name, template: compileTemplate(tpl) });
    }
    this.specs = specs;
    this.constantPairs = specs
      .filter((s) => s.template.constant)
      .map((s) => [s.name, s.template.render({})] as [string, string]);
    this.dynamic = specs.filter((s) => !s.template.constant);
    // Fields rendered into labels are not repeated in the line.
    const drop = new Set<string>();
    for (const s of this.dynamic) for (const f of s.template.fields) drop.add(f);
    this.dropPaths = [...drop].map((f) => f.split('.'));
    this.topDrops = this.dropPaths.every(
      (p) => p.length === 1 && JSON.stringify(p[0]) === `"${p[0]}"`,
    )
      ? this.dropPaths.map((p) => p[0])
      : undefined;
    this.metaPaths = cfg.structuredMetadata.map((f) => {
      const name = sanitizeLabelName(f.replace(/\./g, '_'));
      if (name === undefined) throw new Error(`structured_metadata field "${f}" has no valid name`);
      return { name, path: f.split('.') };
    });
    const plain = (k: string): boolean => JSON.stringify(k) === `"${k}"`;
    if (this.topDrops === undefined && this.dropPaths.every((p) => plain(p[0]))) {
      const nested = new Map<string, string[][]>();
      for (const p of this.dropPaths)
        if (p.length > 1) nested.set(p[0], [...(nested.get(p[0]) ?? []), p.slice(1)]);
      const top = this.dropPaths.filter((p) => p.length === 1).map((p) => p[0]);
      if (top.every((k) => !nested.has(k))) this.mixed = { top, nested };
    }
    this.cutLines =
      cfg.lineFormat === 'json' && this.topDrops !== undefined && this.topDrops.length > 0;
    this.tenant = cfg.tenant !== undefined ? compileTemplate(cfg.tenant) : undefined;
    if (cfg.streamQuota)
      this.quota = { by: compileTemplate(cfg.streamQuota.by), max: cfg.streamQuota.max };
    if (this.tenant?.constant) {
      const bad = tenantProblem(this.tenant.render({}));
      if (bad !== undefined) throw new TenantError(bad);
    }
    this.messagePath = cfg.messageField.split('.');
    this.timePath = cfg.timeField?.split('.');
  }

  /** Label names that come from record fields (the fields left out of JSON lines). */
  get labelFields(): string[] {
    return this.dropPaths.map((p) => p.join('.'));
  }

  /** Build the pushes for a chunk of records (one push per tenant). */
  prepare(records: readonly LogRecord[]): Prepared {
    const now = this.now();
    const cfg = this.cfg;
    const oldest = cfg.rejectOlderThanMs > 0 ? now - cfg.rejectOlderThanMs : -Infinity;
    const out: Prepared = { pushes: [], rejected: [], truncated: 0, labelsDropped: 0, badTimes: 0 };
    const pushes = new Map<string, { push: Push; streams: Map<string, Stream> }>();
    const constTenant = this.tenant === undefined || this.tenant.constant;
    const tenantConst = this.tenant?.render({});
    let refused = 0;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i];
      const fields = rec.fields;

      let ms = rec.timeMs;
      let ns = rec.timeNs;
      if (this.timePath) {
        const v = getPath(fields, this.timePath);
        if (v !== undefined) {
          const t = parseTime(v);
          if (t) [ms, ns] = t;
          else out.badTimes++;
        }
      }
      if (ms < oldest) {
        out.rejected.push({
          index: i,
          reason: `entry too old: ${new Date(ms).toISOString()} is older than reject_older_than (${formatDuration(cfg.rejectOlderThanMs)}); Loki would reject it`,
        });
        continue;
      }

      // Rendered tenants are record data: checked against Loki's rules before anything is encoded
      // (an invalid header value used to wedge the HTTP pool for good, #17.1).
      const tenant = constTenant ? tenantConst : this.tenant!.render(fields);
      if (!constTenant) {
        const bad = tenantProblem(tenant!);
        if (bad !== undefined) {
          out.rejected.push({ index: i, reason: `invalid tenant: ${bad}` });
          continue;
        }
      }

      const desc = this.describe(rec);
      out.labelsDropped += desc.dropped;
      const act = this.active.get(desc.text);
      if (act) act.seen = now;
      else {
        const source = this.quota?.by.render(fields);
        const why = this.admit(desc, now, source);
        if (why !== undefined) {
          refused++;
          out.rejected.push({
            index: i,
            reason:
              why === 'quota'
                ? `stream_quota (${this.quota!.max} per ${this.quota!.by.source}) reached for "${source!.slice(0, 100)}": new stream ${desc.text} refused`
                : `max_streams (${cfg.maxStreams}) reached: new stream ${desc.text} refused`,
          });
          continue;
        }
      }

      let src: string;
      let cutFrom = -1;
      let cutTo = -1;
      let cuts: number[] | undefined;
      let chars: number;
      const raw = rec.raw;
      const k =
        this.cutLines && raw !== undefined && rec.rawExtra === undefined
          ? findCuts(raw, this.topDrops!, this.cutBuf)
          : -1;
      if (k >= 0) {
        src = raw!;
        chars = src.length;
        if (k > 0) {
          const cb = this.cutBuf;
          cutFrom = cb[0];
          cutTo = cb[1];
          if (k > 2) cuts = cb.slice(2, k);
          for (let j = 0; j < k; j += 2) chars -= cb[j + 1] - cb[j];
        }
      } else {
        src = this.line(rec);
        chars = src.length;
      }
      if (chars * 3 > cfg.maxLineBytes) {
        const line =
          cutFrom < 0 ? src : new Entry(0, 0, src, 0, undefined, cutFrom, cutTo, cuts).line;
        if (Buffer.byteLength(line) > cfg.maxLineBytes) {
          src = truncateUtf8(line, cfg.maxLineBytes);
          chars = src.length;
          cutFrom = cutTo = -1;
          cuts = undefined;
          out.truncated++;
        }
      }

      let meta: LabelPair[] | undefined;
      for (const m of this.metaPaths) {
        const v = getPath(fields, m.path);
        if (v === undefined || v === null || v === '') continue;
        (meta ??= []).push({ name: m.name, value: stringifyValue(v) });
      }

      const tkey = tenant ?? '';
      let p = pushes.get(tkey);
      if (!p) {
        p = { push: { tenant, streams: [], count: 0, bytes: 0 }, streams: new Map() };
        pushes.set(tkey, p);
        out.pushes.push(p.push);
      }
      let st = p.streams.get(desc.text);
      if (!st) {
        st = { labels: desc.text, pairs: desc.pairs, entries: [] };
        p.streams.set(desc.text, st);
        p.push.streams.push(st);
      }
      const seconds = Math.floor(ms / 1000);
      st.entries.push(
        new Entry(
          seconds,
          (ms - seconds * 1000) * 1_000_000 + ns,
          src,
          i,
          meta,
          cutFrom,
          cutTo,
          cuts,
        ),
      );
      p.push.count++;
      p.push.bytes += chars + 32;
    }
    for (const p of out.pushes) for (const s of p.streams) sortEntries(s.entries);
    if (refused > 0) out.explodingLabel = this.explodingLabel();
    return out;
  }

  /** The line text of a record. */
  line(rec: LogRecord): string {
    const fields = rec.fields;
    if (this.cfg.lineFormat === 'message') {
      const v = getPath(fields, this.messagePath);
      if (typeof v === 'string') return v;
      if (v !== undefined && v !== null) return stringifyValue(v);
      return recordJson(rec);
    }
    // A raw line no filter parsed: ship the line itself, not {"message":"..."}.
    if (rec.raw === undefined && typeof fields.message === 'string' && onlyKey(fields, 'message'))
      return fields.message;
    const top = this.topDrops;
    if (top !== undefined && top.length > 0) {
      if (rec.raw !== undefined && (rec.rawExtra === undefined || this.cutLines)) {
        const spliced = spliceTopKeys(rec.raw, top);
        if (spliced !== undefined)
          return rec.rawExtra === undefined
            ? spliced
            : appendRawExtra(spliced, fields, rec.rawExtra, top);
      }
      for (let i = 0; i < top.length; i++) {
        if (Object.hasOwn(fields, top[i]) && typeof fields.toJSON !== 'function') {
          const masked = stringifyMasked(fields, top);
          if (masked !== undefined) return masked;
          break;
        }
      }
    }
    const mixed = this.mixed;
    if (mixed !== undefined && rec.raw !== undefined) {
      const line = this.mixedLine(rec, mixed);
      if (line !== undefined) return line;
    }
    for (const p of this.dropPaths) {
      if (hasPath(fields, p)) return JSON.stringify(withoutPaths(fields, this.dropPaths));
    }
    return recordJson(rec);
  }

  /**
   * The line of a record with raw text when label fields are nested in its input metadata (the
   * kubernetes case): top-level label fields cut from the raw text, the metadata objects
   * serialised without their label fields and appended. Undefined when the shape does not fit
   * (a nested label field inside the parsed line): the caller copies the record instead.
   */
  private mixedLine(
    rec: LogRecord,
    mixed: { top: string[]; nested: Map<string, string[][]> },
  ): string | undefined {
    const fields = rec.fields;
    const extra = rec.rawExtra;
    for (const head of mixed.nested.keys()) {
      if (!Object.hasOwn(fields, head)) continue;
      if (extra === undefined || !extra.includes(head)) return undefined; // in the raw line
    }
    const raw = rec.raw!;
    const cut = mixed.top.length > 0 ? spliceTopKeys(raw, mixed.top) : raw;
    if (cut === undefined) return undefined;
    if (extra === undefined) return cut;
    return appendRawExtra(cut, fields, extra, mixed.top, (k, v) => {
      const tails = mixed.nested.get(k);
      if (tails === undefined || v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      return withoutPaths(v as Fields, tails);
    });
  }

  /**
   * A record for a dead letter, rebuilt from an entry as it was encoded (a sealed chunk no longer
   * holds its records): the line's JSON (or the message field) with the fields that became labels
   * put back, and the entry's time.
   */
  recordFromEntry(st: Stream, e: Entry): LogRecord {
    const line = e.line;
    let fields: Fields | undefined;
    if (this.cfg.lineFormat === 'json' && line.charCodeAt(0) === 123 /* { */) {
      try {
        const v: unknown = JSON.parse(line);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) fields = v as Fields;
      } catch {
        // not JSON: kept as the message below
      }
    }
    if (fields === undefined) {
      fields = {};
      setPath(fields, this.cfg.lineFormat === 'message' ? this.messagePath : ['message'], line);
    }
    for (const spec of this.dynamic) {
      const f = spec.template.fields;
      if (f.length !== 1 || spec.template.source !== `{${f[0]}}`) continue;
      const pair = st.pairs.find((p) => p[0] === spec.name);
      if (pair !== undefined && getPath(fields, f[0]) === undefined) setPath(fields, f[0], pair[1]);
    }
    // Per-record labels (the `label` filter's): stream labels that the config does not set.
    let labels: Record<string, string> | undefined;
    for (const [name, value] of st.pairs) {
      if (this.specs.some((s) => s.name === name)) continue;
      (labels ??= {})[name] = value;
    }
    const rec: LogRecord = {
      fields,
      timeMs: e.seconds * 1000 + Math.floor(e.nanos / 1e6),
      timeNs: e.nanos % 1e6,
    };
    if (labels !== undefined) rec.labels = labels;
    return rec;
  }

  private describe(rec: LogRecord): StreamDesc {
    const dyn = this.dynamic;
    const extra = rec.labels;
    if (dyn.length === 0 && extra === undefined) {
      let d = this.descCache.get('');
      if (!d) {
        d = buildDesc(this.constantPairs, undefined);
        this.descCache.set('', d);
      }
      return d;
    }
    if (extra === undefined) return this.describeTrie(rec);
    const values: string[] = new Array(dyn.length);
    let key = '';
    for (let i = 0; i < dyn.length; i++) {
      const v = dyn[i].template.render(rec.fields);
      values[i] = v;
      key += v + '\u0001';
    }
    if (extra !== undefined) {
      key += '\u0002';
      for (const k in extra) key += k + '\u0003' + extra[k] + '\u0001';
    }
    let d = this.descCache.get(key);
    if (!d) {
      if (this.descCache.size >= Math.max(4096, this.cfg.maxStreams * 2)) this.descCache.clear();
      const pairs: Array<[string, string]> = this.constantPairs.slice();
      for (let i = 0; i < dyn.length; i++) pairs.push([dyn[i].name, values[i]]);
      d = buildDesc(pairs, extra);
      this.descCache.set(key, d);
    }
    return d;
  }

  /** describe() for a record without per-record labels: rendered values walk a Map trie. */
  private describeTrie(rec: LogRecord): StreamDesc {
    const dyn = this.dynamic;
    const last = dyn.length - 1;
    let node = this.descTrie;
    for (let i = 0; i < last; i++) {
      const next = node.get(dyn[i].template.render(rec.fields)) as Map<string, unknown> | undefined;
      if (next === undefined) return this.addTrie(rec);
      node = next;
    }
    const d = node.get(dyn[last].template.render(rec.fields)) as StreamDesc | undefined;
    return d ?? this.addTrie(rec);
  }

  private addTrie(rec: LogRecord): StreamDesc {
    const dyn = this.dynamic;
    if (this.trieSize >= Math.max(4096, this.cfg.maxStreams * 2)) {
      this.descTrie = new Map();
      this.trieSize = 0;
    }
    const pairs: Array<[string, string]> = this.constantPairs.slice();
    let node = this.descTrie;
    for (let i = 0; i < dyn.length; i++) {
      const v = dyn[i].template.render(rec.fields);
      pairs.push([dyn[i].name, v]);
      if (i === dyn.length - 1) break;
      let next = node.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(v, (next = new Map()));
      node = next;
    }
    const d = buildDesc(pairs, undefined);
    node.set(pairs[pairs.length - 1][1], d);
    this.trieSize++;
    return d;
  }

  /** Admit a new stream; undefined when admitted, else which limit refused it. */
  private admit(desc: StreamDesc, now: number, source?: string): 'max' | 'quota' | undefined {
    const q = this.quota;
    const full = (): boolean =>
      this.active.size >= this.cfg.maxStreams ||
      (q !== undefined && (this.perSource.get(source!) ?? 0) >= q.max);
    if (full() && now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      for (const [k, v] of this.active) {
        if (now - v.seen <= STREAM_IDLE_MS) continue;
        this.active.delete(k);
        if (v.source !== undefined) {
          const n = (this.perSource.get(v.source) ?? 1) - 1;
          if (n <= 0) this.perSource.delete(v.source);
          else this.perSource.set(v.source, n);
        }
      }
    }
    // One source's share first: it is what a single noisy producer exhausts.
    if (q !== undefined && (this.perSource.get(source!) ?? 0) >= q.max) return 'quota';
    if (this.active.size >= this.cfg.maxStreams) return 'max';
    this.active.set(desc.text, { seen: now, pairs: desc.pairs, source });
    if (source !== undefined) this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    return undefined;
  }

  /** Active streams counted against max_streams. */
  get activeStreams(): number {
    return this.active.size;
  }

  /** The label with the most distinct values among the active streams: the one that explodes. */
  explodingLabel(): { name: string; values: number } | undefined {
    const distinct = new Map<string, Set<string>>();
    for (const { pairs } of this.active.values()) {
      for (const [n, v] of pairs) {
        let s = distinct.get(n);
        if (!s) distinct.set(n, (s = new Set()));
        s.add(v);
      }
    }
    let best: { name: string; values: number } | undefined;
    for (const [name, s] of distinct) {
      if (!best || s.size > best.values) best = { name, values: s.size };
    }
    return best;
  }
}

function buildDesc(
  configured: Array<[string, string]>,
  extra: Record<string, string> | undefined,
): StreamDesc {
  const map = new Map<string, string>();
  for (const [n, v] of configured) map.set(n, v);
  // Labels promoted per record (the `label` filter) win over the output's static ones.
  if (extra) {
    for (const k in extra) {
      const n = sanitizeLabelName(k);
      if (n !== undefined) map.set(n, extra[k]);
    }
  }
  let pairs: Array<[string, string]> = [];
  for (const [n, v] of map) {
    if (v === '') continue; // Loki drops empty label values; an empty label is no label
    pairs.push([n, v.length > MAX_LABEL_VALUE ? v.slice(0, MAX_LABEL_VALUE) : v]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let dropped = 0;
  if (pairs.length > MAX_LABELS) {
    // Loki rejects a stream with more than 15 labels outright: keep the configured ones first.
    const configuredNames = new Set(configured.map((p) => p[0]));
    const keep = [
      ...pairs.filter((p) => configuredNames.has(p[0])),
      ...pairs.filter((p) => !configuredNames.has(p[0])),
    ].slice(0, MAX_LABELS);
    dropped = pairs.length - keep.length;
    const names = new Set(keep.map((p) => p[0]));
    pairs = pairs.filter((p) => names.has(p[0]));
  }
  if (pairs.length === 0) pairs = FALLBACK_LABELS.map((p) => [p[0], p[1]]);
  return { text: labelsText(pairs), pairs, dropped };
}

function sortEntries(entries: Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    if (cmpEntry(entries[i - 1], entries[i]) > 0) {
      entries.sort(cmpEntry); // stable: equal timestamps keep their order
      return;
    }
  }
}

function cmpEntry(a: Entry, b: Entry): number {
  return a.seconds - b.seconds || a.nanos - b.nanos;
}

function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

// ---------------------------------------------------------------------------------------------
// Bodies

/**
 * logproto.PushRequest bytes in a reused buffer, valid until the next call: compress or copy them
 * at once (the hot path snappy-compresses them synchronously). Written by wire.ts; the protobufjs
 * definition in logproto.ts is the reference it is tested against.
 */
export function encodeProtobufView(push: Push): Buffer {
  return writePushRequest(push.streams);
}

/** logproto.PushRequest bytes (a copy the caller owns). */
export function encodeProtobuf(push: Push): Uint8Array {
  return Buffer.from(writePushRequest(push.streams));
}

/** The JSON push body: `{"streams":[{"stream":{…},"values":[["<ns>","line",{meta}]]}]}`. */
export function encodeJson(push: Push): string {
  let s = '{"streams":[';
  for (let i = 0; i < push.streams.length; i++) {
    const st = push.streams[i];
    if (i > 0) s += ',';
    s += '{"stream":{';
    for (let j = 0; j < st.pairs.length; j++) {
      if (j > 0) s += ',';
      s += JSON.stringify(st.pairs[j][0]) + ':' + JSON.stringify(st.pairs[j][1]);
    }
    s += '},"values":[';
    for (let j = 0; j < st.entries.length; j++) {
      const e = st.entries[j];
      if (j > 0) s += ',';
      s += '["' + nsString(e.seconds, e.nanos) + '",' + JSON.stringify(e.line);
      if (e.structuredMetadata) {
        s += ',{';
        for (let k = 0; k < e.structuredMetadata.length; k++) {
          const m = e.structuredMetadata[k];
          if (k > 0) s += ',';
          s += JSON.stringify(m.name) + ':' + JSON.stringify(m.value);
        }
        s += '}';
      }
      s += ']';
    }
    s += ']}';
  }
  return s + ']}';
}

// ---------------------------------------------------------------------------------------------
// Reading a 400 back onto entries

/**
 * Map the messages of a Loki 400 body to the entries of `push` they reject. Loki validates each
 * entry, stores the valid ones and answers 400 listing the others (distributor: age, future,
 * line size, label errors; ingester: out of order / too far behind). Returns chunk index → reason,
 * or undefined when the body names nothing we can attribute (the caller then treats every entry
 * as rejected).
 */
export function attributeRejections(body: string, push: Push): Map<number, string> | undefined {
  const byLabels = new Map<string, Stream>();
  for (const s of push.streams) byLabels.set(s.labels, s);
  const out = new Map<number, string>();
  const pendingIgnored: Array<{ t: [number, number]; msg: string; behind?: string }> = [];
  let understood = 0;
  for (const raw of body.split('\n')) {
    const msg = raw.trim().replace(/,$/, '');
    if (!msg) continue;
    let m: RegExpExecArray | null;
    const reject = (
      st: Stream | undefined,
      pred: (e: Entry) => boolean,
      why: string = msg,
    ): boolean => {
      if (!st) return false;
      let hit = false;
      for (const e of st.entries) {
        if (pred(e)) {
          hit = true;
          if (!out.has(e.index)) out.set(e.index, `loki 400: ${why}`);
        }
      }
      return hit;
    };
    if (
      (m =
        /^entry for stream '(\{.*\})' has timestamp too old: (\S+), oldest acceptable timestamp is: (\S+)$/.exec(
          msg,
        ))
    ) {
      const cutoff = Date.parse(m[3]);
      const st = byLabels.get(m[1]);
      if (reject(st, (e) => e.seconds * 1000 < cutoff || rfc3339s(e) === m![2])) understood++;
    } else if ((m = /^entry for stream '(\{.*\})' has timestamp too new: (\S+)$/.exec(msg))) {
      const ts = m[2];
      if (reject(byLabels.get(m[1]), (e) => rfc3339s(e) === ts)) understood++;
    } else if (
      (m =
        /^Max entry size '(\d+)' bytes exceeded for stream '(\{.*\})' while adding an entry with length '(\d+)' bytes$/.exec(
          msg,
        ))
    ) {
      const len = Number(m[3]);
      if (reject(byLabels.get(m[2]), (e) => Buffer.byteLength(e.line) === len)) understood++;
    } else if ((m = /^entry with timestamp (.+?) ignored, reason: '(.*)',?$/.exec(msg))) {
      // Ingester format: entries listed first, then "total ignored … for stream: {…}".
      const t = parseGoTime(m[1]);
      if (t)
        pendingIgnored.push({
          t,
          msg,
          behind: /oldest acceptable timestamp is: (\S+?)'?,?$/.exec(msg)?.[1],
        });
    } else if ((m = /total ignored: (\d+) out of \d+ for stream: (\{.*\})$/.exec(msg))) {
      const st = byLabels.get(m[2]);
      const listed = pendingIgnored.splice(0);
      let hit = false;
      for (const p of listed) {
        const same = (e: Entry): boolean => e.seconds === p.t[0] && e.nanos === p.t[1];
        let n = 0;
        for (const e of st?.entries ?? []) if (same(e)) n++;
        // Loki names entries by timestamp only: when several share it, all of them are
        // dead-lettered (a superset is safe; counting a refused entry as stored would lose it).
        const why =
          n > 1
            ? `${p.msg} (${n} entries share this timestamp; Loki does not say which one)`
            : p.msg;
        if (reject(st, same, why)) hit = true;
        // Loki lists at most a few entries; "too far behind" names the cutoff for the rest.
        if (p.behind !== undefined) {
          const cutoff = Date.parse(p.behind);
          if (reject(st, (e) => e.seconds * 1000 < cutoff, p.msg)) hit = true;
        }
      }
      if (hit) understood++;
    } else if (
      (m =
        /^(?:entry for )?stream '(\{.*\})' has (?:\d+ label names; limit \d+|duplicate label name: .*|label name too long: .*|label value too long: .*)$/.exec(
          msg,
        )) ||
      (m = /^Error parsing labels '(\{.*\})' with error: .*$/.exec(msg))
    ) {
      if (reject(byLabels.get(m[1]), () => true)) understood++;
    }
  }
  return understood > 0 ? out : undefined;
}

/** The entry time as Go's time.RFC3339 in UTC (second precision), as Loki prints it. */
function rfc3339s(e: Entry): string {
  return new Date(e.seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Go's time.Time String(): `2006-01-02 15:04:05.999999999 -0700 MST` → [seconds, nanos]. */
export function parseGoTime(s: string): [number, number] | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))? ([+-]\d{2})(\d{2})/.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4]}:${m[5]}`);
  if (Number.isNaN(ms)) return undefined;
  return [ms / 1000, Number((m[3] ?? '').padEnd(9, '0'))];
}
