// Record time from a field: RFC 3339 / ISO 8601 (full nanosecond fraction kept), epoch
// seconds/ms/µs/ns (numbers or digit strings, exact for strings), or a strftime layout. Parsers
// are compiled once; each keeps the last input so runs of equal timestamps cost one compare.
// One parser for the parse filters' `time_field`/`time_format` and the loki output's `time_field`.

import { invalidConfig as configError } from '../../../core/errors.js';

export interface TimeOut {
  ms: number;
  ns: number;
}

export type TimeParser = (v: unknown, out: TimeOut) => boolean;

const D0 = 48;
function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(i + k) - D0;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

// The start of the last day finish() was given: Date.UTC costs ~100 ns, and consecutive records
// mostly share their date. Date.UTC(y, mo - 1, d, h, mi, sec) is exactly that day's start plus
// the time of day (it adds the fields linearly, overflow included: hour 24, day 31 of a 30-day
// month), and years 0-99 are 1900-1999 in both.
let lastDay = -1;
let lastDayMs = 0;

/** Date.UTC(y, mo - 1, d) for 0 <= y <= 9999, 1 <= mo <= 12, 1 <= d <= 31. */
function dayStart(y: number, mo: number, d: number): number {
  const key = (y * 100 + mo) * 100 + d;
  if (key !== lastDay) {
    lastDayMs = Date.UTC(y, mo - 1, d);
    lastDay = key;
  }
  return lastDayMs;
}

function finish(
  out: TimeOut,
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  sec: number,
  fracNs: number,
  offsetMin: number,
): boolean {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60) return false;
  if (sec === 60) sec = 59; // leap second: the last representable instant of that minute
  const base = dayStart(y, mo, d) + h * 3_600_000 + mi * 60_000 + sec * 1000 - offsetMin * 60_000;
  if (!Number.isFinite(base)) return false;
  const extraMs = Math.floor(fracNs / 1e6);
  out.ms = base + extraMs;
  out.ns = fracNs - extraMs * 1e6;
  return true;
}

/** `2024-05-01T12:00:00.123456789Z`, `…+02:00`, `…+0200`, space separator, no zone = UTC. */
export function parseRfc3339(s: string, out: TimeOut): boolean {
  const n = s.length;
  if (n < 19) return false;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  if ((y | mo | d | h | mi | sec) < 0) return false;
  const sep = s.charCodeAt(10);
  if (s[4] !== '-' || s[7] !== '-' || s[13] !== ':' || s[16] !== ':') return false;
  if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32) return false;
  let i = 19;
  let fracNs = 0;
  if (i < n && (s[i] === '.' || s[i] === ',')) {
    i++;
    let scale = 1e8;
    const start = i;
    while (i < n) {
      const dd = s.charCodeAt(i) - D0;
      if (dd < 0 || dd > 9) break;
      if (scale >= 1) fracNs += dd * scale;
      scale /= 10;
      i++;
    }
    if (i === start) return false;
    fracNs = Math.round(fracNs);
  }
  let offset = 0;
  if (i < n) {
    const z = s[i];
    if (z === 'Z' || z === 'z') {
      i++;
    } else if (z === '+' || z === '-') {
      const oh = digits(s, i + 1, 2);
      let om = 0;
      let j = i + 3;
      if (s[j] === ':') j++;
      if (j < n) {
        om = digits(s, j, 2);
        j += 2;
      }
      if (oh < 0 || om < 0 || oh > 23 || om > 59) return false;
      offset = (oh * 60 + om) * (z === '-' ? -1 : 1);
      i = j;
    } else {
      return false;
    }
  }
  if (i !== n) return false;
  return finish(out, y, mo, d, h, mi, sec, fracNs, offset);
}

/** Epoch in a unit of 10^exp ns (s: 9, ms: 6, µs: 3, ns: 0) from a decimal string, exactly. */
function epochDigits(intPart: string, frac: string, exp: number, out: TimeOut): boolean {
  const all = intPart + frac.padEnd(exp, '0').slice(0, exp);
  const ms = all.length > 6 ? Number(all.slice(0, -6)) : 0;
  const ns = Number(all.length > 6 ? all.slice(-6) : all);
  if (!Number.isFinite(ms)) return false;
  out.ms = ms;
  out.ns = ns;
  return true;
}

