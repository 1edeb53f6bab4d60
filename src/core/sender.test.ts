import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/harness.js';
import { nullLogger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { createDeadLetterWriter } from './dead-letter.js';
import type { LogRecord, OutputBatch } from './record.js';
import { Result, Sender, type Chunk, type Sealer, type SendResult } from './sender.js';

function batch(n: number, tag = 't', start = 0): OutputBatch & { acked: number } {
  const records: LogRecord[] = [];
  for (let i = 0; i < n; i++)
    records.push({ fields: { message: `m${start + i}` }, timeMs: 1, timeNs: 0 });
  const b = { tag, records, bytes: n * 100, acked: 0, ack: () => void b.acked++ };
  return b;
}

function sender(
  send: (c: Chunk) => Promise<SendResult>,
  extra: Partial<ConstructorParameters<typeof Sender>[0]> = {},
) {
  const dir = tempDir();
  const metrics = new Metrics({ defaultMetrics: false });
  const ac = new AbortController();
  const s = new Sender({
    id: 'out',
    log: nullLogger,
    metrics,
    deadLetter: createDeadLetterWriter(dir, 'out', nullLogger, metrics),
    retry: { initial: 5, max: 20 },
    maxBytes: 1000,
    maxWaitMs: 20,
    workers: 1,
    signal: ac.signal,
    measure: () => 100,
    send: (c) => send(c),
    ...extra,
  });
  return { s, dir, metrics, ac };
}

const msgs = (c: Chunk) => c.records.map((r) => r.fields.message as string);

describe('Sender', () => {
  it('batches by bytes and by wait, and acks each input batch once all its records are sent', async () => {
    const chunks: string[][] = [];
    const { s } = sender(async (c) => {
      chunks.push(msgs(c));
      return Result.ok();
    });
    const a = batch(15);
    s.write(a); // 1500 bytes at 100 each → a chunk of 10 now, 5 wait
    const b = batch(2, 't', 100);
    s.write(b);
    await s.stop();
    expect(chunks.map((c) => c.length)).toEqual([10, 7]);
    expect(a.acked).toBe(1);
    expect(b.acked).toBe(1);
  });

  it('rate_limit: at most `requests` attempts per window, retries included; everything still sent', async () => {
    const at: number[] = [];
    let calls = 0;
    const { s } = sender(
      async () => {
        at.push(performance.now());
        // Every third attempt fails once: retries count against the limit too.
        return ++calls % 3 === 0 ? Result.retry('503') : Result.ok();
      },
      { workers: 4, rateLimit: { requests: 2, perMs: 250 }, retry: { initial: 1, max: 2 } },
    );
    const batches = Array.from({ length: 6 }, (_, i) => batch(10, 't', i * 10));
    for (const b of batches) s.write(b);
    await s.stop();
    expect(batches.every((b) => b.acked === 1)).toBe(true);
    expect(at.length).toBeGreaterThanOrEqual(8);
    // 2 per 250 ms window: n attempts need at least ceil(n / 2) - 1 refills (slack for timers).
    expect(at.at(-1)! - at[0]).toBeGreaterThan((Math.ceil(at.length / 2) - 1) * 225);
  });

  it('retries only the records the backend asks to retry and dead-letters rejected ones', async () => {
    const attempts: string[][] = [];
    const { s, dir, metrics } = sender(async (c) => {
      attempts.push(msgs(c));
      if (attempts.length === 1)
        return {
          rejected: [{ index: 1, reason: 'mapper_parsing_exception: bad' }],
          retry: { indexes: [3, 5], reason: 'item 429' },
        };
      if (attempts.length === 2) return { retry: { indexes: [1], reason: 'item 429 again' } };
      return Result.ok();
    });
    const b = batch(6);
    s.write(b);
    await s.stop();
    expect(attempts).toEqual([['m0', 'm1', 'm2', 'm3', 'm4', 'm5'], ['m3', 'm5'], ['m5']]);
    expect(b.acked).toBe(1);
    const dl = readFileSync(`${dir}/dead_letter/out.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; record: { message: string } });
    expect(dl).toHaveLength(1);
    expect(dl[0].record.message).toBe('m1');
    expect(dl[0].reason).toContain('mapper_parsing_exception');
    const sent = (await metrics.outputRecords.get()).values.find(
      (v) => v.labels.result === 'sent',
    )?.value;
    expect(sent).toBe(5);
  });

  it('dead-letters after retry.max_elapsed and still acknowledges', async () => {
    const { s, dir } = sender(async () => Result.retry('503', 10), {
      retry: { initial: 5, max: 10, max_elapsed: 100 },
    });
    const b = batch(3);
    s.write(b);
    await s.stop();
    expect(b.acked).toBe(1);
    const lines = readFileSync(`${dir}/dead_letter/out.ndjson`, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('max_elapsed');
  });

  it('treats a thrown send as retryable, and leaves records unacknowledged when aborted', async () => {
    let calls = 0;
    const { s, ac } = sender(async () => {
      calls++;
      throw new Error('ECONNREFUSED');
    });
    const b = batch(2);
    s.write(b);
    await new Promise((r) => setTimeout(r, 120));
    ac.abort(new Error('shutdown deadline'));
    await s.stop();
    expect(calls).toBeGreaterThan(1);
    expect(b.acked).toBe(0);
  });

  it('splits one input batch across chunks and acks it only after all parts', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let n = 0;
    const { s } = sender(
      async () => {
        if (n++ === 0) await gate;
        return Result.ok();
      },
      { workers: 2 },
    );
    const b = batch(20); // two chunks of 10
    s.write(b);
    await new Promise((r) => setTimeout(r, 30));
    expect(b.acked).toBe(0); // second chunk done, first still in flight
    release();
    await s.stop();
    expect(b.acked).toBe(1);
  });

  it('a sealing output gets its encoding on every attempt, never the records; dead letters are restored', async () => {
    // The "encoding": each record's message, by chunk position.
    const sealers: string[][] = [];
    const seal = (): Sealer => {
      const enc: string[] = [];
      sealers.push(enc);
      return {
        add(records, from, to, position) {
          for (let i = from; i < to; i++)
            enc[position + i - from] = records[i].fields.message as string;
        },
        finish: () => ({
          restore: (positions) =>
            positions.map((p) => ({
              fields: { message: `restored ${enc[p]}` },
              timeMs: 1,
              timeNs: 0,
            })),
        }),
      };
    };
    const attempts: Array<{ records: number; size: number; live: readonly number[] | undefined }> =
      [];
    let n = 0;
    const { s, dir } = sender(
      async (c) => {
        attempts.push({ records: c.records.length, size: c.size, live: c.live });
        expect(c.sealed).toBeDefined();
        // First attempt: reject position 1, retry 2 and 3; second: reject what is left.
        if (n++ === 0)
          return {
            rejected: [{ index: 1, reason: 'bad' }],
            retry: { indexes: [2, 3], reason: 'busy' },
          };
        return Result.permanent('still bad', c.size);
      },
      { seal },
    );
    const a = batch(4);
    s.write(a);
    await s.stop();
    expect(a.acked).toBe(1);
    expect(sealers).toEqual([['m0', 'm1', 'm2', 'm3']]);
    expect(attempts).toEqual([
      { records: 0, size: 4, live: undefined },
      { records: 0, size: 2, live: [2, 3] },
    ]);
    const dead = readFileSync(`${dir}/dead_letter/out.ndjson`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; record: { message: string } });
    expect(dead.map((d) => [d.record.message, d.reason])).toEqual([
      ['restored m1', 'bad'],
      ['restored m2', 'still bad'],
      ['restored m3', 'still bad'],
    ]);
  });

  it('a sealer that fails at the cut: nothing is sent, every record is dead-lettered, the batch acked', async () => {
    let sends = 0;
    const { s, dir } = sender(
      async () => {
        sends++;
        return Result.ok();
      },
      {
        seal: () => ({
          add() {},
          finish() {
            throw new Error('boom');
          },
        }),
      },
    );
    const a = batch(3);
    s.write(a);
    await s.stop();
    expect(sends).toBe(0);
    expect(a.acked).toBe(1);
    const dead = readFileSync(`${dir}/dead_letter/out.ndjson`, 'utf8').trim().split('\n');
    expect(dead).toHaveLength(3);
    expect(dead[0]).toContain('encoding the chunk failed: boom');
  });

  it('a probe ends a long backoff once the backend answers again (not a throttle)', async () => {
    let up = false;
    let probes = 0;
    let sent = 0;
    const { s } = sender(
      async (c) => {
        if (!up) return Result.retry('connection refused', undefined, 'econnrefused');
        sent += c.size;
        return Result.ok();
      },
      {
        // A backoff of up to 10 minutes: only the probe can end it within the test.
        retry: { initial: 600_000, max: 600_000 },
        random: () => 0.99,
        probe: async () => {
          probes++;
          return up;
        },
      },
    );
    const b = batch(3);
    s.write(b);
    await new Promise((r) => setTimeout(r, 300));
    expect(sent).toBe(0);
    up = true;
    const t0 = Date.now();
    while (b.acked === 0 && Date.now() - t0 < 8000) await new Promise((r) => setTimeout(r, 50));
    expect(b.acked).toBe(1);
    expect(sent).toBe(3);
    expect(probes).toBeGreaterThanOrEqual(1);
    await s.stop();
  }, 15_000);
  describe('the end of a burst (sender-burst.ts)', () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** A sender with max_wait 2 s that notes when each chunk is sent and its size. */
    function timed() {
      const sent: Array<{ n: number; at: number }> = [];
      const t0 = performance.now();
      const { s } = sender(
        async (c) => {
          sent.push({ n: c.size, at: performance.now() - t0 });
          return Result.ok();
        },
        { maxWaitMs: 2000 },
      );
      return { s, sent };
    }

    it('a fast stream that stops: its last chunk is cut when no record comes, not after max_wait', async () => {
      const { s, sent } = timed();
      const b = batch(15); // one chunk cut for size (10 × 100 bytes), 5 records left open
      s.write(b);
      for (let t = 0; t < 100 && sent.length < 2; t++) await sleep(20);
      expect(sent.map((x) => x.n)).toEqual([10, 5]);
      expect(sent[1].at).toBeLessThan(1000);
      expect(b.acked).toBe(1);
      await s.stop();
    });

    it('a slow stream (no chunk filled within max_wait) waits out max_wait: no more requests', async () => {
      const { s, sent } = timed();
      s.write(batch(5));
      await sleep(300);
      s.write(batch(3, 't', 5));
      for (let t = 0; t < 200 && sent.length < 1; t++) await sleep(20);
      expect(sent.map((x) => x.n)).toEqual([8]);
      expect(sent[0].at).toBeGreaterThanOrEqual(1900);
      await s.stop();
    });

    it('a fast stream in regular ticks is not cut between ticks', async () => {
      const { s, sent } = timed();
      // 20 ticks of 5 records 80 ms apart (longer than the shortest pause taken for an end):
      // 10 chunks cut for size, none between two ticks.
      for (let i = 0; i < 20; i++) {
        s.write(batch(5, 't', i * 5));
        await sleep(80);
      }
      for (let t = 0; t < 150 && sent.reduce((n, x) => n + x.n, 0) < 100; t++) await sleep(20);
      expect(sent.map((x) => x.n)).toEqual(Array.from({ length: 10 }, () => 10));
      await s.stop();
    });
  });
});
