// The per-output disk queue: order and payloads survive a restart, the acknowledged prefix is
// resumed after, segments roll and are deleted once delivered, the queue is bounded, a torn tail
// (SIGKILL mid-write) is cut, a corrupt frame is skipped and reported, and a failing write keeps
// the append pending. Every test works in its own temp dir.
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nullLogger } from '../telemetry/logger.js';
import {
  DiskQueue,
  QueueBudget,
  type CorruptFrame,
  type QueueItem,
  type QueueOptions,
} from './queue.js';
import { decodePointerSlot } from './queue-frame.js';

const HEADER = 20;
const SEG = /^\d+\.seg$/;

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(dir: string, extra: Partial<QueueOptions> = {}): Promise<DiskQueue> {
  return DiskQueue.open({ dir, maxBytes: 1 << 30, log: nullLogger, ...extra });
}

interface Frame {
  payload: Buffer;
  records: number;
  timeMs: number;
}

function frame(i: number, size = 30): Frame {
  const head = `frame-${i}-`;
  return {
    payload: Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length))),
    records: (i % 5) + 1,
    timeMs: 1_700_000_000_000 + i,
  };
}

const frameArb: fc.Arbitrary<Omit<Frame, 'timeMs'>> = fc.record({
  // Never empty in production (encodeFrame writes at least its 4-byte header length).
  payload: fc.uint8Array({ minLength: 1, maxLength: 120 }).map((a) => Buffer.from(a)),
  records: fc.integer({ min: 1, max: 50 }),
});

/** Fails instead of hanging the file for a minute. */
/** Wait (up to 5 s) for `cond`; the assertion after it reports what is still wrong. */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

async function take(q: DiskQueue, n: number): Promise<QueueItem[]> {
  const out: QueueItem[] = [];
  for (let i = 0; i < n; i++) {
    const it = await within(q.next(), 3000, `next() #${i + 1} of ${n}`);
    if (!it) throw new Error(`next() gave undefined at #${i + 1} of ${n}`);
    out.push(it);
  }
  return out;
}

async function appendAll(q: DiskQueue, frames: Frame[], concurrent = false): Promise<void> {
  if (concurrent) await Promise.all(frames.map((f) => q.append(f.payload, f.records, f.timeMs)));
  else for (const f of frames) await q.append(f.payload, f.records, f.timeMs);
}

function segFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => SEG.test(f))
    .sort();
}

/** Nothing is left to read: the next frame next() gives is one appended now. */
async function nothingMore(q: DiskQueue): Promise<void> {
  await q.append(Buffer.from('sentinel'), 1, -1);
  const [it] = await take(q, 1);
  expect(it.timeMs, 'a frame after what was expected').toBe(-1);
  q.ack(it);
}

/** Compare what was read back with what was appended. */
function same(items: QueueItem[], frames: Frame[]): void {
  expect(items.map((i) => i.payload.toString('hex'))).toEqual(
    frames.map((f) => f.payload.toString('hex')),
  );
  expect(items.map((i) => i.records)).toEqual(frames.map((f) => f.records));
  expect(items.map((i) => i.timeMs)).toEqual(frames.map((f) => f.timeMs));
}

const sum = (fs: Array<{ records: number }>): number => fs.reduce((n, f) => n + f.records, 0);
const frameBytes = (fs: Array<{ payload: Buffer }>): number =>
  fs.reduce((n, f) => n + HEADER + f.payload.length, 0);

/**
 * A crash image: the files as they are now, as a SIGKILL would leave them. A delivered segment
 * being unlinked right now may vanish while copying: then it was deleted before the kill.
 */
