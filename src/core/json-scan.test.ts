import { describe, expect, it } from 'vitest';
import { keyMarks } from '../components/filters/parse_json/json.js';
import { findCuts, fixedLine } from '../components/outputs/loki/json-cut.js';
import { JsonRecord, hasTop, MISSING, rawSpans, SpanPool, topValue } from './json-record.js';
import {
  CANONICAL,
  HEAD,
  MEMBER,
  memberValue,
  NUMBERS,
  scanObject,
  SCAN_INVALID,
  SCAN_UNSURE,
} from './json-scan.js';
import { jsonLines } from './json-testing.js';
import type { Fields } from './record.js';

interface Shape {
  dup: boolean;
  depth: number;
  keyEscape: boolean;
  manyKeys: boolean;
  /** Key tokens at every level (keyMarks counts as many when no string looks like a key). */
  keys: number;
}

/**
 * An independent reading of a text JSON.parse accepted: duplicate keys at any level, the deepest
 * container (the root is 1), escapes in keys, objects of more than 64 keys. Recursive, regexes.
 */
function shape(s: string): Shape {
  const out: Shape = { dup: false, depth: 0, keyEscape: false, manyKeys: false, keys: 0 };
  const STR = /"(?:[^"\\]|\\.)*"/y;
  let i = 0;
  const ws = (): void => {
    while (i < s.length && ' \t\n\r'.includes(s[i])) i++;
  };
  const str = (): string => {
    STR.lastIndex = i;
    const m = STR.exec(s)!;
    i += m[0].length;
    return m[0];
  };
  const value = (d: number): void => {
    ws();
    const c = s[i];
    if (c === '{' || c === '[') {
      out.depth = Math.max(out.depth, d);
      i++;
      ws();
      const seen = new Set<string>();
      while (s[i] !== (c === '{' ? '}' : ']')) {
        if (c === '{') {
          const k = str();
          out.keys++;
          if (k.includes('\\')) out.keyEscape = true;
          const name = JSON.parse(k) as string;
          if (seen.has(name)) out.dup = true;
          seen.add(name);
          ws();
          i++; // :
        }
        value(d + 1);
        ws();
        if (s[i] === ',') i++;
        ws();
      }
      if (seen.size > 64) out.manyKeys = true;
      i++;
    } else if (c === '"') str();
    else {
      const m = /[-+.eE0-9a-z]+/y;
      m.lastIndex = i;
      i += m.exec(s)![0].length;
    }
  };
  value(1);
  return out;
}

/** JSON text that tells -0 from 0 (toEqual would not) and keeps key order. */
const exact = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (Object.is(x, -0) ? '-0!' : x));

