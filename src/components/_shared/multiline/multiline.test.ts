import { describe, expect, it } from 'vitest';
import { ORDINARY, TRACES } from '../../../../test/fixtures/traces.js';
import { ConfigError } from '../../../core/errors.js';
import { compileLinePattern, compileMultiline } from './compile.js';
import { MultilineJoiner } from './engine.js';
import { multilineOptions, PARSER_NAMES } from './options.js';

const opts = (o: Record<string, unknown>) => multilineOptions.parse(o);

/** Run lines through a file-input joiner; returns the records (and their offsets). */
function join(o: Record<string, unknown>, lines: string[]) {
  const out: Array<{ text: string; start: number; end: number; truncated: boolean }> = [];
  const j = new MultilineJoiner(opts(o), {
    line: (text, start, end, truncated) => out.push({ text, start, end, truncated }),
  });
  let off = 0;
  const pending: number[] = [];
  for (const l of lines) {
    j.line(l, off, off + l.length + 1, false);
    pending.push(j.pendingStart);
    off += l.length + 1;
  }
  j.flush();
  return { out, pending };
}

describe('built-in parsers on real-format traces', () => {
  for (const name of ['java', 'python', 'go', 'ruby', 'dotnet'] as const) {
    it(`${name}: every trace is one record, every ordinary line one record`, () => {
      const lines: string[] = [];
      const expected: string[] = [];
      for (const t of TRACES[name]) {
        for (const o of ORDINARY.slice(0, 2)) {
          lines.push(o);
          expected.push(o);
        }
        lines.push(...t);
        expected.push(t.join('\n'));
      }
      lines.push(ORDINARY[2]);
      expected.push(ORDINARY[2]);
      expect(join({ parsers: [name] }, lines).out.map((r) => r.text)).toEqual(expected);
      // All parsers at once give the same records.
      expect(
        join({ parsers: ['java', 'python', 'go', 'ruby', 'dotnet'] }, lines).out.map((r) => r.text),
      ).toEqual(expected);
    });
  }

  it('traces back to back (no ordinary line between) stay apart', () => {
    const all = Object.values(TRACES).flat();
    const lines = all.flat();
    const r = join({ parsers: ['java', 'python', 'go', 'ruby', 'dotnet'] }, lines);
    expect(r.out.map((x) => x.text)).toEqual(all.map((t) => t.join('\n')));
  });

  it('ordinary lines are never held (the checkpoint follows them)', () => {
    const r = join({ parsers: ['java', 'python', 'go'] }, ORDINARY);
    expect(r.pending.every((p) => p === -1)).toBe(true);
    expect(r.out.map((x) => x.text)).toEqual(ORDINARY);
  });

  it('a held trace keeps the checkpoint at its first byte', () => {
    const t = TRACES.java[1];
    const r = join({ parsers: ['java'] }, [ORDINARY[0], ...t]);
    const start = ORDINARY[0].length + 1;
    expect(r.pending.slice(1)).toEqual(t.map(() => start));
    expect(r.out[1]).toMatchObject({ start, truncated: false });
  });

  it('max_lines cuts a trace into pieces flagged truncated, nothing lost', () => {
    const t = TRACES.java[0];
    const r = join({ parsers: ['java'], max_lines: 5 }, [...t, ORDINARY[0]]);
    expect(r.out.map((x) => x.text)).toEqual([
      t.slice(0, 5).join('\n'),
      t.slice(5, 10).join('\n'),
      t.slice(10).join('\n'),
      ORDINARY[0],
    ]);
    expect(r.out.map((x) => x.truncated)).toEqual([true, true, true, false]);
  });
});

describe('regex parser (start_pattern / continue_pattern)', () => {
  const lines = ['2026-12-01 a', ' x', ' y', '2026-12-01 b', 'plain', ' z'];
  it('start only: other lines join the record before', () => {
    expect(join({ start_pattern: '^\\d{4}-' }, lines).out.map((r) => r.text)).toEqual([
      '2026-12-01 a\n x\n y',
      '2026-12-01 b\nplain\n z',
    ]);
  });
  it('continue only: matching lines join the line before', () => {
    expect(join({ continue_pattern: '^\\s' }, lines).out.map((r) => r.text)).toEqual([
      '2026-12-01 a\n x\n y',
      '2026-12-01 b',
      'plain\n z',
    ]);
  });
  it('both: start begins, continue joins, other lines stand alone', () => {
    expect(
      join({ start_pattern: '^\\d{4}-', continue_pattern: '^\\s' }, lines).out.map((r) => r.text),
    ).toEqual(['2026-12-01 a\n x\n y', '2026-12-01 b', 'plain', ' z']);
  });
  it('regex next to built-in parsers', () => {
    const r = join(
      { parsers: ['java', 'regex'], start_pattern: '^BEGIN', continue_pattern: '^\\+' },
      ['BEGIN 1', '+a', ...TRACES.java[1], 'x'],
    );
    expect(r.out.map((x) => x.text)).toEqual(['BEGIN 1\n+a', TRACES.java[1].join('\n'), 'x']);
  });
});

describe('config (#17.6: the safe compiler)', () => {
  const err = (o: Record<string, unknown>) => {
    try {
      compileMultiline(opts(o), 'in.multiline');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).message;
    }
    return undefined;
  };
  it('refuses backreferences', () => {
    expect(err({ start_pattern: '(a*)\\1b' })).toMatch(/backreference/);
    expect(err({ continue_pattern: '(?<x>a)\\k<x>' })).toMatch(/backreference/);
  });
  it('refuses a missing pattern and patterns without regex', () => {
    expect(err({})).toMatch(/start_pattern or continue_pattern/);
    expect(err({ parsers: ['java'], start_pattern: 'x' })).toMatch(/regex/);
    expect(err({ start_pattern: '(' })).toBeDefined();
  });
  it('accepts every parser name', () => {
    expect(PARSER_NAMES).toEqual(['java', 'python', 'go', 'ruby', 'dotnet', 'regex']);
    expect(err({ parsers: ['java', 'python', 'go', 'ruby', 'dotnet'] })).toBeUndefined();
  });
  it('a catastrophic pattern runs in linear time (V8 fallback)', () => {
    const test = compileLinePattern('^(\\w+\\s?)+$', 'p');
    const t0 = performance.now();
    expect(test('a'.repeat(34) + '!')).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
  it('a pattern with lookaround sees the first 1 KiB of a line', () => {
    const test = compileLinePattern('(?=.*needle)', 'p');
    expect(test('x'.repeat(100) + 'needle')).toBe(true);
    expect(test('x'.repeat(2000) + 'needle')).toBe(false);
  });
});

describe('linear time', () => {
  it('hostile long lines cost linear time in every parser', () => {
    const all = { parsers: ['java', 'python', 'go', 'ruby', 'dotnet'] };
    const hostile = [
      'Exception'.repeat(7000),
      '('.repeat(60_000) + ')',
      ':in `'.repeat(12_000) + ')',
      'goroutine 1 ' + ' ('.repeat(30_000) + ':',
      '\t' + 'at '.repeat(20_000),
    ];
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) join(all, hostile);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
