// The Sender in queue mode (buffer.type: disk): cut chunks are appended to the disk queue and
// their input batches acknowledged once written, before delivery; workers deliver from the queue
// with retries; what is not delivered at stop is delivered by the next Sender on the same dir.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nullLogger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { createDeadLetterWriter } from './dead-letter.js';
import { DiskQueue } from './queue.js';
import type { ChunkCodec } from './queue-codec.js';
import type { LogRecord, OutputBatch } from './record.js';
import {
  Result,
  Sender,
  type Chunk,
  type Sealed,
  type Sealer,
  type SendResult,
  type SenderOptions,
} from './sender.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'shiplog-sender-queue-'));
  dirs.push(d);
  return d;
}

function batch(n: number, tag = 't', start = 0): OutputBatch & { acked: number } {
  const records: LogRecord[] = [];
  for (let i = 0; i < n; i++)
    records.push({
      fields: { message: `m${start + i}`, n: start + i },
      timeMs: 1_700_000_000_000 + start + i,
      timeNs: 7,
      labels: { job: 'x' },
      sourceId: `src:${start + i}`,
    });
  const b = { tag, records, bytes: n * 100, acked: 0, ack: () => void b.acked++ };
  return b;
}

function sender(
  dataDir: string,
  send: (c: Chunk) => Promise<SendResult>,
  extra: Partial<SenderOptions> = {},
) {
  const metrics = new Metrics({ defaultMetrics: false });
  const ac = new AbortController();
  const queues: DiskQueue[] = [];
  const s = new Sender({
    id: 'out',
    log: nullLogger,
    metrics,
    deadLetter: createDeadLetterWriter(dataDir, 'out', nullLogger, metrics),
    retry: { initial: 5, max: 20 },
    maxBytes: 1000,
    maxWaitMs: 20,
    workers: 1,
    signal: ac.signal,
    measure: () => 100,
    send: (c) => send(c),
    queue: async () => {
      const q = await DiskQueue.open({
        dir: path.join(dataDir, 'queue', 'out'),
        maxBytes: 1 << 30,
        log: nullLogger,
      });
      queues.push(q);
      return q;
    },
    ...extra,
  });
  return { s, ac, metrics, queues };
}

const msgs = (c: Chunk): string[] => c.records.map((r) => r.fields.message as string);

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** stop(), but a hang fails the test (and the deadline is then forced). */
async function stopWithin(s: Sender, ac: AbortController, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)));
  const res = await Promise.race([s.stop().then(() => 'stopped' as const), timedOut]);
  clearTimeout(t);
  if (res === 'timeout') {
    ac.abort(new Error('test deadline'));
    await s.stop();
    throw new Error(`stop() did not return within ${ms} ms`);
  }
}

