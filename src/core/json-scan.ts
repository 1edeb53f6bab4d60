// One validating pass over a JSON object line (issue #22): the grammar JSON.parse accepts, the
// nesting bound, duplicate keys, and where each top-level member lies in the text, so parse_json
// can keep the line as the record (its fields built only when something reads them) and outputs
// take label values and member boundaries from the spans instead of parsing or re-scanning.
// Anything this pass does not decide cheaply (escapes in keys, objects of many keys, a top level
// that is not an object, nesting beyond the bound) is SCAN_UNSURE: the caller parses the usual way.

/** The text is not JSON (JSON.parse would throw). */
export const SCAN_INVALID = -1;
/** Not decided here: the caller takes JSON.parse's path. */
export const SCAN_UNSURE = -2;

/** Flag bit of `spans[0]`: the text is exactly what JSON.stringify writes for its value. */
export const CANONICAL = 1;
/**
 * Flag bit of `spans[0]`: the text is what JSON.stringify writes but for some numbers (93.910,
 * 1e5, -0), whose [start, end) pairs follow the members (from `spans[1]`).
 */
export const NUMBERS = 2;

/**
 * A scan's output as records keep it: parse_json copies scanObject's ints into a pooled
 * Int32Array (json-record.ts, SpanPool), tests pass plain arrays.
 */
export type Spans = ArrayLike<number>;

/** Ints per top-level member in the spans: key quote, key end quote, value start, value end, kind. */
export const MEMBER = 5;
/** Offset of the first member in the spans (after the flags and the members' end). */
export const HEAD = 2;

/** Value kinds of a member. */
export const K_STRING = 0; // a string without escapes
export const K_ESCAPED = 1; // a string with escapes
export const K_NUMBER = 2;
export const K_TRUE = 3;
export const K_FALSE = 4;
export const K_NULL = 5;
export const K_OBJECT = 6;
export const K_ARRAY = 7;

/** Keys per object compared for duplicates; an object with more is SCAN_UNSURE. */
const MAX_KEYS = 64;
/** Deeper containers are not as JSON.stringify's text is cut by the Loki output (json-cut.ts). */
const CANONICAL_DEPTH = 66;
/** Spans written at most (more top-level members make the scan SCAN_UNSURE anyway). */
const MAX_OUT = HEAD + MEMBER * (MAX_KEYS + 1);
/** Numbers listed for NUMBERS at most (more: not canonical). */
const MAX_FIXES = 32;
/** Longest spans scanObject writes. */
export const MAX_SPANS = MAX_OUT + 2 * MAX_FIXES;

let ctype = new Uint8Array(128);
let keyFloor = new Int32Array(128);
let keys = new Int32Array(256);
let canonical = 0;
let escaped = false;
/** Non-canonical numbers of the text: [start, end) pairs. */
const fixes = new Int32Array(2 * MAX_FIXES);
let nfix = 0;
let colonMark = false;
/** The text has no backslash, control character or surrogate: a string ends at the next quote. */
let plain = false;
// eslint-disable-next-line no-control-regex
const SPECIAL = /[\u0000-\u001f\ud800-\udfff]/;

/**
 * Scan `s` as a JSON object nested at most `maxDepth` deep (the object itself is depth 1, as
 * parse_json's max_depth counts) without duplicate keys at any level. Writes into `out`: the
 * flags (CANONICAL or NUMBERS), where the members end, MEMBER ints per top-level member from HEAD,
 * then (NUMBERS) the [start, end) pairs of the numbers to rewrite. Returns how many ints it wrote,
 * or SCAN_INVALID / SCAN_UNSURE.
 */
