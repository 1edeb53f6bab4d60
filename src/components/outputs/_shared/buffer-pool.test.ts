import { describe, expect, it } from 'vitest';
import { BufferPool } from './buffer-pool.js';

describe('BufferPool', () => {
  it('hands back a lent buffer once, never one smaller than asked, and ignores memory it did not lend', () => {
    const pool = new BufferPool();
    const small = pool.take(1024);
    const big = pool.take(4096);
    pool.lend(small);
    pool.lend(big);
    pool.giveBack(big.subarray(0, 10));
    pool.giveBack(big); // twice: ignored
    pool.giveBack(small);
    pool.giveBack(Buffer.alloc(8192)); // never lent
    expect(pool.size).toBe(2);
    // The smaller one (last in) is dropped: the caller would only grow it again.
    const got = pool.take(2048);
    expect(got.buffer).toBe(big.buffer);
    expect(pool.size).toBe(0);
    expect(pool.reused).toBe(1);
  });
});
