// JSON lines without the fields that became labels, made as cheaply as the record allows:
//   - cut out of the record's raw JSON text (findCuts / spliceTopKeys) when that text is exactly
//     what JSON.stringify would write, so the line is the input bytes minus a few ranges;
//   - serialised with the label keys masked for the one call (stringifyMasked);
//   - serialised from a copy without the label paths (withoutPaths).
// No state between calls: scratch arrays are the caller's (the encoder keeps one of each).

import type { Fields } from '../../../core/record.js';
import {
  canonicalDecimal,
  canonicalStringEnd,
  HEAD,
  indexLike,
  MEMBER,
  numberJson,
  type Spans,
} from '../../../core/json-scan.js';

export { canonicalDecimal } from '../../../core/json-scan.js';

export function onlyKey(fields: Fields, key: string): boolean {
  let n = 0;
  for (const k in fields) {
    if (k !== key || ++n > 1) return false;
  }
  return n === 1;
}

export function hasPath(fields: Fields, path: readonly string[]): boolean {
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
export function findCuts(
  raw: string,
  drop: readonly string[],
  out: number[],
  /** `Buffer.byteLength(raw)` when the caller has it (saves computing it again here). */
  bytes = -1,
): number {
  const n = raw.length;
  if (n < 2 || raw.charCodeAt(0) !== 123 /* { */) return -1;
  if (raw.charCodeAt(1) === 125 /* } */) return n === 2 ? 0 : -1;
  const plain = isPlain(raw, bytes);
  let k = 0;
  let keptBefore = false;
  let i = 1;
  for (;;) {
    if (raw.charCodeAt(i) !== 34) return -1;
    const ks = i + 1;
    const ke = stringEnd(raw, ks, plain);
    if (ke < 0 || indexLike(raw, ks, ke) || raw.charCodeAt(ke + 1) !== 58 /* : */) return -1;
    const ve = valueEnd(raw, ke + 2, 0, plain);
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

/**
 * findCuts from a scanned record's member spans (json-scan.ts) of a canonical `raw`: the same
 * cuts without a pass over the text. `at`: where the spans start in `spans` (a SpanPool block).
 */
export function spanCuts(
  raw: string,
  spans: Spans,
  drop: readonly string[],
  out: number[],
  at = 0,
): number {
  const end = at + spans[at + 1];
  const last = end - MEMBER;
  let k = 0;
  let keptBefore = false;
  for (let m = at + HEAD; m < end; m += MEMBER) {
    const ks = spans[m];
    if (isDropped(raw, ks + 1, spans[m + 1], drop)) {
      const ve = spans[m + 3];
      const from = keptBefore ? ks - 1 : ks;
      const to = keptBefore || m === last ? ve : ve + 1;
      if (k > 0 && out[k - 1] === from) out[k - 1] = to;
      else {
        out[k++] = from;
        out[k++] = to;
      }
    } else keptBefore = true;
  }
  return k;
}

/**
 * `JSON.stringify(fields)` without the top-level keys `drop` for a scanned text that is canonical
 * but for the numbers its spans list (json-scan NUMBERS): the text without spanCuts' ranges, those
 * numbers written as JSON.stringify writes them. `scratch` receives the cuts. The spans are
 * `spans[at, at + len)`.
 */
export function fixedLine(
  raw: string,
  spans: Spans,
  drop: readonly string[],
  scratch: number[],
  at = 0,
  len = spans.length - at,
): string {
  const k = spanCuts(raw, spans, drop, scratch, at);
  let s = '';
  let pos = 0;
  let c = 0;
  for (let f = at + spans[at + 1]; f < at + len; f += 2) {
    const from = spans[f];
    // Cuts that end before this number; a number inside a cut goes with it.
    while (c < k && scratch[c + 1] <= from) {
      s += raw.slice(pos, scratch[c]);
      pos = scratch[c + 1];
      c += 2;
    }
    if (c < k && scratch[c] <= from) continue;
    s += raw.slice(pos, from) + numberJson(raw.slice(from, spans[f + 1]));
    pos = spans[f + 1];
  }
  for (; c < k; c += 2) {
    s += raw.slice(pos, scratch[c]);
    pos = scratch[c + 1];
  }
  return s + raw.slice(pos);
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

/**
 * `JSON.stringify(fields)` without the top-level keys `drop`, cut out of `raw` (see findCuts):
 * `raw` itself when no dropped key is in it, undefined when the text is not canonical.
 * `scratch` receives the cuts (pass one array per caller to avoid an allocation per line).
 */
export function spliceTopKeys(
  raw: string,
  drop: readonly string[],
  scratch: number[] = [],
): string | undefined {
  const k = findCuts(raw, drop, scratch);
  if (k < 0) return undefined;
  return k === 0 ? raw : applyCuts(raw, scratch, 0, k);
}

function isDropped(raw: string, ks: number, ke: number, drop: readonly string[]): boolean {
  const len = ke - ks;
  for (let d = 0; d < drop.length; d++) {
    if (drop[d].length === len && raw.startsWith(drop[d], ks)) return true;
  }
  return false;
}

/** Characters that need a closer look inside strings: escapes, controls, surrogates. */
// eslint-disable-next-line no-control-regex
const SPECIAL = /[\\\u0000-\u001f\ud800-\udfff]/;

/**
 * The text has none of SPECIAL. An ASCII text without a backslash has none but controls, and
 * controls are not in the JSON text of a record: raw is set only from a line JSON.parse accepted
 * (which refuses a control inside a string) and findCuts refuses them outside strings. Deciding
 * that takes a backslash search and a UTF-8 length (both native, a fraction of the RegExp scan).
 */
function isPlain(raw: string, bytes: number): boolean {
  if (raw.indexOf('\\') !== -1) return false;
  if (bytes < 0) bytes = Buffer.byteLength(raw, 'utf8');
  return bytes === raw.length || !SPECIAL.test(raw);
}
/**
 * Index of the closing quote of the string starting at `i`, or -1 (not as JSON.stringify writes
 * it). `plain`: the text has none of SPECIAL, so a string ends at the next quote.
 */
function stringEnd(raw: string, i: number, plain: boolean): number {
  return plain ? raw.indexOf('"', i) : canonicalStringEnd(raw, i);
}

/** Index just past the JSON value starting at `i`, or -1 (invalid or not canonical). */
function valueEnd(raw: string, i: number, depth: number, plain: boolean): number {
  const c = raw.charCodeAt(i);
  if (c === 34) {
    const e = stringEnd(raw, i + 1, plain);
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
        const ke = stringEnd(raw, i + 1, plain);
        if (ke < 0 || indexLike(raw, i + 1, ke) || raw.charCodeAt(ke + 1) !== 58) return -1;
        i = ke + 2;
      }
      i = valueEnd(raw, i, depth + 1, plain);
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

const ABSENT = Symbol('absent');

/**
 * `JSON.stringify(fields)` without the top-level keys `drop`: their values are set to undefined
 * (which JSON.stringify leaves out) for the one call and put back before returning, so the object
 * keeps its shape and V8's fast serializer; no copy, no delete. Undefined when the object refuses
 * the assignment (frozen, read-only key): the caller takes the copying path.
 */
export function stringifyMasked(
  fields: Fields,
  drop: readonly string[],
  /** Where the masked values wait (the caller's, emptied again before returning). */
  saved: unknown[] = [],
): string | undefined {
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
