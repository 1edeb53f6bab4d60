import { describe, expect, it } from 'vitest';
import { compileUserRegex, nestedQuantifier } from './regex.js';
import { compileTimeParser, parseRfc3339, type TimeOut } from '../../_shared/time/index.js';

describe('filters/_shared', () => {
  it.each([
    ['(a+)+', '(a+)+'],
    ['(a|aa)*', '(a|aa)*'],
    ['^(\\w+\\s?){2,}$', '(\\w+\\s?){2,}'],
    ['(?:x[ab]+)*y', '(?:x[ab]+)*'],
  ])('nestedQuantifier finds %s', (src, bad) => {
    expect(nestedQuantifier(src)).toBe(bad);
  });
  it.each(['a+b+', '(ab)+', '[(+)]+', '\\(a+\\)+', '(a+){1}', '(a+)?'])(
    'nestedQuantifier accepts %s',
    (src) => {
      expect(nestedQuantifier(src)).toBeUndefined();
    },
  );

  it('refuses catastrophic shapes only where the linear fallback cannot help', () => {
    expect(() => compileUserRegex('(?=x)(a+)+$', 'p')).toThrow(/catastrophically/);
    expect(() => compileUserRegex('(a)\\1(b+)+', 'p')).toThrow(/catastrophically/);
    expect(() => compileUserRegex('([', 'p')).toThrow();
    const re = compileUserRegex('^(a+)+$', 'p');
    const t0 = performance.now();
    expect(re.test('a'.repeat(100_000) + '!')).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('RFC 3339 parsing: fractions, offsets, rejects', () => {
    const o: TimeOut = { ms: 0, ns: 0 };
    expect(parseRfc3339('2024-02-29T23:59:60.999999999-01:30', o)).toBe(true);
    expect(o).toEqual({ ms: Date.UTC(2024, 2, 1, 1, 29, 59, 999), ns: 999_999 });
    for (const bad of [
      '2024-13-01T00:00:00Z',
      '2024-01-01T00:00:00+2',
      'x024-01-01T00:00:00Z',
      '2024-01-01T00:00:00Zjunk',
    ]) {
      expect(parseRfc3339(bad, o), bad).toBe(false);
    }
  });

  it('strftime layouts, unknown directives rejected', () => {
    const o: TimeOut = { ms: 0, ns: 0 };
    const p = compileTimeParser('%Y-%m-%d %I:%M:%S %p', 'f');
    expect(p('2024-05-01 01:02:03 PM', o)).toBe(true);
    expect(o.ms).toBe(Date.UTC(2024, 4, 1, 13, 2, 3));
    expect(() => compileTimeParser('%Q', 'f')).toThrow(/unsupported/);
    expect(() => compileTimeParser('nonsense', 'f')).toThrow(/unknown time_format/);
  });
});