export function scanObject(s: string, maxDepth: number, out: number[]): number {
  const n = s.length;
  let i = 0;
  canonical = CANONICAL;
  colonMark = false;
  nfix = 0;
  // Both native passes: the common line then finds each string's end with indexOf.
  plain = s.indexOf('\\') === -1 && !SPECIAL.test(s);
  let c = s.charCodeAt(0);
  if (c <= 32) {
    i = skipWs(s, 0);
    c = s.charCodeAt(i);
  }
  if (c !== 123 /* { */) return c === c ? SCAN_UNSURE : SCAN_INVALID; // NaN: empty
  if (maxDepth < 1) return SCAN_UNSURE;
  if (maxDepth >= ctype.length) {
    if (maxDepth > 100_000) return SCAN_UNSURE;
    ctype = new Uint8Array(maxDepth + 1);
    keyFloor = new Int32Array(maxDepth + 1);
  }
  // The scratch arrays in locals (module bindings cost a context load and a hole check).
  const ct = ctype;
  const kf = keyFloor;
  let ky = keys;
  let depth = 1;
  ct[1] = 123;
  kf[1] = 0;
  let nk = 0;
  let unsure = false;
  let o = HEAD;
  let ks = 0;
  let ke = 0;
  i++;
  c = s.charCodeAt(i);
  if (c <= 32) c = s.charCodeAt((i = skipWs(s, i)));
  if (c === 125 /* } */) {
    i++;
    depth = 0;
  }
  while (depth > 0) {
    // At the start of a member (object) or element (array), whitespace skipped.
    if (ct[depth] === 123) {
      if (c !== 34) return SCAN_INVALID;
      ks = i;
      escaped = false;
      ke = stringEnd(s, i + 1, n);
      if (ke < 0) return ke;
      // Duplicate keys: compared with the keys of this object so far. What is not decided here
      // (escaped keys, many keys) is scanned on, so a text JSON.parse refuses is still INVALID.
      if (escaped) unsure = true;
      else if (!unsure) {
        const floor = kf[depth];
        const len = ke - ks;
        for (let k = floor; k < nk; k += 2) {
          if (ky[k + 1] - ky[k] === len && sameText(s, ky[k], ks, len)) unsure = true;
        }
        if (nk - floor >= MAX_KEYS * 2) unsure = true;
        if (nk + 2 > ky.length) {
          const next = new Int32Array(ky.length * 2);
          next.set(ky);
          keys = ky = next;
        }
        ky[nk++] = ks;
        ky[nk++] = ke;
      }
      if (canonical !== 0 && indexLike(s, ks + 1, ke)) canonical = 0;
      i = ke + 1;
      c = s.charCodeAt(i);
      if (c <= 32) c = s.charCodeAt((i = skipWs(s, i)));
      if (c !== 58 /* : */) return SCAN_INVALID;
      c = s.charCodeAt(++i);
      if (c <= 32) c = s.charCodeAt((i = skipWs(s, i)));
    }
    const vs = i;
    let kind: number;
    if (c === 34) {
      escaped = false;
      const e = stringEnd(s, i + 1, n);
      if (e < 0) return e;
      i = e + 1;
      kind = escaped ? K_ESCAPED : K_STRING;
    } else if (c === 123 || c === 91 /* [ */) {
      if (depth === 1 && o < MAX_OUT) {
        out[o] = ks;
        out[o + 1] = ke;
        out[o + 2] = vs;
        out[o + 4] = c === 123 ? K_OBJECT : K_ARRAY;
      }
      if (++depth > maxDepth) return SCAN_UNSURE;
      if (depth > CANONICAL_DEPTH) canonical = 0;
      ct[depth] = c;
      kf[depth] = nk;
      c = s.charCodeAt(++i);
      if (c <= 32) c = s.charCodeAt((i = skipWs(s, i)));
      if (c !== (ct[depth] === 123 ? 125 : 93)) continue;
      // An empty container: closed below like any other.
      kind = -1;
    } else if (c === 116 /* t */) {
      if (!s.startsWith('true', i)) return SCAN_INVALID;
      i += 4;
      kind = K_TRUE;
    } else if (c === 102 /* f */) {
      if (!s.startsWith('false', i)) return SCAN_INVALID;
      i += 5;
      kind = K_FALSE;
    } else if (c === 110 /* n */) {
      if (!s.startsWith('null', i)) return SCAN_INVALID;
      i += 4;
      kind = K_NULL;
    } else {
      i = numberEnd(s, i, n);
      if (i < 0) return SCAN_INVALID;
      kind = K_NUMBER;
    }
    if (kind >= 0 && depth === 1 && o < MAX_OUT) {
      out[o] = ks;
      out[o + 1] = ke;
      out[o + 2] = vs;
      out[o + 3] = i;
      out[o + 4] = kind;
      o += MEMBER;
    }
    // After a value: a comma (next member) or closing brackets.
    for (;;) {
      c = s.charCodeAt(i);
      if (c <= 32) c = s.charCodeAt((i = skipWs(s, i)));
      if (c === 44 /* , */) {
        c = s.charCodeAt(++i);
        if (c <= 32) c = s.charCodeAt((i = skipWs(s, i)));
        break;
      }
      const t = ct[depth];
      if (c !== (t === 123 ? 125 : 93)) return SCAN_INVALID;
      if (t === 123) nk = kf[depth];
      i++;
      if (--depth === 0) break;
      if (depth === 1 && o < MAX_OUT) {
        out[o + 3] = i;
        o += MEMBER;
      }
    }
  }
  if (i < n) {
    i = skipWs(s, i);
    if (i < n) return SCAN_INVALID;
  }
  if (unsure || colonMark) return SCAN_UNSURE;
  out[1] = o;
  if (canonical !== 0 && nfix > 0) {
    out[0] = NUMBERS;
    for (let f = 0; f < nfix; f++) out[o++] = fixes[f];
  } else out[0] = canonical;
  return o;
}

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) {
      canonical = 0;
      i++;
    } else return i;
  }
}