const EXP: Record<string, number> = { epoch_s: 9, epoch_ms: 6, epoch_us: 3, epoch_ns: 0 };

/** Unit guess from the integer digits: s up to 11 digits (year 5138), then ms, µs, ns. */
function autoExp(intDigits: number): number {
  return intDigits <= 11 ? 9 : intDigits <= 14 ? 6 : intDigits <= 17 ? 3 : 0;
}

export function parseEpoch(v: unknown, exp: number | 'auto', out: TimeOut): boolean {
  let s: string;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) return false;
    s = String(v);
    if (s.includes('e')) {
      // Too large for a decimal print (>= 1e21): nanoseconds or garbage.
      const e = exp === 'auto' ? 0 : exp;
      const totalMs = (v * 10 ** e) / 1e6;
      if (!Number.isFinite(totalMs) || totalMs > 8.64e15) return false;
      out.ms = Math.floor(totalMs);
      out.ns = 0;
      return true;
    }
  } else if (typeof v === 'string') {
    s = v.trim();
  } else {
    return false;
  }
  const dot = s.indexOf('.');
  const intPart = dot === -1 ? s : s.slice(0, dot);
  const frac = dot === -1 ? '' : s.slice(dot + 1);
  if (intPart.length === 0 || intPart.length > 22 || !/^\d+$/.test(intPart)) return false;
  if (frac.length > 0 && !/^\d+$/.test(frac)) return false;
  return epochDigits(intPart, frac, exp === 'auto' ? autoExp(intPart.length) : exp, out);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

type Slot = 'Y' | 'y' | 'm' | 'd' | 'H' | 'I' | 'M' | 'S' | 'f' | 'z' | 'b' | 'p' | 's' | 'j';

const DIRECTIVES: Record<string, { re: string; slot?: Slot }> = {
  Y: { re: '(\\d{4})', slot: 'Y' },
  y: { re: '(\\d{2})', slot: 'y' },
  m: { re: '(\\d{1,2})', slot: 'm' },
  d: { re: '(\\d{1,2})', slot: 'd' },
  e: { re: ' ?(\\d{1,2})', slot: 'd' },
  H: { re: '(\\d{1,2})', slot: 'H' },
  I: { re: '(\\d{1,2})', slot: 'I' },
  M: { re: '(\\d{1,2})', slot: 'M' },
  S: { re: '(\\d{1,2})', slot: 'S' },
  f: { re: '(\\d{1,9})', slot: 'f' },
  L: { re: '(\\d{1,9})', slot: 'f' },
  z: { re: '(Z|[+-]\\d{2}:?\\d{2})', slot: 'z' },
  Z: { re: '(?:[A-Za-z]{1,5})' },
  b: { re: '([A-Za-z]{3})', slot: 'b' },
  h: { re: '([A-Za-z]{3})', slot: 'b' },
  B: { re: '([A-Za-z]{3})[A-Za-z]{0,6}', slot: 'b' },
  a: { re: '(?:[A-Za-z]{3})' },
  A: { re: '(?:[A-Za-z]{3,9})' },
  p: { re: '(AM|PM|am|pm)', slot: 'p' },
  s: { re: '(\\d{1,12})', slot: 's' },
  j: { re: '(\\d{3})', slot: 'j' },
  n: { re: '\\s' },
  t: { re: '\\s' },
  '%': { re: '%' },
};
const COMPOSITE: Record<string, string> = {
  T: '%H:%M:%S',
  F: '%Y-%m-%d',
  D: '%m/%d/%y',
  R: '%H:%M',
};

/**
 * Compile a strftime layout (`%d/%b/%Y:%H:%M:%S %z` for Apache, `%d %b %Y %H:%M:%S.%f` for Redis)
 * to a parser. Without %z the time is UTC; without a year, the current year.
 */
