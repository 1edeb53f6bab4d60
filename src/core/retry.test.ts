import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  parseRetryAfter,
  RetryableError,
  RetryTimeoutError,
  withRetry,
} from './retry.js';

const cfg = { initial: 1000, max: 60_000 };

describe('backoff', () => {
  it('uses full jitter under an exponentially growing, capped ceiling', () => {
    expect(backoffDelay(1, cfg, () => 0.999)).toBe(999);
    expect(backoffDelay(3, cfg, () => 0.5)).toBe(2000);
    expect(backoffDelay(20, cfg, () => 0.999)).toBe(59_940);
    expect(backoffDelay(5, cfg, () => 0)).toBe(0);
    // Real randomness stays within [0, ceiling) and is not constant.
    const samples = Array.from({ length: 200 }, () => backoffDelay(4, cfg));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(8000);
    expect(new Set(samples).size).toBeGreaterThan(100);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('withRetry', () => {
  it('honours the delay a RetryableError carries (Retry-After) instead of the backoff', async () => {
    const delays: number[] = [];
    let n = 0;
    const out = await withRetry(
      async () => {
        if (++n < 3) throw new RetryableError('429', 1234);
        return 'ok';
      },
      { retry: cfg, sleep: async (ms) => void delays.push(ms) },
    );
    expect(out).toBe('ok');
    expect(delays).toEqual([1234, 1234]);
  });

  it('backs off with jitter for plain errors', async () => {
    const delays: number[] = [];
    let n = 0;
    let r = 0;
    const rand = [0.5, 0.5, 0.5, 0.5];
    await withRetry(
      async () => {
        if (++n < 5) throw new Error('ECONNREFUSED');
      },
      { retry: cfg, random: () => rand[r++], sleep: async (ms) => void delays.push(ms) },
    );
    expect(delays).toEqual([500, 1000, 2000, 4000]);
  });

  it('gives up after max_elapsed with RetryTimeoutError', async () => {
    const started = Date.now();
    await expect(
      withRetry(
        async () => {
          throw new RetryableError('503', 20);
        },
        { retry: { ...cfg, max_elapsed: 150 } },
      ),
    ).rejects.toBeInstanceOf(RetryTimeoutError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('stops when aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutdown')), 50);
    await expect(
      withRetry(
        async () => {
          throw new RetryableError('503', 10_000);
        },
        { retry: cfg, signal: ac.signal },
      ),
    ).rejects.toThrow('shutdown');
  });
});