function crashImage(dir: string, into: string): void {
  for (const f of readdirSync(dir)) {
    try {
      copyFileSync(path.join(dir, f), path.join(into, f));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/** The save number in a pointer slot file. */
function seqOf(file: string): number {
  return (JSON.parse(decodePointerSlot(readFileSync(file))!) as { seq: number }).seq;
}

function snapshot(dir: string): string {
  const copy = tmp();
  crashImage(dir, copy);
  return copy;
}

describe('DiskQueue: order, acknowledgements, restart', () => {
  it('append N → close → reopen → next() yields them in order with identical payloads, records and times', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 40 }, (_, i) => frame(i, 10 + ((i * 37) % 200)));
    let q = await open(dir);
    await appendAll(q, frames.slice(0, 20));
    await appendAll(q, frames.slice(20), true);
    expect(q.records).toBe(sum(frames));
    expect(q.bytes).toBe(frameBytes(frames));
    await q.close();

    q = await open(dir);
    expect(q.records).toBe(sum(frames));
    expect(q.bytes).toBe(frameBytes(frames));
    expect(q.backlog).toBe(true);
    const items = await take(q, frames.length);
    same(items, frames);
    await nothingMore(q);
    await q.close();
  });

  it('a frame appended in parts: handed out from memory as those parts, stored as their concatenation', async () => {
    const dir = tmp();
    const parts = [
      Buffer.from('head-'),
      Buffer.alloc(0),
      Buffer.from('body'.repeat(50)),
      Buffer.from('!'),
    ];
    const whole = Buffer.concat(parts);
    let q = await open(dir);
    await q.append(parts, 3, 7);
    await q.append(Buffer.from('next'), 1, 8);
    const [live] = await take(q, 1);
    expect(live.frame).toHaveLength(parts.length);
    live.frame.forEach((b, i) => expect(b).toBe(parts[i])); // not copied
    expect(live.payload.equals(whole)).toBe(true);
    expect(q.bytes).toBe(2 * HEADER + whole.length + 4);
    await q.close();
    // Read back from disk after a restart: one buffer, its crc checked.
    q = await open(dir);
    const items = await take(q, 2);
    expect(items.map((i) => [i.payload.toString(), i.records, i.timeMs])).toEqual([
      [whole.toString(), 3, 7],
      ['next', 1, 8],
    ]);
    expect(items[0].frame).toHaveLength(1);
    await q.close();
  });

  it('a zero-byte payload is a frame like any other', async () => {
    const dir = tmp();
    let q = await open(dir);
    await q.append(Buffer.alloc(0), 0, 5);
    await q.append(Buffer.from('a'), 1, 6);
    await q.close();
    q = await open(dir);
    const items = await take(q, 2);
    expect(items.map((i) => [i.payload.length, i.records, i.timeMs])).toEqual([
      [0, 0, 5],
      [1, 1, 6],
    ]);
    await q.close();
  });

  // zlib's crc32(crc, NULL, 0) returns 0, not crc, and node passes NULL for an empty buffer
  // whose ArrayBuffer was materialised (any `.buffer` access): such a frame is written with crc 0
  // but checked against crc32(header) when read back (Buffer.allocUnsafe(0) is on-heap), so it
  // fails its check — cut as a torn tail when last, else skipped as corrupt.
  it('a zero-byte payload whose ArrayBuffer was touched survives a restart', async () => {
    const dir = tmp();
    let q = await open(dir);
    const empty = Buffer.alloc(0);
    expect(empty.buffer.byteLength).toBe(0);
    await q.append(empty, 1, 5);
    await q.close();
    const corrupt: CorruptFrame[] = [];
    q = await open(dir, { onCorrupt: (c) => corrupt.push(c) });
    expect(q.records).toBe(1);
    await q.append(Buffer.from('after'), 1, 6);
    const items = await take(q, 1);
    expect(items.map((i) => [i.payload.length, i.records, i.timeMs])).toEqual([[0, 1, 5]]);
    expect(corrupt).toEqual([]);
    await q.close();
  });

  // `backlog` ("unread frames exist") compares the read position with the last segment, which
  // after a restart is the fresh, empty one: having read every old frame, it stays true until
  // the next next() call moves the read position on.
  it('backlog is false once every frame was read, also after a restart', async () => {
    const dir = tmp();
    let q = await open(dir, { segmentBytes: 100 });
    await appendAll(q, [frame(0, 80), frame(1, 80)]);
    await take(q, 2);
    expect(q.backlog).toBe(false);
    await q.close();
    q = await open(dir, { segmentBytes: 100 });
    expect(q.backlog).toBe(true);
    await take(q, 2);
    expect(q.backlog).toBe(false);
    await q.close();
  });

  it('acks of a prefix → reopen resumes after the acknowledged prefix', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 10 }, (_, i) => frame(i));
    let q = await open(dir);
    await appendAll(q, frames);
    const items = await take(q, 6);
    for (const it of items.slice(0, 4)) q.ack(it);
    expect(q.records).toBe(sum(frames.slice(4)));
    await q.close();

    q = await open(dir);
    expect(q.records).toBe(sum(frames.slice(4)));
    same(await take(q, 6), frames.slice(4));
    await nothingMore(q);
    await q.close();
  });

  it('acks out of order: the prefix plus the frames acknowledged beyond it are remembered; only the rest is replayed', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 8 }, (_, i) => frame(i));
    let q = await open(dir);
    await appendAll(q, frames);
    const items = await take(q, 8);
    // 0, 1, 3, 5, 6 acknowledged; 2 is not: the pointer stops after 1.
    for (const k of [3, 0, 6, 1, 5]) q.ack(items[k]);
    q.ack(items[3]); // a second ack of the same frame changes nothing
    expect(q.records).toBe(sum([frames[2], frames[4], frames[7]]));
    expect(q.empty).toBe(false);
    await q.close();

    q = await open(dir);
    expect(q.records).toBe(sum([frames[2], frames[4], frames[7]]));
    same(await take(q, 3), [frames[2], frames[4], frames[7]]);
    await nothingMore(q);
    await q.close();
  });

  it('a crash (no close) resends only frames not yet acknowledged, whatever the ack order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 60, max: 800 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        async (raw, segmentBytes, ackPicks) => {
          const frames = raw.map((f, i) => ({ ...f, timeMs: i }));
          const dir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-ack-'));
          const copy = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-ack-copy-'));
          try {
            const q = await open(dir, { segmentBytes, pointerIntervalMs: 60_000 });
            await appendAll(q, frames);
            const items = await take(q, frames.length);
            const acked = new Set<number>();
            for (const p of ackPicks) {
              const k = p % frames.length;
              acked.add(k);
              q.ack(items[k]);
            }
            // Let the (coalesced) pointer write land, then crash: copy the files, never close.
            await q.flushPointer();
            crashImage(dir, copy);
            await q.close();
            const r = await open(copy, { segmentBytes });
            const rest = frames.filter((_, i) => !acked.has(i));
            expect(r.records).toBe(sum(rest));
            same(await take(r, rest.length), rest);
            await nothingMore(r);
            await r.close();
          } finally {
            rmSync(dir, { recursive: true, force: true });
            rmSync(copy, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a crash during a fast drain resends only what was acknowledged during the last pointer write', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 400 }, (_, i) => frame(i, 200));
    const q = await open(dir, { pointerIntervalMs: 20, segmentBytes: 8 << 10 });
    await appendAll(q, frames);
    const items = await take(q, 400);
    // A periodic save that finds nothing new to write must not block the saves after it.
    await new Promise((r) => setTimeout(r, 60));
    // Acknowledge in bursts (as workers finish requests), with a crash after the 250th.
    for (let i = 0; i < 250; i++) {
      q.ack(items[i]);
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    await q.flushPointer();
    const copy = snapshot(dir);
    await q.close();
    const r = await open(copy, { segmentBytes: 8 << 10 });
    same(await take(r, 150), frames.slice(250));
    await nothingMore(r);
    await r.close();
  });

  it('acknowledgements saved only to the pointer slots (no pointer.json write since) survive a crash', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 60 }, (_, i) => frame(i, 100));
    // pointer.json is written at open and then not for a minute: only the slots carry the acks.
    const q = await open(dir, { pointerIntervalMs: 60_000, segmentBytes: 2 << 10 });
    await appendAll(q, frames);
    const items = await take(q, 60);
    for (const i of [...Array(25).keys(), 30, 31, 40]) q.ack(items[i]);
    await q.flushPointer();
    const copy = snapshot(dir);
    const saved = JSON.parse(readFileSync(path.join(copy, 'pointer.json'), 'utf8')) as {
      done?: unknown[];
    };
    expect(saved.done ?? []).toEqual([]); // pointer.json still names nothing acknowledged
    await q.close();
    const r = await open(copy, { segmentBytes: 2 << 10 });
    const rest = frames.filter((_, k) => k >= 25 && ![30, 31, 40].includes(k));
    same(await take(r, rest.length), rest);
    await nothingMore(r);
    await r.close();
  });

  it('a torn or corrupt pointer slot: the other slot or pointer.json is used (resends, never skips)', async () => {
    const frames = Array.from({ length: 30 }, (_, i) => frame(i, 100));
    for (const damage of ['torn', 'bit flip', 'both slots torn'] as const) {
      const dir = tmp();
      const q = await open(dir, { pointerIntervalMs: 60_000, segmentBytes: 2 << 10 });
      await appendAll(q, frames);
      const items = await take(q, 30);
      q.ack(items[0]);
      await q.flushPointer(); // slot A: frame 0
      for (let i = 1; i < 10; i++) q.ack(items[i]);
      await q.flushPointer(); // slot B: frames 0-9
      const copy = snapshot(dir);
      await q.close();
      // The newest slot is the one written last; damage it (and with 'both', the other one too).
      const slots = ['pointer.live.0', 'pointer.live.1']
        .map((f) => path.join(copy, f))
        .sort((a, b) => seqOf(b) - seqOf(a));
      const hit = damage === 'both slots torn' ? slots : [slots[0]];
      for (const f of hit) {
        const b = readFileSync(f);
        if (damage === 'bit flip') b[b.length - 3] ^= 0x10;
        writeFileSync(f, damage === 'bit flip' ? b : b.subarray(0, b.length - 4));
      }
      const r = await open(copy, { segmentBytes: 2 << 10 });
      // Falls back to an older save: frames acknowledged in the damaged one come again.
      const from = damage === 'both slots torn' ? 0 : 1;
      same(await take(r, 30 - from), frames.slice(from));
      await nothingMore(r);
      await r.close();
    }
  });

  it('a saved pointer or done entry naming a segment no longer on disk never skips a new frame', async () => {
    const dir = tmp();
    // As after a drained queue whose files are gone, with entries beyond the prefix.
    await fsp.writeFile(
      path.join(dir, 'pointer.json'),
      JSON.stringify({
        segment: 3,
        offset: 0,
        done: [
          [4, 0],
          [5, 0],
          [3, 0],
        ],
      }),
    );
    const q = await open(dir, { segmentBytes: 60 });
    const frames = Array.from({ length: 4 }, (_, i) => frame(i, 40));
    await appendAll(q, frames);
    expect(q.records).toBe(sum(frames));
    same(await take(q, 4), frames);
    for (const f of segFiles(dir)) expect(Number(f.slice(0, -4))).toBeGreaterThan(3);
    await q.close();
  });

  it('a frame acknowledged after reopen is not replayed again; appends after reopen come after the old frames', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 12 }, (_, i) => frame(i));
    let q = await open(dir);
    await appendAll(q, frames.slice(0, 6));
    await q.close();

    q = await open(dir);
    await appendAll(q, frames.slice(6, 9));
    const items = await take(q, 9);
    same(items, frames.slice(0, 9));
    for (const it of items.slice(0, 7)) q.ack(it);
    await q.close();

    q = await open(dir);
    await appendAll(q, frames.slice(9));
    same(await take(q, 5), frames.slice(7));
    await q.close();
  });

  it('next() waits for an append and gives undefined once the queue is closed', async () => {
    const dir = tmp();
    const q = await open(dir);
    const waiting = q.next();
    await new Promise((r) => setTimeout(r, 20));
    await q.append(Buffer.from('late'), 1);
    const it = await within(waiting, 2000, 'next() after an append');
    expect(it?.payload.toString()).toBe('late');
    const idle = q.next();
    await q.close();
    expect(await within(idle, 2000, 'next() after close')).toBeUndefined();
    expect(await q.next()).toBeUndefined();
    await expect(q.append(Buffer.from('x'), 1)).rejects.toThrow(/closed/);
  });

  it('empty and oldestTime follow appends and acknowledgements', async () => {
    const dir = tmp();
    let q = await open(dir);
    expect(q.empty).toBe(true);
    expect(await q.oldestTime()).toBeUndefined();
    await q.append(Buffer.from('a'), 1, 1000);
    await q.append(Buffer.from('b'), 2, 2000);
    expect(q.empty).toBe(false);
    expect(await q.oldestTime()).toBe(1000);
    const [a] = await take(q, 1);
    expect(await q.oldestTime()).toBe(1000);
    q.ack(a);
    expect(await q.oldestTime()).toBe(2000);
    await q.close();
    q = await open(dir);
    expect(await q.oldestTime()).toBe(2000); // read back from disk
    const [b] = await take(q, 1);
    q.ack(b);
    expect(q.empty).toBe(true);
    expect(await q.oldestTime()).toBeUndefined();
    await q.close();
  });

  // Model-based: random appends, reads, acks (in any order), clean restarts and crashes (the
  // files copied as they are, pointer as last saved). After a clean restart the queue resumes
  // exactly at the first unacknowledged frame; after a crash at or before it; in both cases every
  // frame after that comes once, in order, and `records` is what is not acknowledged.
  it('restart replay order per output (model-based property)', async () => {
    type Op =
      | { t: 'append'; frames: Array<Omit<Frame, 'timeMs'>>; concurrent: boolean }
      | { t: 'read'; n: number }
      | { t: 'ack'; picks: number[] }
      | { t: 'reopen' }
      | { t: 'crash' };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        t: fc.constant('append' as const),
        frames: fc.array(frameArb, { minLength: 1, maxLength: 6 }),
        concurrent: fc.boolean(),
      }),
      fc.record({ t: fc.constant('read' as const), n: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ t: fc.constant('ack' as const), picks: fc.array(fc.nat(), { maxLength: 6 }) }),
      fc.constant({ t: 'reopen' as const }),
      fc.constant({ t: 'crash' as const }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 40, max: 400 }),
        async (ops, segmentBytes) => {
          let dir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-model-'));
          const made = [dir];
          const all: Frame[] = [];
          let acked = new Set<number>(); // frame indexes acknowledged (this session, plus the prefix)
          let readPos = 0; // index of the frame next() must give
          let inFlight: Array<{ idx: number; item: QueueItem }> = [];
          let q = await open(dir, { segmentBytes });
          const firstUnacked = (): number => {
            let i = 0;
            while (acked.has(i)) i++;
            return i;
          };
          const unackedRecords = (): number =>
            all.reduce((n, f, i) => n + (acked.has(i) ? 0 : f.records), 0);
          try {
            for (const op of ops) {
              if (op.t === 'append') {
                const fs = op.frames.map((f, k) => ({ ...f, timeMs: all.length + k }));
                all.push(...fs);
                await appendAll(q, fs, op.concurrent);
              } else if (op.t === 'read') {
                const n = Math.min(op.n, all.length - readPos);
                for (const item of await take(q, n)) {
                  expect(item.timeMs, 'next() gave an unexpected frame').toBe(readPos);
                  expect(item.payload.equals(all[readPos].payload)).toBe(true);
                  inFlight.push({ idx: readPos, item });
                  readPos++;
                }
              } else if (op.t === 'ack') {
                for (const p of op.picks) {
                  if (inFlight.length === 0) break;
                  const [x] = inFlight.splice(p % inFlight.length, 1);
                  q.ack(x.item);
                  acked.add(x.idx);
                }
              } else {
                const start = firstUnacked();
                if (op.t === 'reopen') {
                  await q.close();
                } else {
                  const copy = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-model-'));
                  made.push(copy);
                  crashImage(dir, copy);
                  await q.close();
                  dir = copy;
                }
                q = await open(dir, { segmentBytes });
                inFlight = [];
                let from = start;
                if (op.t === 'crash') {
                  // The saved pointer may be behind: `records` tells where the replay starts
                  // (every frame holds at least one record, so suffix sums are distinct).
                  let suffix = sum(all);
                  from = 0;
                  while (from < all.length && suffix > q.records) suffix -= all[from++].records;
                  expect(suffix, 'records after a crash is not a suffix of the frames').toBe(
                    q.records,
                  );
                  expect(from).toBeLessThanOrEqual(start);
                }
                acked = new Set(Array.from({ length: from }, (_, i) => i));
                readPos = from;
              }
              expect(q.records).toBe(unackedRecords());
              expect(q.empty).toBe(inFlight.length === 0 && acked.size === all.length);
            }
            // Whatever is left comes next, in order.
            const rest = all.length - readPos;
            const items = await take(q, rest);
            expect(items.map((i) => i.timeMs)).toEqual(
              Array.from({ length: rest }, (_, k) => readPos + k),
            );
            await nothingMore(q);
          } finally {
            await q.close();
            for (const d of made) rmSync(d, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 60, seed: 1601 },
    );
  });
});

