// The pure part of parse_json: parse a line into an object, bound its nesting, and decide whether
// the line can stand in for the object's JSON text (so outputs reuse the bytes, no re-serialise).

import type { Fields } from '../../../core/record.js';

export type JsonResult = { ok: true; value: unknown } | { ok: false; reason: string };

function firstNonSpace(s: string): number {
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 0xfeff) return c;
    i++;
  }
  return -1;
}

/**
 * Parse `text`; `objectOnly` rejects anything but an object (for a merge into the root). A cheap
 * first-character check avoids the cost of a thrown SyntaxError for plain-text lines.
 */
export function parseJson(text: string, objectOnly: boolean): JsonResult {
  const c = firstNonSpace(text);
  if (objectOnly ? c !== 123 /* { */ : c === -1) {
    return { ok: false, reason: objectOnly ? 'not a JSON object' : 'empty' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${(e as Error).message.slice(0, 120)}` };
  }
}

// Reused explicit stack: the walk is iterative so hostile nesting cannot overflow the call stack.
const stackV: unknown[] = [];
const stackD: number[] = [];

/**
 * Walk a parsed value without recursion. Returns the number of object keys in it, or -1 when it
 * nests deeper than `maxDepth`.
 */
export function inspect(value: unknown, maxDepth: number): number {
  if (value === null || typeof value !== 'object') return 0;
  let keys = 0;
  let sp = 0;
  stackV[sp] = value;
  stackD[sp++] = 1;
  while (sp > 0) {
    const v = stackV[--sp];
    const d = stackD[sp];
    stackV[sp] = undefined;
    if (d > maxDepth) {
      for (let k = 0; k < sp; k++) stackV[k] = undefined;
      return -1;
    }
    if (Array.isArray(v)) {
      for (let k = 0; k < v.length; k++) {
        const e: unknown = v[k];
        if (e !== null && typeof e === 'object') {
          stackV[sp] = e;
          stackD[sp++] = d + 1;
        }
      }
    } else {
      const o = v as Fields;
      for (const k in o) {
        keys++;
        const e = o[k];
        if (e !== null && typeof e === 'object') {
          stackV[sp] = e;
          stackD[sp++] = d + 1;
        }
      }
    }
  }
  return keys;
}

/**
 * Count `"<ws>:` in the text: each object key of the JSON text produces exactly one (a string
 * value may add more). When that count equals the number of keys of the parsed object, the text
 * has no duplicate keys, so it means exactly the parsed object and can be reused as its JSON.
 */
export function keyMarks(text: string): number {
  let n = 0;
  let i = text.indexOf(':');
  while (i !== -1) {
    let j = i - 1;
    let c = text.charCodeAt(j);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(--j);
    if (c === 34 /* " */) n++;
    i = text.indexOf(':', i + 1);
  }
  return n;
}
