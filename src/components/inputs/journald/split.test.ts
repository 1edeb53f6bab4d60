import { describe, expect, it } from 'vitest';
import { EntrySplitter, type JournalLine } from './split.js';

function run(input: Buffer, max: number, cuts: number[]): JournalLine[] {
  const s = new EntrySplitter(max);
  const out: JournalLine[] = [];
  let from = 0;
  for (const c of [...cuts, input.length]) {
    s.push(input.subarray(from, c), out);
    from = c;
  }
  return out;
}

describe('EntrySplitter (#17.3)', () => {
  const big = `{"A":[${'1,'.repeat(5000)}2],"__CURSOR":"s=abc;i=7","MESSAGE":"x"}`;
  const input = Buffer.from(`{"__CURSOR":"s=1","MESSAGE":"a"}\n${big}\n{"__CURSOR":"s=2"}\n`);

  it('lines under the limit pass whole; an oversized one yields only its cursor, wherever it is', () => {
    const want: JournalLine[] = [
      '{"__CURSOR":"s=1","MESSAGE":"a"}',
      { oversized: true, cursor: 's=abc;i=7', bytes: big.length },
      '{"__CURSOR":"s=2"}',
    ];
    expect(run(input, 1000, [])).toEqual(want);
    // Every cut point, including inside the marker and the cursor.
    for (let c = 1; c < input.length; c += 7) expect(run(input, 1000, [c])).toEqual(want);
    for (let c = 1; c < input.length; c += 97)
      expect(run(input, 1000, [c, Math.min(input.length, c + 3)])).toEqual(want);
  });

  it('an escaped "__CURSOR" inside a value is not taken for the key', () => {
    const line = `{"MESSAGE":"x\\"__CURSOR\\":\\"fake ${'y'.repeat(2000)}","__CURSOR":"real"}\n`;
    expect(run(Buffer.from(line), 100, [])).toEqual([
      { oversized: true, cursor: 'real', bytes: line.length - 1 },
    ]);
  });

  it('an oversized line without a cursor is still reported (the next entry moves the position)', () => {
    expect(run(Buffer.from(`${'z'.repeat(500)}\n{"__CURSOR":"n"}\n`), 100, [50])).toEqual([
      { oversized: true, cursor: undefined, bytes: 500 },
      '{"__CURSOR":"n"}',
    ]);
  });
});
