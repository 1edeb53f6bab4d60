import { describe, expect, it } from 'vitest';
import { newRecord } from '../../../core/record.js';
import { testContext } from '../_shared/testing.js';
import def from './index.js';

function make(cfg: Record<string, unknown>) {
  const ctx = testContext('md');
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'modify', id: 'md', match: '*' }, ctx), ctx };
}

describe('modify', () => {
  it('rename → copy → set → lowercase → remove, touches raw', async () => {
    const { f, ctx } = make({
      rename: { msg: 'message', 'ctx.tool': 'tool' },
      copy: { level: 'severity', ctx: 'ctx_copy' },
      set: { env: 'prod', where: '{tool}@{level}' },
      lowercase: ['level', 'missing'],
      remove: ['ctx.secret', 'nope'],
    });
    const rec = newRecord({ msg: 'hi', level: 'WARN', ctx: { tool: 'search', secret: 's' } });
    rec.raw = JSON.stringify(rec.fields);
    const [r] = f.process([rec], 't');
    expect(r.fields).toEqual({
      message: 'hi',
      level: 'warn',
      severity: 'WARN',
      ctx: {},
      ctx_copy: { secret: 's' },
      tool: 'search',
      env: 'prod',
      where: 'search@WARN',
    });
    expect(r.raw).toBeUndefined();
    expect(await ctx.count('modified')).toBe(1);
  });

  it('a record nothing applies to passes untouched', async () => {
    const { f, ctx } = make({ rename: { a: 'b' }, remove: ['c'] });
    const rec = newRecord({ x: 1 });
    rec.raw = '{"x":1}';
    expect(f.process([rec], 't')[0].raw).toBe('{"x":1}');
    expect(await ctx.count('passed')).toBe(1);
  });
});