describe('DiskQueue: segments, counters, bounds', () => {
  it('segments roll at segmentBytes and fully acknowledged segments are unlinked', async () => {
    const dir = tmp();
    // 100 bytes a frame, 300 a segment: frames 0-2 in segment 1, 3-5 in 2, 6-8 in 3, 9 in 4.
    const frames = Array.from({ length: 10 }, (_, i) => frame(i, 80));
    const q = await open(dir, { segmentBytes: 300 });
    await appendAll(q, frames);
    expect(segFiles(dir)).toHaveLength(4);
    expect(q.bytes).toBe(1000);
    expect(q.records).toBe(sum(frames));
    const items = await take(q, 10);
    for (const it of items.slice(0, 4)) q.ack(it);
    // Unlinking is asynchronous (a loaded host can take longer than a fixed sleep).
    await until(() => segFiles(dir).length === 3);
    expect(segFiles(dir)).toHaveLength(3);
    expect(q.bytes).toBe(700);
    expect(q.records).toBe(sum(frames.slice(4)));
    for (const it of items.slice(4, 7)) q.ack(it);
    await until(() => segFiles(dir).length === 2);
    expect(segFiles(dir)).toHaveLength(2);
    expect(q.bytes).toBe(400);
    expect(q.records).toBe(sum(frames.slice(7)));
    await q.close();
  });

  // Segment 3 (frames 6-8) is fully acknowledged below, and nothing more is appended: the queue
  // is drained, yet the file stays (and counts in `bytes`) until some later frame is acknowledged.
  it('a fully acknowledged segment is unlinked even when no later frame is acknowledged', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 9 }, (_, i) => frame(i, 80));
    const q = await open(dir, { segmentBytes: 300 });
    await appendAll(q, frames);
    for (const it of await take(q, 9)) q.ack(it);
    const written = (): string[] =>
      segFiles(dir).filter(
        (f) => (statSync(path.join(dir, f), { throwIfNoEntry: false })?.size ?? 0) > 0,
      );
    await until(() => written().length === 0);
    expect(q.empty).toBe(true);
    expect(q.bytes).toBe(0);
    expect(written()).toEqual([]);
    await q.close();
  });

  it('after everything was delivered and the queue closed, a restart starts clean (no old segment, 0 bytes)', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 5 }, (_, i) => frame(i, 80));
    let q = await open(dir, { segmentBytes: 300 });
    await appendAll(q, frames);
    for (const it of await take(q, 5)) q.ack(it);
    await q.close();
    q = await open(dir, { segmentBytes: 300 });
    await new Promise((r) => setTimeout(r, 20));
    expect(q.records).toBe(0);
    expect(q.bytes).toBe(0);
    expect(segFiles(dir).filter((f) => statSync(path.join(dir, f)).size > 0)).toEqual([]);
    await q.close();
  });

  it('full and room() with maxBytes: appends wait until acknowledged segments are dropped', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 5 }, (_, i) => frame(i, 80));
    const q = await open(dir, { maxBytes: 500, segmentBytes: 200 });
    expect(q.full).toBe(false);
    expect(q.room()).toBeUndefined();
    await appendAll(q, frames.slice(0, 4));
    expect(q.full).toBe(false);
    // A pending append counts too.
    const last = q.append(frames[4].payload, frames[4].records);
    expect(q.full).toBe(true);
    await last;
    expect(q.full).toBe(true);
    let roomy = false;
    const room = q.room()!;
    expect(room).toBeInstanceOf(Promise);
    void room.then(() => (roomy = true));
    const items = await take(q, 3);
    q.ack(items[0]);
    q.ack(items[1]);
    await new Promise((r) => setTimeout(r, 30));
    // Segment 1 (frames 0, 1) is acknowledged; it goes once the pointer passes into segment 2.
    q.ack(items[2]);
    await within(room, 1000, 'room() after segment 1 was dropped');
    expect(roomy).toBe(true);
    expect(q.full).toBe(false);
    expect(q.bytes).toBe(300);
    await q.close();
  });

  // buffer.max_size has no minimum; the default segment size is at least 1 MiB. With a queue
  // smaller than one segment, every frame stays in the segment being written: acknowledging them
  // all frees nothing, so `full` never clears and the inputs wait forever.
  it('a queue smaller than a segment does not stay full once everything is acknowledged', async () => {
    const dir = tmp();
    const q = await open(dir, { maxBytes: 300 });
    const frames = Array.from({ length: 3 }, (_, i) => frame(i, 80));
    await appendAll(q, frames);
    expect(q.full).toBe(true);
    const room = q.room();
    for (const it of await take(q, 3)) q.ack(it);
    await within(room ?? Promise.resolve(), 1500, 'room() after every frame was acknowledged');
    expect(q.full).toBe(false);
    await q.close();
  });

  it('a shared QueueBudget: one queue over the global limit makes the others wait until it drains', async () => {
    const da = tmp();
    const db = tmp();
    const budget = new QueueBudget(300);
    const a = await open(da, { budget, segmentBytes: 100 });
    const b = await open(db, { budget, segmentBytes: 100 });
    await appendAll(
      a,
      Array.from({ length: 3 }, (_, i) => frame(i, 80)),
    );
    expect(budget.bytes).toBe(300);
    expect(a.full).toBe(true);
    // An empty queue may still take one frame (no queue is starved by the others)...
    expect(b.full).toBe(false);
    await b.append(frame(9, 80).payload, 1);
    expect(budget.bytes).toBe(400);
    // ...but not more while the budget is used up.
    expect(b.full).toBe(true);
    const room = b.room()!;
    expect(room).toBeInstanceOf(Promise);
    const items = await take(a, 3);
    for (const it of items) a.ack(it);
    // a drops segments 1 and 2; b notices by polling.
    await within(room, 1500, 'room() in b after a drained');
    expect(b.full).toBe(false);
    expect(budget.bytes).toBeLessThan(300);
    await a.close();
    await b.close();
    expect(budget.bytes).toBe(0);
  });

  // Same cause as above, across queues: a drained queue keeps its write segment (and its share of
  // the global budget) until it is written again, so an idle output can starve a busy one.
  it('a drained queue gives its share of the shared budget back', async () => {
    const budget = new QueueBudget(300);
    const a = await open(tmp(), { budget });
    const b = await open(tmp(), { budget });
    await appendAll(
      a,
      Array.from({ length: 3 }, (_, i) => frame(i, 80)),
    );
    for (const it of await take(a, 3)) a.ack(it);
    await b.append(frame(9, 80).payload, 1);
    const room = b.room();
    await within(room ?? Promise.resolve(), 1500, 'room() in b while a holds nothing undelivered');
    expect(a.empty).toBe(true);
    expect(budget.bytes).toBe(100);
    await a.close();
    await b.close();
  });

  it('the budget counts what a queue holds on open and gives it back on close', async () => {
    const dir = tmp();
    let q = await open(dir);
    await appendAll(
      q,
      Array.from({ length: 4 }, (_, i) => frame(i, 80)),
    );
    await q.close();
    const budget = new QueueBudget(1000);
    q = await open(dir, { budget });
    expect(budget.bytes).toBe(400);
    expect(q.bytes).toBe(400);
    await q.close();
    expect(budget.bytes).toBe(0);
  });

  it('the pointer is persisted at pointerIntervalMs, not only at close', async () => {
    const dir = tmp();
    const q = await open(dir, { pointerIntervalMs: 50, segmentBytes: 100 });
    const frames = Array.from({ length: 3 }, (_, i) => frame(i, 80));
    await appendAll(q, frames);
    const items = await take(q, 3);
    q.ack(items[0]);
    q.ack(items[1]);
    await new Promise((r) => setTimeout(r, 300));
    // A crash now (no close) must not resend frames acknowledged 300 ms ago.
    const copy = snapshot(dir);
    await q.close();
    const r = await open(copy, { segmentBytes: 100 });
    same(await take(r, 1), [frames[2]]);
    await r.close();
  });
});

