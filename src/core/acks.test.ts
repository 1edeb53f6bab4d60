import { describe, expect, it } from 'vitest';
import { SourceTracker } from './acks.js';

describe('SourceTracker', () => {
  it('commits the longest fully acknowledged prefix when acks arrive out of order', () => {
    const t = new SourceTracker('k', undefined, 0);
    const a = t.track(100);
    const b = t.track(200);
    const c = t.track(300);
    for (const tok of [a, b, c]) {
      tok.retain(); // one output
      tok.release(); // the input's own hold
    }
    c.release();
    expect(t.committed).toBe(0);
    a.release();
    expect(t.committed).toBe(100);
    b.release();
    expect(t.committed).toBe(300);
    expect(t.inFlight).toBe(0);
  });

  it('needs every output (fan-out) before committing', () => {
    const t = new SourceTracker('k', undefined, 'start');
    const a = t.track('end');
    a.retain(2);
    a.release();
    a.release();
    expect(t.committed).toBe('start');
    a.release();
    expect(t.committed).toBe('end');
  });

  it('advances over positions inside a record (spansTo) without committing them', () => {
    const t = new SourceTracker('k', undefined, 0);
    const other = new SourceTracker('o', undefined, 0);
    const a = t.track(100);
    const b = t.track(200);
    const c = t.track(300);
    const d = t.track(400);
    a.spansTo(c); // a record from a's batch into c's: 100 and 200 lie inside it
    a.spansTo(other.track(1)); // another source: no effect
    a.release();
    b.release();
    expect(t.committed).toBe(0);
    c.release();
    expect(t.committed).toBe(300);
    d.release();
    expect(t.committed).toBe(400);
    expect(t.inFlight).toBe(0);
  });
});