export function compileStrftime(layout: string, where: string): TimeParser {
  let expanded = layout;
  for (const [k, v] of Object.entries(COMPOSITE)) expanded = expanded.split(`%${k}`).join(v);
  let re = '^';
  const slots: Slot[] = [];
  for (let i = 0; i < expanded.length; i++) {
    const c = expanded[i];
    if (c === '%') {
      const dname = expanded[++i];
      const dir = dname === undefined ? undefined : DIRECTIVES[dname];
      if (!dir) throw configError(where, `unsupported strftime directive %${dname ?? ''}`);
      re += dir.re;
      if (dir.slot) slots.push(dir.slot);
    } else if (c === ' ') {
      re += ' +';
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  const rx = new RegExp(re + '$');
  return (v, out) => {
    if (typeof v !== 'string') return false;
    const m = rx.exec(v.trim());
    if (!m) return false;
    let y = new Date().getUTCFullYear();
    let mo = 1;
    let d = 1;
    let h = 0;
    let mi = 0;
    let sec = 0;
    let fracNs = 0;
    let off = 0;
    let pm: boolean | undefined;
    let doy = 0;
    for (let k = 0; k < slots.length; k++) {
      const g = m[k + 1];
      switch (slots[k]) {
        case 'Y':
          y = Number(g);
          break;
        case 'y':
          y = Number(g) + (Number(g) < 69 ? 2000 : 1900);
          break;
        case 'm':
          mo = Number(g);
          break;
        case 'd':
          d = Number(g);
          break;
        case 'H':
        case 'I':
          h = Number(g);
          break;
        case 'M':
          mi = Number(g);
          break;
        case 'S':
          sec = Number(g);
          break;
        case 'f':
          fracNs = Number(g.padEnd(9, '0'));
          break;
        case 'b': {
          const idx = MONTHS.indexOf(g.toLowerCase());
          if (idx === -1) return false;
          mo = idx + 1;
          break;
        }
        case 'p':
          pm = g.toLowerCase() === 'pm';
          break;
        case 'z':
          if (g !== 'Z') {
            const sign = g[0] === '-' ? -1 : 1;
            const body = g.slice(1).replace(':', '');
            off = sign * (Number(body.slice(0, 2)) * 60 + Number(body.slice(2, 4)));
          }
          break;
        case 's':
          return epochDigits(g, '', 9, out);
        case 'j':
          doy = Number(g);
          break;
      }
    }
    if (pm !== undefined) {
      if (h > 12) return false;
      h = (h % 12) + (pm ? 12 : 0);
    }
    if (doy > 0) {
      if (doy > 366) return false;
      const base = Date.UTC(y, 0, doy, h, mi, sec) - off * 60_000;
      out.ms = base + Math.floor(fracNs / 1e6);
      out.ns = fracNs % 1e6;
      return true;
    }
    return finish(out, y, mo, d, h, mi, sec, fracNs, off);
  };
}

/**
 * A parser for `time_format`: `auto` (RFC 3339/ISO strings, epoch numbers by magnitude, other
 * date strings through Date.parse), `rfc3339`/`iso8601`, `epoch_s|ms|us|ns`, or a strftime layout.
 */
export function compileTimeParser(format: string, where: string): TimeParser {
  let inner: TimeParser;
  if (format === 'auto') {
    inner = (v, out) => {
      if (typeof v === 'number') return parseEpoch(v, 'auto', out);
      if (typeof v !== 'string') return false;
      if (parseRfc3339(v, out)) return true;
      const c = v.charCodeAt(0);
      if (c >= D0 && c <= D0 + 9 && /^\d+(\.\d+)?$/.test(v)) return parseEpoch(v, 'auto', out);
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) return false;
      out.ms = ms;
      out.ns = 0;
      return true;
    };
  } else if (format === 'rfc3339' || format === 'iso8601') {
    inner = (v, out) => typeof v === 'string' && parseRfc3339(v, out);
  } else if (format in EXP) {
    const e = EXP[format];
    inner = (v, out) => parseEpoch(v, e, out);
  } else if (format.includes('%')) {
    inner = compileStrftime(format, where);
  } else {
    throw configError(
      where,
      `unknown time_format "${format}": use auto, rfc3339, iso8601, epoch_s, epoch_ms, epoch_us, epoch_ns, or a strftime layout such as "%d/%b/%Y:%H:%M:%S %z"`,
    );
  }
  // One-entry cache: a batch often carries the same timestamp many times.
  let lastV: unknown = undefined;
  let lastMs = 0;
  let lastNs = 0;
  return (v, out) => {
    if (v === lastV && v !== undefined) {
      out.ms = lastMs;
      out.ns = lastNs;
      return true;
    }
    if (!inner(v, out)) return false;
    lastV = v;
    lastMs = out.ms;
    lastNs = out.ns;
    return true;
  };
}
