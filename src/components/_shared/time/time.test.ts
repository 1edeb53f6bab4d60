// The record-time parsers' day cache: the start of a day is computed once for consecutive
// timestamps of that day, and every result equals what Date.UTC / Date.parse give on their own.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { prng as rng } from '../../../core/json-testing.js';
import { compileTimeParser, parseRfc3339, type TimeOut } from './index.js';

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** What finish() computed before the cache: Date.UTC of every field, the offset subtracted. */
function direct(y: number, mo: number, d: number, h: number, mi: number, s: number, off: number) {
  return Date.UTC(y, mo - 1, d, h, mi, s === 60 ? 59 : s) - off * 60_000;
}

describe('record time: day cache', () => {
  afterEach(() => vi.restoreAllMocks());

  it('calls Date.UTC once for a run of timestamps of one day', () => {
    const o: TimeOut = { ms: 0, ns: 0 };
    parseRfc3339('2031-07-04T00:00:00Z', o); // another day first: the cache holds something else
    const spy = vi.spyOn(Date, 'UTC');
    for (let i = 0; i < 500; i++) {
      const t = `2031-07-05T${pad(i % 24, 2)}:${pad(i % 60, 2)}:${pad((i * 7) % 60, 2)}.${pad(i, 3)}Z`;
      expect(parseRfc3339(t, o)).toBe(true);
      expect(o.ms).toBe(Date.parse(t));
    }
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('equals Date.parse for random RFC 3339 timestamps, in runs and jumps, any offset', () => {
    const r = rng(22);
    const o: TimeOut = { ms: 0, ns: 0 };
    let t = Date.UTC(2024, 1, 28, 23, 0, 0);
    for (let i = 0; i < 20_000; i++) {
      // Mostly small steps (runs within a day, across minute/hour/day/month/year boundaries),
      // sometimes a jump anywhere in years 1000-9999.
      const k = r();
      if (k < 0.05)
        t = Date.UTC(1000 + Math.floor(r() * 9000), 0, 1) + Math.floor(r() * 366 * 864e5);
      else if (k < 0.1)
        t -= Math.floor(r() * 3 * 864e5); // out of order
      else t += Math.floor(r() * (k < 0.5 ? 2000 : 4 * 3600_000));
      const offMin = r() < 0.5 ? 0 : Math.round((r() * 28 - 14) * 4) * 15;
      const local = new Date(t + offMin * 60_000);
      const frac = Math.floor(r() * 1e9);
      const zone =
        offMin === 0 && r() < 0.5
          ? 'Z'
          : `${offMin < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offMin) / 60), 2)}:${pad(Math.abs(offMin) % 60, 2)}`;
      const s =
        `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1, 2)}-${pad(local.getUTCDate(), 2)}` +
        `T${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}` +
        `.${pad(frac, 9)}${zone}`;
      expect(parseRfc3339(s, o), s).toBe(true);
      const whole = Math.floor(t / 1000) * 1000;
      expect(o.ms, s).toBe(whole + Math.floor(frac / 1e6));
      expect(o.ns, s).toBe(frac % 1e6);
      expect(o.ms, s).toBe(Date.parse(s.replace(/\.\d+/, '')) + Math.floor(frac / 1e6));
    }
  });

  it('equals Date.UTC for out-of-range fields it normalises (hour 24, day 31 of short months, leap seconds, years 0-99)', () => {
    const r = rng(7);
    const o: TimeOut = { ms: 0, ns: 0 };
    for (let i = 0; i < 20_000; i++) {
      const y = r() < 0.1 ? Math.floor(r() * 100) : Math.floor(r() * 10_000);
      const mo = 1 + Math.floor(r() * 12);
      const d = 1 + Math.floor(r() * 31);
      const h = Math.floor(r() * 25);
      const mi = Math.floor(r() * 60);
      const s = Math.floor(r() * 61);
      const oh = Math.floor(r() * 24);
      const om = Math.floor(r() * 60);
      const neg = r() < 0.5;
      const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${neg ? '-' : '+'}${pad(oh, 2)}${pad(om, 2)}`;
      expect(parseRfc3339(text, o), text).toBe(true);
      expect(o.ms, text).toBe(direct(y, mo, d, h, mi, s, (neg ? -1 : 1) * (oh * 60 + om)));
      expect(o.ns).toBe(0);
    }
  });

  it('strftime layouts share it: same results as Date.UTC across a month end', () => {
    const p = compileTimeParser('%d/%b/%Y:%H:%M:%S %z', 'f');
    const o: TimeOut = { ms: 0, ns: 0 };
    const months = ['Jan', 'Feb', 'Mar', 'Apr'];
    for (let m = 0; m < months.length; m++)
      for (const d of [28, 29, 30, 31, 1])
        for (const h of [0, 23, 24]) {
          const text = `${pad(d, 2)}/${months[m]}/2024:${pad(h, 2)}:59:59 -0130`;
          expect(p(text, o), text).toBe(true);
          expect(o.ms, text).toBe(direct(2024, m + 1, d, h, 59, 59, -90));
        }
  });
});