describe('DiskQueue: crash safety', () => {
  it('random kill point: the last segment cut at any byte → every whole frame before the cut once, in order, nothing after (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArb, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 50, max: 600 }),
        fc.boolean(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        async (raw, segmentBytes, concurrent, cutAt, zeros) => {
          const frames = raw.map((f, i) => ({ ...f, timeMs: i }));
          const dir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-kill-'));
          let image: string | undefined;
          try {
            const q = await open(dir, { segmentBytes });
            await appendAll(q, frames, concurrent);
            const items = await take(q, frames.length); // where each frame is
            image = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-kill-'));
            crashImage(dir, image);
            await q.close();

            const files = segFiles(image);
            const lastFile = path.join(image, files.at(-1)!);
            const lastId = Number(files.at(-1)!.slice(0, -4));
            const size = statSync(lastFile).size;
            const cut = Math.floor(cutAt * size);
            await fsp.truncate(lastFile, cut);
            // Blocks allocated but the data not written (a torn write can leave zeros).
            if (zeros && cut < size) await fsp.appendFile(lastFile, Buffer.alloc(size - cut));
            const kept = frames.filter((_, k) => items[k].segment < lastId || items[k].end <= cut);

            const corrupt: CorruptFrame[] = [];
            const r = await open(image, { segmentBytes, onCorrupt: (c) => corrupt.push(c) });
            try {
              expect(r.records).toBe(sum(kept));
              expect(r.bytes).toBe(frameBytes(kept));
              same(await take(r, kept.length), kept);
              await nothingMore(r);
              expect(corrupt).toEqual([]);
              // Appends after the restart work and come after.
              const more = [0, 1].map((k) => ({
                payload: Buffer.from(`after-${k}`),
                records: 1,
                timeMs: 1000 + k,
              }));
              await appendAll(r, more);
              same(await take(r, 2), more);
            } finally {
              await r.close();
            }
            // And the torn tail is gone from the file: a second restart sees the same frames.
            const again = await open(image, { segmentBytes });
            try {
              same(await take(again, kept.length + 2).then((x) => x.slice(0, kept.length)), kept);
            } finally {
              await again.close();
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
            if (image) rmSync(image, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 80, seed: 1602 },
    );
  });

  it('corruption: random bytes flipped in a middle frame (not its length) → it is skipped and reported, the others delivered (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArb, { minLength: 2, maxLength: 20 }),
        fc.integer({ min: 50, max: 600 }),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (raw, segmentBytes, victimPick, flips) => {
          const frames = raw.map((f, i) => ({ ...f, timeMs: i }));
          const victim = victimPick % (frames.length - 1); // never the very last frame
          const dir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-corrupt-'));
          try {
            let q = await open(dir, { segmentBytes });
            await appendAll(q, frames);
            const items = await take(q, frames.length);
            await q.close();

            const v = items[victim];
            const file = path.join(dir, `${String(v.segment).padStart(16, '0')}.seg`);
            // Anywhere in the frame but its length field (bytes 0-3); flips of one byte add up.
            const xor = new Map<number, number>();
            for (const [at, x] of flips) {
              const pos = v.offset + 4 + (at % (v.end - v.offset - 4));
              xor.set(pos, (xor.get(pos) ?? 0) ^ x);
            }
            const changed = [...xor.values()].some((x) => x !== 0);
            const fh = await fsp.open(file, 'r+');
            try {
              for (const [pos, x] of xor) {
                const b = Buffer.alloc(1);
                await fh.read(b, 0, 1, pos);
                b[0] ^= x;
                await fh.write(b, 0, 1, pos);
              }
            } finally {
              await fh.close();
            }

            const corrupt: CorruptFrame[] = [];
            q = await open(dir, { segmentBytes, onCorrupt: (c) => corrupt.push(c) });
            try {
              const expected = changed ? frames.filter((_, k) => k !== victim) : frames;
              await q.append(Buffer.from('sentinel'), 1, 9999);
              const got = await take(q, expected.length + 1);
              same(got.slice(0, -1), expected);
              expect(got.at(-1)!.timeMs).toBe(9999);
              if (changed) {
                expect(corrupt).toHaveLength(1);
                expect(corrupt[0]).toMatchObject({ segment: v.segment, offset: v.offset });
                expect(corrupt[0].bytes).toBe(v.end - v.offset);
                expect(q.corruptFrames).toBe(1);
              } else expect(corrupt).toEqual([]);
            } finally {
              await q.close();
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 80, seed: 1603 },
    );
  });

  it('corruption of a length field: no throw, no hang; frames before it delivered, the rest a subsequence in order (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(frameArb, { minLength: 2, maxLength: 20 }),
        fc.integer({ min: 50, max: 600 }),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 255 }),
        async (raw, segmentBytes, victimPick, byte, x) => {
          const frames = raw.map((f, i) => ({ ...f, timeMs: i }));
          const victim = victimPick % (frames.length - 1);
          const dir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-queue-corrupt-'));
          try {
            let q = await open(dir, { segmentBytes });
            await appendAll(q, frames);
            const items = await take(q, frames.length);
            await q.close();
            const v = items[victim];
            const file = path.join(dir, `${String(v.segment).padStart(16, '0')}.seg`);
            const fh = await fsp.open(file, 'r+');
            const b = Buffer.alloc(1);
            await fh.read(b, 0, 1, v.offset + byte);
            b[0] ^= x;
            await fh.write(b, 0, 1, v.offset + byte);
            await fh.close();

            q = await open(dir, { segmentBytes, onCorrupt: () => undefined });
            try {
              await q.append(Buffer.from('sentinel'), 1, 9999);
              const got: QueueItem[] = [];
              for (;;) {
                const it = await within(q.next(), 3000, 'next() after a corrupt length');
                if (!it || it.timeMs === 9999) break;
                got.push(it);
              }
              const idx = got.map((i) => i.timeMs);
              expect(idx.slice(0, victim)).toEqual(Array.from({ length: victim }, (_, k) => k));
              expect(idx).not.toContain(victim);
              for (let k = 1; k < idx.length; k++) expect(idx[k]).toBeGreaterThan(idx[k - 1]);
              for (const it of got) expect(it.payload.equals(frames[it.timeMs].payload)).toBe(true);
            } finally {
              await q.close();
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 60, seed: 1604 },
    );
  });

  // The restart scan counts only the records of frames that pass their checks; reading the
  // corrupt frame later subtracts the records its header claims once more, so `records` ends
  // below zero, `empty` never becomes true (Sender.stop waits for it until the deadline) and
  // shiplog_queue_records goes negative.
  it('records and empty stay right when a corrupt frame found at restart is skipped', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 3 }, (_, i) => ({ ...frame(i, 80), records: 5 }));
    let q = await open(dir);
    await appendAll(q, frames);
    await q.close();
    // Flip a payload byte of the middle frame (bytes 100..199 of the segment).
    const file = path.join(dir, segFiles(dir)[0]);
    const bytes = await fsp.readFile(file);
    bytes[100 + HEADER + 3] ^= 0xff;
    await fsp.writeFile(file, bytes);

    const corrupt: CorruptFrame[] = [];
    q = await open(dir, { onCorrupt: (c) => corrupt.push(c) });
    expect(q.records).toBe(10);
    const items = await take(q, 2);
    same(items, [frames[0], frames[2]]);
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]).toMatchObject({ offset: 100, records: 5, reason: 'checksum mismatch' });
    for (const it of items) q.ack(it);
    expect(q.records).toBe(0);
    expect(q.empty).toBe(true);
    await q.close();
  });

  it('a corrupt frame while running (read back from disk) is skipped and counted once; records stay right', async () => {
    const dir = tmp();
    const frames = Array.from({ length: 3 }, (_, i) => ({ ...frame(i, 80), records: 5 }));
    const corrupt: CorruptFrame[] = [];
    const q = await open(dir, { recentBytes: 1, onCorrupt: (c) => corrupt.push(c) });
    await appendAll(q, frames);
    const fh = await fsp.open(path.join(dir, segFiles(dir)[0]), 'r+');
    await fh.write(Buffer.from([0xee]), 0, 1, 100 + HEADER + 3);
    await fh.close();
    const items = await take(q, 2);
    same(items, [frames[0], frames[2]]);
    expect(corrupt).toHaveLength(1);
    expect(q.corruptFrames).toBe(1);
    for (const it of items) q.ack(it);
    expect(q.records).toBe(0);
    expect(q.empty).toBe(true);
    await q.close();
  });

  // Each variant on its own directory; the failing ones are listed together at the end.
  it('a pointer (pointer.json and its slots) that is missing or garbage → replay from the oldest segment (duplicates, no loss)', async () => {
    const variants: Array<[string, string | undefined]> = [
      ['missing', undefined],
      ['empty', ''],
      ['cut short', '{"segment":2,"off'],
      ['null', 'null'],
      ['an array', '[1,2]'],
      ['strings', '{"segment":"2","offset":"100"}'],
      ['a fraction', '{"segment":2.5,"offset":100}'],
      ['binary', '\u0000\u0001\u0002'],
      // Valid JSON numbers, but no pointer the queue writes: -1 makes read(2) use the file
      // position (0), so the walk is misaligned; past the end skips segment 2 unread.
      ['a negative offset', '{"segment":2,"offset":-1}'],
      ['an offset past the end of its segment', '{"segment":2,"offset":100000}'],
    ];
    const failed: string[] = [];
    for (const [what, text] of variants) {
      const dir = tmp();
      const frames = Array.from({ length: 9 }, (_, i) => frame(i, 80));
      let q = await open(dir, { segmentBytes: 300 });
      await appendAll(q, frames);
      const items = await take(q, 9);
      for (const it of items.slice(0, 4)) q.ack(it); // segment 1 dropped; 4-8 not acknowledged
      await q.close();
      // Every saved copy of the pointer: pointer.json and the two slots written after acks.
      for (const f of ['pointer.json', 'pointer.live.0', 'pointer.live.1']) {
        const pointer = path.join(dir, f);
        if (text === undefined) await fsp.rm(pointer, { force: true });
        else await fsp.writeFile(pointer, text);
      }
      const oldest = Number(segFiles(dir)[0].slice(0, -4));
      const expected = frames
        .filter((_, k) => items[k].segment >= oldest)
        .map((f) => f.timeMs - 1_700_000_000_000);
      expect(expected.length, what).toBeGreaterThanOrEqual(5);

      const corrupt: CorruptFrame[] = [];
      const got: number[] = [];
      try {
        q = await open(dir, { segmentBytes: 300, onCorrupt: (c) => corrupt.push(c) });
      } catch (e) {
        failed.push(`${what}: open threw ${(e as Error).message}`);
        continue;
      }
      try {
        await q.append(Buffer.from('sentinel'), 1, 9999);
        for (;;) {
          const it = await within(q.next(), 2000, 'next()');
          if (!it || it.timeMs === 9999) break;
          got.push(it.timeMs - 1_700_000_000_000);
        }
        if (JSON.stringify(got) !== JSON.stringify(expected) || corrupt.length > 0)
          failed.push(
            `${what}: got frames [${got.join(',')}] of [${expected.join(',')}], ${corrupt.length} corrupt`,
          );
      } catch (e) {
        failed.push(`${what}: ${(e as Error).message} after [${got.join(',')}]`);
      } finally {
        await q.close();
      }
    }
    expect(failed).toEqual([]);
  });

  it('opening never throws on stray files in the queue directory', async () => {
    const dir = tmp();
    let q = await open(dir);
    await appendAll(q, [frame(0), frame(1)]);
    await q.close();
    await fsp.writeFile(path.join(dir, 'pointer.json.tmp'), 'junk');
    await fsp.writeFile(path.join(dir, 'notes.seg.bak'), 'junk');
    await fsp.writeFile(path.join(dir, '12ab.seg'), 'junk');
    q = await open(dir);
    same(await take(q, 2), [frame(0), frame(1)]);
    await q.close();
  });
});

