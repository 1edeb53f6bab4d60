import { describe, expect, it } from 'vitest';
import { isAfter, lineCursor, parseCursor } from './cursor.js';

const C = (s: string, i: number, t: number) =>
  `s=${s};i=${i.toString(16)};b=0123;m=1f;t=${t.toString(16)};x=abc`;

describe('journal cursors (#23.9)', () => {
  it('orders by seqnum within a seqnum id, by realtime across ids', () => {
    const a = parseCursor(C('aa', 10, 5000))!;
    expect(isAfter(parseCursor(C('aa', 11, 1))!, a)).toBe(true);
    expect(isAfter(parseCursor(C('aa', 10, 9999))!, a)).toBe(false);
    expect(isAfter(parseCursor(C('bb', 1, 5001))!, a)).toBe(true);
    expect(isAfter(parseCursor(C('bb', 99, 5000))!, a)).toBe(false);
  });

  it('rejects what is not a cursor; finds the cursor of a line', () => {
    expect(parseCursor('garbage')).toBeUndefined();
    expect(parseCursor('s=aa;i=zz;t=1')).toBeUndefined();
    expect(lineCursor('{"MESSAGE":"x","__CURSOR":"s=aa;i=1;t=2","PRIORITY":"6"}')).toBe(
      's=aa;i=1;t=2',
    );
    expect(lineCursor('{"MESSAGE":"x"}')).toBeUndefined();
  });
});