function sameText(s: string, a: number, b: number, len: number): boolean {
  for (let j = 1; j < len; j++) if (s.charCodeAt(a + j) !== s.charCodeAt(b + j)) return false;
  return true;
}

/** A key of digits only: V8 orders integer-like keys first, so JSON.stringify's order differs. */
export function indexLike(s: string, from: number, to: number): boolean {
  if (to === from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function hex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Index of the closing quote of the string whose text starts at `i`, or SCAN_INVALID. Sets
 * `escaped` on a backslash and clears `canonical` on what JSON.stringify would write otherwise
 * (\/ and \u escapes, lone surrogates).
 */
function stringEnd(s: string, i: number, n: number): number {
  if (plain) {
    const e = s.indexOf('"', i);
    if (e < 0) return SCAN_INVALID;
    // keyMarks' `"<spaces>:` can only start at the opening quote here (no escaped quotes).
    let c = s.charCodeAt(i);
    if (c === 32 || c === 58) {
      let j = i;
      while (c === 32) c = s.charCodeAt(++j);
      if (c === 58 && j < e) colonMark = true;
    }
    return e;
  }
  for (;;) {
    if (i >= n) return SCAN_INVALID;
    const c = s.charCodeAt(i);
    if (c === 34) return i;
    if (c === 92) {
      escaped = true;
      const e = s.charCodeAt(i + 1);
      if (e === 34 || e === 92 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2;
      } else if (e === 47 /* / */) {
        canonical = 0;
        i += 2;
      } else if (e === 117 /* u */) {
        if (
          !hex(s.charCodeAt(i + 2)) ||
          !hex(s.charCodeAt(i + 3)) ||
          !hex(s.charCodeAt(i + 4)) ||
          !hex(s.charCodeAt(i + 5))
        )
          return SCAN_INVALID;
        canonical = 0;
        i += 6;
      } else return SCAN_INVALID;
    } else if (c < 32) {
      return SCAN_INVALID;
    } else if (c === 58 /* : */) {
      // `"<spaces>:` inside a string: parse_json's keyMarks would count a key here and not keep
      // the line as the record's text; so that it is kept exactly when it was, JSON.parse decides.
      let j = i - 1;
      while (s.charCodeAt(j) === 32) j--;
      if (s.charCodeAt(j) === 34) colonMark = true;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) i += 2;
      else {
        canonical = 0; // JSON.stringify escapes a lone surrogate
        i++;
      }
    } else i++;
  }
}

/**
 * For callers outside a scan (Loki's fallback cutter): index of the closing quote of the string
 * whose text starts at `i`, or -1 when it is invalid or not as JSON.stringify writes it (\/ and
 * \u escapes, lone surrogates). Scans are synchronous and reset this state when they start.
 */
export function canonicalStringEnd(s: string, i: number): number {
  plain = false;
  canonical = CANONICAL;
  const e = stringEnd(s, i, s.length);
  return canonical === 0 ? SCAN_INVALID : e;
}

/**
 * Index just past the number at `start` (JSON's grammar), or SCAN_INVALID. Clears `canonical`
 * when Number → String would not write it back the same.
 */
function numberEnd(s: string, start: number, n: number): number {
  let i = start;
  let c = s.charCodeAt(i);
  if (c === 45 /* - */) c = s.charCodeAt(++i);
  const digits = i;
  if (c === 48) c = s.charCodeAt(++i);
  else if (c >= 49 && c <= 57) {
    do c = s.charCodeAt(++i);
    while (c >= 48 && c <= 57);
  } else return SCAN_INVALID;
  const intEnd = i;
  let simple = true;
  if (c === 46 /* . */) {
    simple = false;
    c = s.charCodeAt(++i);
    if (!(c >= 48 && c <= 57)) return SCAN_INVALID;
    do c = s.charCodeAt(++i);
    while (c >= 48 && c <= 57);
  }
  let fracOnly = !simple;
  if (c === 101 || c === 69 /* e E */) {
    simple = false;
    fracOnly = false;
    c = s.charCodeAt(++i);
    if (c === 43 || c === 45) c = s.charCodeAt(++i);
    if (!(c >= 48 && c <= 57)) return SCAN_INVALID;
    do c = s.charCodeAt(++i);
    while (c >= 48 && c <= 57);
  }
  if (canonical === 0 || i > n) return i;
  const len = intEnd - digits;
  if (simple && len <= 15) {
    // 0 is canonical; -0 prints as 0; a leading zero cannot be here (grammar).
    if (s.charCodeAt(digits) === 48 && (len > 1 || digits !== start)) numberFix(start, i);
    return i;
  }
  if (canonicalDecimal(s, digits, i)) return i;
  // A fraction ending in 0 without exponent (12.340) never prints as written: no conversion.
  if (fracOnly && s.charCodeAt(i - 1) === 48) {
    numberFix(start, i);
    return i;
  }
  const text = s.slice(start, i);
  const v = Number(text);
  if (!(Number.isFinite(v) && String(v) === text)) numberFix(start, i);
  return i;
}

function numberFix(start: number, end: number): void {
  if (nfix === fixes.length) canonical = 0;
  else {
    fixes[nfix++] = start;
    fixes[nfix++] = end;
  }
}

/** A number's text as JSON.stringify writes its value. */
export function numberJson(text: string): string {
  const v = Number(text);
  return Number.isFinite(v) ? String(v) : 'null';
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

/** The value of the top-level member at spans offset `m` (as JSON.parse gives it). */
export function memberValue(s: string, spans: Spans, m: number): unknown {
  const vs = spans[m + 2];
  const ve = spans[m + 3];
  switch (spans[m + 4]) {
    case K_STRING:
      return s.slice(vs + 1, ve - 1);
    case K_NUMBER:
      return Number(s.slice(vs, ve));
    case K_TRUE:
      return true;
    case K_FALSE:
      return false;
    case K_NULL:
      return null;
    default:
      return JSON.parse(s.slice(vs, ve)) as unknown;
  }
}

/**
 * Spans offset of the top-level member named `key` (a key without escapes), or -1. `at`: where
 * the scan's output starts in `spans` (a SpanPool block); the offset returned counts from 0.
 */
export function findMember(s: string, spans: Spans, key: string, at = 0): number {
  const len = key.length;
  const end = at + spans[at + 1];
  for (let m = at + HEAD; m < end; m += MEMBER) {
    const ks = spans[m];
    if (spans[m + 1] - ks - 1 === len && s.startsWith(key, ks + 1)) return m;
  }
  return -1;
}