describe('DiskQueue: recent frames in memory', () => {
  async function fileReads<T>(fn: () => Promise<T>, dir: string): Promise<[T, number]> {
    const probe = await fsp.open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const spy = vi.spyOn(proto, 'read');
    try {
      const out = await fn();
      return [out, spy.mock.calls.length];
    } finally {
      spy.mockRestore();
    }
  }

  it('a caught-up reader gets frames without reading the segment files', async () => {
    const dir = tmp();
    const q = await open(dir, { segmentBytes: 300 });
    const frames = Array.from({ length: 20 }, (_, i) => frame(i, 80));
    const [items, reads] = await fileReads(async () => {
      const out: QueueItem[] = [];
      for (const f of frames) {
        await q.append(f.payload, f.records, f.timeMs);
        out.push(...(await take(q, 1)));
      }
      await appendAll(q, frames.slice(0, 3), true);
      out.push(...(await take(q, 3)));
      return out;
    }, dir);
    same(items, [...frames, ...frames.slice(0, 3)]);
    expect(reads).toBe(0);
    await q.close();
  });

  it('with a tiny recentBytes frames are read back from disk, the same bytes', async () => {
    const dir = tmp();
    const q = await open(dir, { segmentBytes: 300, recentBytes: 100 });
    const frames = Array.from({ length: 20 }, (_, i) => frame(i, 40 + i * 7));
    await appendAll(q, frames);
    const [items, reads] = await fileReads(() => take(q, frames.length), dir);
    same(items, frames);
    expect(reads).toBeGreaterThan(0);
    await q.close();
  });

  it('a reader that falls behind the cache reads older frames from disk, newer ones from memory', async () => {
    const dir = tmp();
    const q = await open(dir, { segmentBytes: 1000, recentBytes: 250 });
    const frames = Array.from({ length: 10 }, (_, i) => frame(i, 80));
    await appendAll(q, frames);
    const [items, reads] = await fileReads(() => take(q, 10), dir);
    same(items, frames);
    expect(reads).toBeGreaterThan(0);
    await q.close();
  });

  // White-box: frames read from the cache leave their key in the eviction order list, which is
  // trimmed only when the cache is over its byte limit. A caught-up reader keeps the cache
  // nearly empty, so the list grows by one string per frame for the life of the process.
  it('the cache bookkeeping stays bounded for a caught-up reader (no leak per frame)', async () => {
    const dir = tmp();
    const q = await open(dir, { segmentBytes: 1 << 20, recentBytes: 1 << 20 });
    for (let i = 0; i < 2000; i++) {
      await q.append(Buffer.from(`f${i}`), 1);
      q.ack((await take(q, 1))[0]);
    }
    const internals = q as unknown as { recent: { frames: Map<string, unknown>; size: number } };
    expect(internals.recent.frames.size).toBe(0);
    expect(internals.recent.size).toBe(0);
    await q.close();
  });

  // `behind` decides whether frames are deflated: it must count what is not acknowledged, not
  // the segment files (a delivered segment stays on disk until it is rolled).
  it('behind counts unacknowledged bytes, not the delivered bytes still in the segment file', async () => {
    const dir = tmp();
    // Threshold: maxBytes / 8 = 8 KiB; segments roll at 64 KiB, so nothing is dropped here.
    const q = await open(dir, { maxBytes: 64 << 10, segmentBytes: 64 << 10 });
    for (let i = 0; i < 30; i++) await q.append(Buffer.alloc(500, i), 1);
    expect(q.bytes).toBeGreaterThan(8 << 10);
    expect(q.behind).toBe(true);
    for (const it of await take(q, 30)) q.ack(it);
    expect(q.bytes, 'the delivered frames are still in the file').toBeGreaterThan(8 << 10);
    expect(q.behind).toBe(false);
    for (let i = 0; i < 10; i++) await q.append(Buffer.alloc(500, i), 1);
    expect(q.behind).toBe(false);
    for (let i = 0; i < 10; i++) await q.append(Buffer.alloc(500, i), 1);
    expect(q.behind).toBe(true);
    await q.close();
  });
});

