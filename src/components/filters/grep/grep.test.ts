import { describe, expect, it } from 'vitest';
import { newRecord } from '../../../core/record.js';
import { testContext } from '../_shared/testing.js';
import def from './index.js';

function make(cfg: Record<string, unknown>) {
  const ctx = testContext('gr');
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'grep', id: 'gr', match: '*' }, ctx), ctx };
}

describe('grep', () => {
  it('include all / exclude any, missing fields do not match, counted', async () => {
    const { f, ctx } = make({
      include: { level: '^(warn|error)$', component: '.' },
      exclude: { 'http.path': '^/healthz', status: '^5' },
    });
    const recs = [
      newRecord({ level: 'error', component: 'gateway', http: { path: '/api' } }),
      newRecord({ level: 'info', component: 'gateway' }),
      newRecord({ level: 'warn' }),
      newRecord({ level: 'warn', component: 'gateway', http: { path: '/healthz' } }),
      newRecord({ level: 'error', component: 'gateway', status: 503 }),
    ];
    const out = f.process(recs, 't');
    expect(out).toEqual([recs[0]]);
    expect(await ctx.count('dropped')).toBe(4);
    expect(await ctx.count('passed')).toBe(1);
  });

  it('hostile value against a nested-quantifier pattern is fast', () => {
    const { f } = make({ include: { message: '^(a|aa)+$' } });
    const t0 = performance.now();
    expect(f.process([newRecord({ message: 'a'.repeat(30_000) + 'b' })], 't')).toHaveLength(0);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
