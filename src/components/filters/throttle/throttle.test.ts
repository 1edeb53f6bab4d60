import { describe, expect, it } from 'vitest';
import { newRecord, type LogRecord } from '../../../core/record.js';
import { testContext } from '../_shared/testing.js';
import def, { ThrottleFilter } from './index.js';

function make(cfg: Record<string, unknown>, clock: { t: number }) {
  const ctx = testContext('th');
  const config = def.options.parse(cfg);
  const f = new ThrottleFilter(
    { ...config, type: 'throttle', id: 'th', match: '*' } as never,
    ctx,
    () => clock.t,
  );
  return { f, ctx };
}
const pod = (ns: string, p: string, i = 0): LogRecord =>
  newRecord({ kubernetes: { namespace_name: ns, pod_name: p }, i });

describe('throttle', () => {
  it('drops beyond rate+burst per key, refills over time, counts per key, summarises', async () => {
    const clock = { t: 1_000_000 };
    const { f, ctx } = make(
      {
        key: '{kubernetes.namespace_name}/{kubernetes.pod_name}',
        rate: 10,
        burst: 5,
        emit_summary: true,
      },
      clock,
    );
    const noisy = Array.from({ length: 50 }, (_, i) => pod('ns', 'noisy', i));
    const quiet = [pod('ns', 'quiet')];
    let out = f.process([...noisy, ...quiet], 'kube');
    expect(
      out.filter(
        (r) =>
          r.fields.i !== undefined &&
          (r.fields.kubernetes as { pod_name: string }).pod_name === 'noisy',
      ),
    ).toHaveLength(5);
    expect(out).toContain(quiet[0]);
    expect(await ctx.count('dropped')).toBe(45);
    clock.t += 1000; // one second: 10 tokens back (capped at burst 5)
    out = f.process(
      Array.from({ length: 20 }, (_, i) => pod('ns', 'noisy', i)),
      'kube',
    );
    expect(out).toHaveLength(5);
    f.summarize();
    expect(ctx.logs.find((l) => /over the rate limit/.test(l.msg))?.fields).toMatchObject({
      records: 60,
      keys: 1,
      top: { 'ns/noisy': 60 },
    });
    out = f.process([pod('ns', 'quiet')], 'kube');
    const summary = out.find((r) => typeof r.fields.message === 'string');
    expect(summary?.fields.message).toBe('60 records dropped for key ns/noisy');
  });

  it('10,000 distinct keys stay bounded by max_keys (LRU), quickly', () => {
    const clock = { t: 0 };
    const { f } = make({ key: '{k}', rate: 1, burst: 1, max_keys: 1000 }, clock);
    const t0 = performance.now();
    const recs = Array.from({ length: 10_000 }, (_, i) => newRecord({ k: `key-${i}` }));
    expect(f.process(recs, 't')).toHaveLength(10_000);
    expect(f.buckets.map.size).toBe(1000);
    // The most recent keys are still tracked: a second record for them is over the limit.
    expect(f.process([newRecord({ k: 'key-9999' })], 't')).toHaveLength(0);
    // An evicted key starts afresh.
    expect(f.process([newRecord({ k: 'key-0' })], 't')).toHaveLength(1);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('block: passes records but applies backpressure until the key is back under its rate', async () => {
    const clock = { t: 0 };
    const { f, ctx } = make({ key: '{tag}', rate: 1000, burst: 10, action: 'block' }, clock);
    expect(f.pressure()).toBeUndefined();
    const out = f.process(
      Array.from({ length: 60 }, () => newRecord({})),
      'agents',
    );
    expect(out).toHaveLength(60);
    expect(await ctx.count('throttled')).toBe(50);
    // 50 records of debt at 1000/s: inputs wait ~51 ms (the clock is frozen, the timer is real).
    const p = f.pressure();
    expect(p).toBeDefined();
    const t0 = Date.now();
    expect(f.pressure()).toBe(p);
    await p;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