function check(line: string, out: number[], counts: Record<string, number>): void {
  let parsed: unknown;
  let ok = true;
  try {
    parsed = JSON.parse(line);
  } catch {
    ok = false;
  }
  const r = scanObject(line, 64, out);
  const objectText = line.trimStart().startsWith('{') && !line.startsWith('\ufeff');
  if (!ok) {
    // JSON.parse refuses it: so does the scan (or leaves it to JSON.parse when not an object).
    expect(r, line).toBe(objectText ? SCAN_INVALID : r < 0 ? r : 'accepted');
    counts.invalid++;
    return;
  }
  expect(r, line).not.toBe(SCAN_INVALID);
  if (!objectText || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    expect(r, line).toBe(SCAN_UNSURE);
    return;
  }
  const sh = shape(line);
  // Kept as raw by the JSON.parse path (parse_json's keyMarks) exactly when scanned.
  const marks = keyMarks(line) === sh.keys;
  const fast = !sh.dup && sh.depth <= 64 && !sh.keyEscape && !sh.manyKeys && marks;
  expect(r >= 0, line).toBe(fast);
  if (r < 0) {
    counts.unsure++;
    return;
  }
  counts.fast++;
  const spans = out.slice(0, r);
  // The members, rebuilt from the spans, are the parsed object (values, order, -0).
  const rebuilt: Fields = {};
  for (let m = HEAD; m < spans[1]; m += MEMBER) {
    const key = JSON.parse(line.slice(spans[m], spans[m + 1] + 1)) as string;
    Object.defineProperty(rebuilt, key, {
      value: memberValue(line, spans, m),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    expect(exact(JSON.parse(line.slice(spans[m + 2], spans[m + 3]))), line).toBe(
      exact((parsed as Fields)[key]),
    );
  }
  expect(exact(rebuilt), line).toBe(exact(parsed));
  // Canonical exactly when the Loki cutter takes the text as it is.
  const canonical = (spans[0] & CANONICAL) !== 0;
  expect(canonical, line).toBe(findCuts(line, [], []) >= 0);
  if (canonical) {
    counts.canonical++;
    expect(JSON.stringify(parsed), line).toBe(line);
  }
  // Canonical but for numbers: the line rebuilt is JSON.stringify's (with label keys cut too).
  if ((spans[0] & NUMBERS) !== 0) {
    counts.numbers++;
    expect(fixedLine(line, spans, [], []), line).toBe(JSON.stringify(parsed));
    const drop = ['a', 'level'];
    const without = { ...(parsed as Fields) };
    for (const d of drop) delete without[d];
    if (!Object.hasOwn(parsed as Fields, '__proto__'))
      expect(fixedLine(line, spans, drop, []), line).toBe(JSON.stringify(without));
  }
  // The lazy record builds the same fields, metadata after the line's members.
  const meta = { message: line, file: { path: '/x.log' } };
  const hasFile = Object.hasOwn(parsed as Fields, 'file');
  const rec = new JsonRecord(line, spans, hasFile ? undefined : meta, 'message', undefined, 0, 0);
  expect(topValue(rec, 'level')).toEqual(
    Object.hasOwn(parsed as Fields, 'level') ? (parsed as Fields).level : MISSING,
  );
  expect(hasTop(rec, 'file')).toBe(true);
  expect(hasTop(rec, 'message')).toBe(Object.hasOwn(parsed as Fields, 'message'));
  const want = JSON.parse(line) as Fields;
  if (!hasFile) want.file = meta.file;
  expect(exact(rec.fields), line).toBe(exact(want));
}

describe('scanObject (differential against JSON.parse)', () => {
  it('accepts and rejects what JSON.parse does, spans and fields as JSON.parse gives them', () => {
    const out: number[] = [];
    const counts = { invalid: 0, unsure: 0, fast: 0, canonical: 0, numbers: 0 };
    for (const line of jsonLines(22, 6000)) check(line, out, counts);
    // The generator reaches every outcome often enough to mean something.
    expect(counts.invalid).toBeGreaterThan(500);
    expect(counts.unsure).toBeGreaterThan(200);
    expect(counts.fast).toBeGreaterThan(2000);
    expect(counts.canonical).toBeGreaterThan(500);
    expect(counts.numbers).toBeGreaterThan(60);
  });

  it.each([
    ['numbers', '{"a":1e5,"b":-0,"c":93.910,"d":0.1,"e":1E+2,"f":-0.0,"g":12345678901234567890}'],
    ['escapes', '{"a":"\\u00e9\\/\\n\\"","b":"\\ud83d\\ude00","c":"\\ud800"}'],
    ['unicode', '{"é":"日本😀","b":"\ud800x"}'],
    ['whitespace', ' {\t"a" :\n[ 1 , {"b" : null} ] }\r\n'],
    ['empty', '{}'],
    ['nested duplicates', '{"o":{"x":1,"x":2},"y":1}'],
    ['agent', '{"timestamp":"2024-05-01T12:00:00.123Z","level":"INFO","context":{"n":1.5}}'],
  ])('agrees with JSON.parse: %s', (_n, line) => {
    check(line, [], { invalid: 0, unsure: 0, fast: 0, canonical: 0, numbers: 0 });
  });

  it.each([
    '',
    ' ',
    '{',
    '{"a":}',
    '{"a":1,}',
    '{"a" 1}',
    '{"a":01}',
    '{"a":1.}',
    '{"a":.5}',
    '{"a":-}',
    '{"a":1e}',
    '{"a":"\u0001"}',
    '{"a":"\\x"}',
    '{"a":"\\u12G4"}',
    '{"a":tru}',
    '{"a":[1,]}',
    '{"a":1}}',
    '{"a":1} x',
    '{a:1}',
    "{'a':1}",
    '{"a":NaN}',
    '{"a":+1}',
  ])('refuses what JSON.parse refuses: %j', (line) => {
    expect(() => JSON.parse(line)).toThrow();
    const r = scanObject(line, 64, []);
    expect(r).toBe(line.trim().startsWith('{') || line.trim() === '' ? SCAN_INVALID : SCAN_UNSURE);
  });

  it('leaves to JSON.parse what it does not decide: depth, escaped keys, many keys, non-objects', () => {
    const deep = (d: number): string => '{"a":' + '['.repeat(d - 1) + ']'.repeat(d - 1) + '}';
    expect(scanObject(deep(64), 64, [])).toBeGreaterThan(0);
    expect(scanObject(deep(65), 64, [])).toBe(SCAN_UNSURE);
    expect(scanObject(deep(200_000), 1000, [])).toBe(SCAN_UNSURE);
    expect(scanObject('{"\\u0061":1}', 64, [])).toBe(SCAN_UNSURE);
    const many = '{' + Array.from({ length: 65 }, (_, i) => `"k${i}":${i}`).join(',') + '}';
    expect(scanObject(many, 64, [])).toBe(SCAN_UNSURE);
    expect(scanObject('[1]', 64, [])).toBe(SCAN_UNSURE);
    expect(scanObject('"x"', 64, [])).toBe(SCAN_UNSURE);
    // Canonical depth: the Loki cutter refuses containers nested deeper than 66.
    const d67 = deep(67);
    const out: number[] = [];
    expect(scanObject(d67, 100, out)).toBeGreaterThan(0);
    expect(out[0] & CANONICAL).toBe(findCuts(d67, [], []) >= 0 ? CANONICAL : 0);
    const d66 = deep(66);
    expect(scanObject(d66, 100, out)).toBeGreaterThan(0);
    expect(out[0] & CANONICAL).toBe(findCuts(d66, [], []) >= 0 ? CANONICAL : 0);
  });
});

describe('SpanPool', () => {
  it('keeps every copy as it was scanned, across blocks (a full block is never reused)', () => {
    const pool = new SpanPool();
    const scratch: number[] = [];
    const kept: Array<{ text: string; block: Int32Array; at: number; n: number }> = [];
    // ~30 ints a line: several 16k-int blocks, and lines longer than a block's rest.
    for (let i = 0; i < 3000; i++) {
      const text = JSON.stringify({
        i,
        level: i % 3 ? 'info' : 'warn',
        msg: 'x'.repeat(i % 7),
        n: i / 3,
      });
      const n = scanObject(text, 64, scratch);
      expect(n).toBeGreaterThan(0);
      const at = pool.copy(scratch, n);
      kept.push({ text, block: pool.block, at, n });
    }
    expect(new Set(kept.map((k) => k.block)).size).toBeGreaterThan(3);
    for (const k of kept) {
      const again: number[] = [];
      expect(scanObject(k.text, 64, again)).toBe(k.n);
      expect(Array.from(k.block.subarray(k.at, k.at + k.n))).toEqual(again.slice(0, k.n));
      const r = new JsonRecord(k.text, k.block, undefined, 'message', undefined, 0, 0, k.at, k.n);
      // Members found from the record's offset in the shared block, not from the block's start.
      const parsed = JSON.parse(k.text) as Fields;
      for (const key of ['i', 'level', 'msg', 'n']) expect(topValue(r, key)).toBe(parsed[key]);
      expect(topValue(r, 'nope')).toBe(MISSING);
      expect(hasTop(r, 'msg')).toBe(true);
      expect(Array.from(rawSpans(r)!)).toEqual(again.slice(0, k.n));
    }
  });
});
