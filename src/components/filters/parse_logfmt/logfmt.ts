// A linear, allocation-light logfmt parser: `key=value key="quoted \"value\"" flag`. A bare key
// is `true`. Keys run to `=` or whitespace; unquoted values run to whitespace. The last of
// repeated keys wins. Returns undefined when the text holds no key=value pair at all.

import type { Fields } from '../../../core/record.js';

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

export function parseLogfmt(
  text: string,
  onPair: (out: Fields, key: string, value: string | true, quoted: boolean) => void,
): Fields | undefined {
  const out: Fields = {};
  const n = text.length;
  let i = 0;
  let pairs = 0;
  while (i < n) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const ks = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 61 /* = */ || isSpace(c) || c === 34) break;
      i++;
    }
    const key = text.slice(ks, i);
    if (key.length === 0) {
      // A stray `=` or `"`: skip one character; garbage is tolerated, not fatal.
      i++;
      continue;
    }
    if (i >= n || text.charCodeAt(i) !== 61) {
      onPair(out, key, true, false);
      continue;
    }
    i++; // '='
    if (i < n && text.charCodeAt(i) === 34) {
      i++;
      let v = '';
      let seg = i;
      let closed = false;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 92 /* \ */ && i + 1 < n) {
          v += text.slice(seg, i);
          const e = text[i + 1];
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i += 2;
          seg = i;
          continue;
        }
        if (c === 34) {
          closed = true;
          break;
        }
        i++;
      }
      v += text.slice(seg, i);
      if (closed) i++;
      onPair(out, key, v, true);
    } else {
      const vs = i;
      while (i < n && !isSpace(text.charCodeAt(i))) i++;
      onPair(out, key, text.slice(vs, i), false);
    }
    pairs++;
  }
  return pairs > 0 ? out : undefined;
}
