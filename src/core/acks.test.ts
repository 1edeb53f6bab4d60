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
});