describe('Sender in queue mode', () => {
  it('acknowledges an input batch once its chunk is written, before delivery; then delivers it', async () => {
    const dir = tmp();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const delivered: string[][] = [];
    let calls = 0;
    const { s, queues } = sender(dir, async (c) => {
      calls++;
      await gate;
      delivered.push(msgs(c));
      return Result.ok();
    });
    await s.start();
    expect(s.diskQueue).toBe(queues[0]);
    const a = batch(5);
    s.write(a);
    await until(() => a.acked === 1, 2000, 'input ack after the queue append');
    expect(delivered).toEqual([]);
    await until(() => calls === 1, 2000, 'a worker picked the chunk from the queue');
    expect(queues[0].records).toBe(5);
    release();
    await s.stop();
    expect(delivered).toEqual([['m0', 'm1', 'm2', 'm3', 'm4']]);
    expect(a.acked).toBe(1);
  });

  it('a backend failing N times then answering: every record delivered once, in order, fields intact', async () => {
    const dir = tmp();
    let fails = 4;
    const got: LogRecord[] = [];
    const attempts: number[] = [];
    const { s, queues } = sender(dir, async (c) => {
      attempts.push(c.size);
      if (fails-- > 0) return Result.retry('503', undefined, '503');
      got.push(...c.records);
      return Result.ok();
    });
    await s.start();
    const a = batch(15); // 10 + 5: two chunks
    const b = batch(3, 'u', 100);
    s.write(a);
    s.write(b);
    // stop() in queue mode does not wait out a failing backend (the queue keeps the chunks).
    await until(() => got.length === 18, 5000, 'every record delivered');
    await s.stop();
    expect(a.acked).toBe(1);
    expect(b.acked).toBe(1);
    expect(attempts.length).toBe(4 + 2);
    expect(got.map((r) => r.fields.message)).toEqual([
      ...a.records.map((r) => r.fields.message),
      ...b.records.map((r) => r.fields.message),
    ]);
    // Read back from the queue: fields, time, labels and source id as they were written.
    expect(got).toEqual([...a.records, ...b.records]);
    expect(queues[0].empty).toBe(true);
  });

  it('stop while the backend is down: inputs are acknowledged, the chunks wait; a new Sender on the same dir delivers them in order', async () => {
    const dir = tmp();
    let downAttempts = 0;
    const first = sender(
      dir,
      async () => {
        downAttempts++;
        return Result.retry('connection refused', undefined, 'econnrefused');
      },
      { retry: { initial: 200, max: 200 } },
    );
    await first.s.start();
    const batches = [batch(10, 'a', 0), batch(10, 'b', 10), batch(4, 'c', 20)];
    for (const b of batches) first.s.write(b);
    await until(() => downAttempts > 0, 2000, 'a first attempt');
    await stopWithin(first.s, first.ac, 5000);
    expect(batches.map((b) => b.acked)).toEqual([1, 1, 1]);
    const qdir = path.join(dir, 'queue', 'out');
    expect(readdirSync(qdir).some((f) => f.endsWith('.seg'))).toBe(true);

    const chunks: Array<{ msgs: string[]; tags: string[] }> = [];
    const second = sender(dir, async (c) => {
      chunks.push({
        msgs: msgs(c),
        tags: Array.from({ length: c.size }, (_, i) => c.tagAt(i)),
      });
      return Result.ok();
    });
    await second.s.start();
    await until(() => chunks.length === 3, 3000, 'the queued chunks delivered after restart');
    await stopWithin(second.s, second.ac, 3000);
    expect(chunks.map((c) => c.msgs)).toEqual(
      batches.map((b) => b.records.map((r) => r.fields.message)),
    );
    expect(chunks.map((c) => [...new Set(c.tags)])).toEqual([['a'], ['b'], ['c']]);

    // Delivered and acknowledged: a third start has nothing to send.
    let more = 0;
    const third = sender(dir, async () => {
      more++;
      return Result.ok();
    });
    await third.s.start();
    await new Promise((r) => setTimeout(r, 100));
    await stopWithin(third.s, third.ac, 3000);
    expect(more).toBe(0);
  });

  it('a backlog (queue behind) is stored deflated and delivered intact; a queue that keeps up is not', async () => {
    const dir = tmp();
    const queueOpts = { maxBytes: 256 << 10 }; // behind from 32 KiB queued
    let down = true;
    const got: string[] = [];
    const first = sender(
      dir,
      async (c) => {
        if (down) return Result.retry('connection refused', undefined, 'econnrefused');
        got.push(...msgs(c));
        return Result.ok();
      },
      {
        retry: { initial: 50, max: 50 },
        queue: async () =>
          DiskQueue.open({ dir: path.join(dir, 'queue', 'out'), log: nullLogger, ...queueOpts }),
      },
    );
    await first.s.start();
    const pad = 'x'.repeat(200);
    const bs: Array<OutputBatch & { acked: number }> = [];
    for (let i = 0; i < 40; i++) {
      const b = batch(10, 't', i * 10);
      for (const r of b.records) r.fields.pad = pad;
      bs.push(b);
      first.s.write(b);
    }
    await until(() => bs.every((b) => b.acked === 1), 5000, 'every batch written to the queue');
    const qdir = path.join(dir, 'queue', 'out');
    const segs = readdirSync(qdir).filter((f) => f.endsWith('.seg'));
    const text = segs.map((f) => readFileSync(path.join(qdir, f), 'latin1')).join('');
    // The first frames went in plain (the queue kept up); the rest deflated ("z":1 in the header).
    expect(text).toContain('"m0"');
    expect(text).toContain('"z":1');
    expect(text).not.toContain('"m399"');
    down = false;
    await until(() => got.length === 400, 5000, 'the backlog delivered');
    await stopWithin(first.s, first.ac, 3000);
    expect(got).toEqual(Array.from({ length: 400 }, (_, i) => `m${i}`));
  });

  it('a sealing output: the sealed chunk is stored via its codec and decoded after a restart', async () => {
    const dir = tmp();
    interface Text extends Sealed {
      lines: string[];
    }
    const seal = (): Sealer => {
      const lines: string[] = [];
      return {
        add(records, from, to, position) {
          for (let i = from; i < to; i++)
            lines[position + i - from] = JSON.stringify(records[i].fields);
        },
        finish: (): Text => ({
          lines,
          restore: (ps) =>
            ps.map((p) => ({ fields: { restored: lines[p] }, timeMs: 1, timeNs: 0 })),
        }),
      };
    };
    const codec: ChunkCodec = {
      encode: (sealed) => ({
        meta: { v: 1, n: (sealed as Text).lines.length },
        parts: [Buffer.from((sealed as Text).lines.join('\n'))],
      }),
      decode: (meta, parts) => {
        const m = meta as { v: number; n: number };
        if (m.v !== 1) throw new Error('unknown version');
        const lines = parts[0].toString().split('\n');
        if (lines.length !== m.n) throw new Error('line count');
        return {
          lines,
          restore: (ps: readonly number[]) =>
            ps.map((p) => ({ fields: { restored: lines[p] }, timeMs: 1, timeNs: 0 })),
        } as Text;
      },
    };
    const first = sender(dir, async () => Result.retry('down'), {
      seal,
      codec,
      retry: { initial: 200, max: 200 },
    });
    await first.s.start();
    const a = batch(3);
    first.s.write(a);
    await until(() => a.acked === 1, 2000, 'input ack');
    await stopWithin(first.s, first.ac, 5000);

    const got: Array<{ lines: string[]; size: number; records: number; tag: string }> = [];
    const second = sender(
      dir,
      async (c) => {
        got.push({
          lines: (c.sealed as Text).lines,
          size: c.size,
          records: c.records.length,
          tag: c.tagAt(0),
        });
        return Result.ok();
      },
      { seal, codec },
    );
    await second.s.start();
    await until(() => got.length === 1, 3000, 'the sealed chunk after restart');
    await stopWithin(second.s, second.ac, 3000);
    expect(got).toEqual([
      {
        lines: a.records.map((r) => JSON.stringify(r.fields)),
        size: 3,
        records: 0,
        tag: 't',
      },
    ]);
  });

  it('a frame its codec cannot decode is dead-lettered and skipped; the next one is delivered', async () => {
    const dir = tmp();
    let breakNext = true;
    const codec: ChunkCodec = {
      encode: () => {
        const bad = breakNext;
        breakNext = false;
        return { meta: { bad }, parts: [] };
      },
      decode: (meta) => {
        if ((meta as { bad: boolean }).bad) throw new Error('cannot decode');
        return { restore: () => [] };
      },
    };
    const seal = (): Sealer => ({ add() {}, finish: () => ({ restore: () => [] }) });
    const sizes: number[] = [];
    const { s, queues } = sender(
      dir,
      async (c) => {
        sizes.push(c.size);
        return Result.ok();
      },
      { seal, codec, maxWaitMs: 5 },
    );
    await s.start();
    const a = batch(2);
    s.write(a);
    await until(() => a.acked === 1, 2000, 'first input ack');
    const b = batch(3, 't', 10);
    s.write(b);
    await until(() => sizes.length === 1, 2000, 'the second chunk delivered');
    await stopWithin(s, new AbortController(), 3000);
    expect(sizes).toEqual([3]);
    expect(b.acked).toBe(1);
    expect(queues[0].empty).toBe(true);
    const dead = readFileSync(path.join(dir, 'dead_letter', 'out.ndjson'), 'utf8');
    expect(dead).toContain('queue frame unreadable: cannot decode');
  });

  it('records the backend rejects permanently are dead-lettered and the frame acknowledged to the queue', async () => {
    const dir = tmp();
    const { s, queues } = sender(dir, async (c) => ({
      rejected: [{ index: 1, reason: 'mapper_parsing_exception' }],
      status: c.size === 3 ? '200' : 'x',
    }));
    await s.start();
    const a = batch(3);
    s.write(a);
    await stopWithin(s, new AbortController(), 3000);
    expect(a.acked).toBe(1);
    expect(queues[0].empty).toBe(true);
    const dead = readFileSync(path.join(dir, 'dead_letter', 'out.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; tag: string; record: { message: string } });
    expect(dead.map((d) => [d.record.message, d.reason, d.tag])).toEqual([
      ['m1', 'mapper_parsing_exception', 't'],
    ]);
  });

  // A frame damaged on disk while stopped: the queue skips it at restart (reported), but its
  // records are subtracted from a count that never included them, so queue.empty never becomes
  // true and stop() waits for the shutdown deadline instead of returning once all is delivered.
  it('after a restart with a corrupt frame, everything else is delivered and stop() returns promptly', async () => {
    const dir = tmp();
    const first = sender(dir, async () => Result.retry('down'), {
      retry: { initial: 200, max: 200 },
    });
    await first.s.start();
    const batches = [batch(10, 'a', 0), batch(10, 'b', 10), batch(10, 'c', 20)];
    for (const b of batches) first.s.write(b);
    await until(() => batches.every((b) => b.acked === 1), 2000, 'input acks');
    await stopWithin(first.s, first.ac, 5000);

    // Flip one byte inside the second frame's payload.
    const qdir = path.join(dir, 'queue', 'out');
    const seg = readdirSync(qdir).find((f) => f.endsWith('.seg'))!;
    const bytes = await fsp.readFile(path.join(qdir, seg));
    const firstLen = bytes.readUInt32LE(0);
    const second = 20 + firstLen;
    bytes[second + 20 + 10] ^= 0x55;
    await fsp.writeFile(path.join(qdir, seg), bytes);

    const got: string[][] = [];
    const next = sender(dir, async (c) => {
      got.push(msgs(c));
      return Result.ok();
    });
    await next.s.start();
    await until(() => got.length === 2, 3000, 'the intact chunks delivered');
    expect(got).toEqual(
      [batches[0], batches[2]].map((b) => b.records.map((r) => `${r.fields.message as string}`)),
    );
    await stopWithin(next.s, next.ac, 2000);
  });
});
