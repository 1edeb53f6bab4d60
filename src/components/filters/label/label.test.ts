import { describe, expect, it } from 'vitest';
import { newRecord } from '../../../core/record.js';
import { testContext } from '../_shared/testing.js';
import enrich from '../enrich/index.js';
import def from './index.js';

function make(cfg: Record<string, unknown>) {
  const ctx = testContext('lb');
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'label', id: 'lb', match: '*' }, ctx), ctx };
}

describe('label', () => {
  it('promotes fields, normalises levels, sanitises names, keeps raw', async () => {
    const { f, ctx } = make({
      from: [
        'level',
        'component',
        'kubernetes.namespace_name',
        { field: 'env', name: 'environment', lowercase: true, map: { production: 'prod' } },
      ],
    });
    const rec = newRecord({
      level: 'WARNING',
      component: 'planner',
      kubernetes: { namespace_name: 'agents' },
      env: 'Production',
      empty: '',
    });
    rec.raw = JSON.stringify(rec.fields);
    const [r] = f.process([rec], 't');
    expect(r.labels).toEqual({
      level: 'warn',
      component: 'planner',
      kubernetes_namespace_name: 'agents',
      environment: 'prod',
    });
    expect(r.raw).toBeDefined();
    expect(await ctx.count('modified')).toBe(1);
  });

  it.each([
    ['ERR', 'error'],
    ['Fatal', 'critical'],
    ['3', 'error'],
    ['information', 'info'],
    ['custom', 'custom'],
  ])('level %s → %s', (v, want) => {
    expect(make({ from: ['level'] }).f.process([newRecord({ level: v })], 't')[0].labels).toEqual({
      level: want,
    });
  });

  it('cardinality guard: beyond max_values_per_label new values are _other, counted, logged once', async () => {
    const { f, ctx } = make({ from: ['pod'], max_values_per_label: 3 });
    const recs = Array.from({ length: 10 }, (_, i) => newRecord({ pod: `pod-${i % 6}` }));
    const out = f.process(recs, 't');
    expect(out.map((r) => r.labels!.pod)).toEqual([
      'pod-0',
      'pod-1',
      'pod-2',
      '_other',
      '_other',
      '_other',
      'pod-0',
      'pod-1',
      'pod-2',
      '_other',
    ]);
    expect(await ctx.count('overflow')).toBe(4);
    expect(ctx.logs.filter((l) => /max_values_per_label/.test(l.msg))).toHaveLength(1);
  });

  it('rejects invalid or reserved label names at start-up', () => {
    expect(() => make({ from: [{ field: 'x', name: '__name__' }] })).toThrow(/reserved/);
    expect(() => make({ from: [{ field: 'x', name: 'bad-name' }] })).toThrow(/must match/);
    expect(() => make({ from: ['a.b', 'a_b'] })).toThrow(/twice/);
  });

  it('skips missing, empty and object values; truncates long values on a UTF-8 boundary', () => {
    const { f } = make({ from: ['a', 'b', 'c'], max_value_length: 5 });
    const [r] = f.process([newRecord({ a: '', b: { x: 1 }, c: 'ééé' })], 't');
    expect(r.labels).toEqual({ c: 'éé' });
    const [none] = f.process([newRecord({ z: 1 })], 't');
    expect(none.labels).toBeUndefined();
  });

  it('never mutates label objects shared by enrich', () => {
    const ctx = testContext('en');
    const e = enrich.create(
      {
        ...enrich.options.parse({ labels: { cluster: 'eu-1' } }),
        type: 'enrich',
        id: 'en',
        match: '*',
      },
      ctx,
    );
    const recs = e.process([newRecord({ level: 'info' }), newRecord({ level: 'error' })], 't');
    const shared = recs[0].labels;
    make({ from: ['level'] }).f.process(recs, 't');
    expect(shared).toEqual({ cluster: 'eu-1' });
    expect(recs.map((r) => r.labels)).toEqual([
      { cluster: 'eu-1', level: 'info' },
      { cluster: 'eu-1', level: 'error' },
    ]);
  });

  it('remove_fields removes the promoted fields and invalidates raw', () => {
    const rec = newRecord({ level: 'info', m: 1 });
    rec.raw = '{"level":"info","m":1}';
    const [r] = make({ from: ['level'], remove_fields: true }).f.process([rec], 't');
    expect(r.fields).toEqual({ m: 1 });
    expect(r.raw).toBeUndefined();
  });
});