describe('DiskQueue: write failures', () => {
  it('while the segment cannot be created the append stays pending (writeError set), then completes in order', async () => {
    const dir = tmp();
    const q = await open(dir);
    rmSync(dir, { recursive: true, force: true });
    let done = 0;
    const a = q.append(Buffer.from('one'), 1).then(() => done++);
    const b = q.append(Buffer.from('two'), 2).then(() => done++);
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(0);
    expect(q.writeError).toMatch(/ENOENT/);
    expect(q.backlog).toBe(true);
    expect(q.records).toBe(0); // nothing counted that is not stored
    mkdirSync(dir);
    await within(Promise.all([a, b]), 3000, 'appends after the directory came back');
    expect(done).toBe(2);
    expect(q.writeError).toBeUndefined();
    expect(q.records).toBe(3);
    const items = await take(q, 2);
    expect(items.map((i) => i.payload.toString())).toEqual(['one', 'two']);
    await q.close();
    const r = await open(dir);
    expect((await take(r, 2)).map((i) => i.payload.toString())).toEqual(['one', 'two']);
    await r.close();
  });

  it('a write failing part-way (ENOSPC) leaves no partial frame; the retry writes the whole batch', async () => {
    const dir = tmp();
    const q = await open(dir);
    const probe = await fsp.open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    await fsp.unlink(path.join(dir, 'probe'));
    const real = proto.writev;
    let calls = 0;
    const spy = vi.spyOn(proto, 'writev').mockImplementation(async function (
      this: FileHandle,
      bufs,
      pos,
    ) {
      calls++;
      if (calls === 1) {
        // 7 bytes reach the file, then the disk is full.
        await real.call(this, [Buffer.concat(bufs as Uint8Array[]).subarray(0, 7)], pos);
        return { bytesWritten: 7, buffers: bufs };
      }
      if (calls === 2)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
        });
      return real.call(this, bufs, pos);
    });
    try {
      let done = false;
      const a = q.append(Buffer.from('payload-one'), 1, 1).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 150));
      expect(done).toBe(false);
      expect(q.writeError).toMatch(/ENOSPC/);
      expect(statSync(path.join(dir, segFiles(dir)[0])).size).toBe(0); // the 7 bytes are gone
      const b = q.append(Buffer.from('payload-two'), 2, 2);
      await within(Promise.all([a, b]), 3000, 'appends after ENOSPC cleared');
      expect(q.writeError).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    expect(statSync(path.join(dir, segFiles(dir)[0])).size).toBe(2 * HEADER + 22);
    await q.close();
    const corrupt: CorruptFrame[] = [];
    const r = await open(dir, { onCorrupt: (c) => corrupt.push(c) });
    expect((await take(r, 2)).map((i) => i.payload.toString())).toEqual([
      'payload-one',
      'payload-two',
    ]);
    expect(corrupt).toEqual([]);
    await r.close();
  });

  it('sync() fdatasyncs what was written and tolerates a closed queue', async () => {
    const dir = tmp();
    const q = await open(dir);
    await q.append(Buffer.from('x'), 1);
    await expect(q.sync()).resolves.toBeUndefined();
    await expect(q.sync()).resolves.toBeUndefined();
    await q.append(Buffer.from('y'), 1);
    await q.close();
    await expect(q.sync()).resolves.toBeUndefined();
  });
});
