// Test support for the JSON scanner (json-scan.ts): lines of JSON with the shapes that matter to
// it (escapes, unicode and lone surrogates, numbers JSON.stringify writes differently, whitespace,
// duplicate and integer-like keys, nesting) and mutations of them, from a seeded generator.

/** A small seeded PRNG (mulberry32): the same lines on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '42',
  '1e5',
  '1E+2',
  '1e-7',
  '93.910',
  '93.91',
  '0.1',
  '0.000001',
  '0.0000001',
  '123456789012345',
  '1234567890123456',
  '12345678901234567890',
  '1.5e300',
  '1e400',
  '-0.0',
  '3.14159',
  '2.50',
  '100',
  '-12.5',
];
const PIECES = [
  'a',
  'Z',
  ' ',
  'é',
  '日本',
  '😀',
  '\ud800',
  '\udc00',
  '"',
  '\\',
  '\n',
  '\u0001',
  '/',
  ':',
  '\u2028',
  '\u007f',
  ',',
  '{',
];
const KEYS = [
  'a',
  'b',
  'level',
  'component',
  '1',
  '01',
  '',
  'k"q',
  'é',
  '__proto__',
  'message',
  'timestamp',
  'file',
  'x:y',
];
const WS = [' ', '\t', '\n', '\r'];
/** Strings escaped as JSON.stringify does only (lines canonical but for their numbers). */
let stringifyOnly = false;

/** A JSON string literal for `s`, escaped as JSON.stringify does or in one of JSON's other ways. */
function quote(s: string, r: () => number): string {
  if (stringifyOnly || r() < 0.6) return JSON.stringify(s);
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    const p = r();
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c < 32 || p < 0.2)
      out +=
        ch.length === 1
          ? '\\u' +
            c
              .toString(16)
              .padStart(4, p < 0.1 ? '0' : '0')
              .toUpperCase()
          : ch;
    else if (ch === '/' && p < 0.6) out += '\\/';
    else out += ch;
  }
  return out + '"';
}

function text(r: () => number): string {
  let s = '';
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)];
  return s;
}

/** A JSON value's text: `ws` is the chance of whitespace around each token. */
function value(r: () => number, depth: number, ws: number): string {
  const sp = (): string => (r() < ws ? WS[Math.floor(r() * WS.length)] : '');
  const p = r();
  if (depth > 0 && p < 0.15) {
    const n = Math.floor(r() * 4);
    const items: string[] = [];
    for (let i = 0; i < n; i++) items.push(sp() + value(r, depth - 1, ws) + sp());
    return '[' + items.join(',') + sp() + ']';
  }
  if (depth > 0 && p < 0.3) return object(r, depth - 1, ws);
  if (p < 0.55) return quote(text(r), r);
  if (p < 0.85) return NUMBERS[Math.floor(r() * NUMBERS.length)];
  return ['true', 'false', 'null'][Math.floor(r() * 3)];
}

/** A JSON object's text, keys drawn from a small set (so duplicates happen). */
export function object(r: () => number, depth: number, ws: number): string {
  const sp = (): string => (r() < ws ? WS[Math.floor(r() * WS.length)] : '');
  const n = Math.floor(r() * 6);
  const members: string[] = [];
  const used = new Set<string>();
  for (let i = 0; i < n; i++) {
    let k = KEYS[Math.floor(r() * KEYS.length)];
    if (used.has(k) && r() < 0.8) k = k + i; // mostly distinct, sometimes a duplicate
    used.add(k);
    members.push(sp() + quote(k, r) + sp() + ':' + sp() + value(r, depth, ws) + sp());
  }
  return '{' + members.join(',') + sp() + '}';
}

const NOISE = [
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '"',
  '\\',
  '0',
  '-',
  'e',
  '.',
  ' ',
  'x',
  '\u0000',
  't',
  'n',
  'u',
  '\ud800',
];

/** `s` with one random edit: a character deleted, inserted, replaced, or the text cut short. */
export function mutate(s: string, r: () => number): string {
  const at = Math.floor(r() * (s.length + 1));
  const p = r();
  const noise = NOISE[Math.floor(r() * NOISE.length)];
  if (p < 0.3) return s.slice(0, at) + s.slice(at + 1);
  if (p < 0.6) return s.slice(0, at) + noise + s.slice(at);
  if (p < 0.85) return s.slice(0, at) + noise + s.slice(at + 1);
  return s.slice(0, at);
}

/** `n` lines: canonical objects, objects with whitespace and other escapes, and mutations. */
export function jsonLines(seed: number, n: number): string[] {
  const r = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = r();
    const ws = p < 0.5 ? 0 : 0.2;
    stringifyOnly = p >= 0.25 && p < 0.4;
    let s = object(r, Math.floor(r() * 4), ws);
    stringifyOnly = false;
    if (p < 0.25) {
      // canonical: re-serialised (when it parses) so most lines take the cut path
      try {
        const v: unknown = JSON.parse(s);
        s = JSON.stringify(v);
      } catch {
        // kept as is
      }
    }
    if (r() < 0.35) s = mutate(s, r);
    if (r() < 0.05) s = WS[Math.floor(r() * WS.length)] + s + WS[Math.floor(r() * WS.length)];
    out.push(s);
  }
  return out;
}
