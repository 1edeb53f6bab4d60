// A per-output durable queue on disk: append-only segment files of framed payloads (an output's
// sealed chunks), read back in order by the output's senders and deleted once every frame in them
// is acknowledged. It is what lets a source checkpoint advance while a backend is down: the
// source may then rotate away or be deleted, and nothing is lost.
//
//   append(payload) ──▶ write batch ──▶ <dir>/<id>.seg   (resolves once written: page cache)
//                                          │
//   next() ◀── recent frames (memory) ◀────┤ or read back from disk once evicted
//      │
//   ack(item) ──▶ pointer = end of the longest acknowledged prefix, plus the frames acknowledged
//                 beyond it ──▶ <dir>/pointer.live.{0,1} (after every ack, one in-place write at
//                 a time) and <dir>/pointer.json (at open, every second, at close)
//                 segments wholly behind the prefix are unlinked
//
// Frames and the pointer files: queue-frame.ts; saving them: queue-pointer.ts.
//
// Durability (README, "delivery promise"): an append resolves once write(2) returned, so a
// process crash loses nothing acknowledged to an input; the checkpoint store calls `sync()`
// (fdatasync) before every checkpoint write, so a committed source position is never ahead of
// what survives a power loss either. The pointer is saved after acknowledgements (coalesced, a
// single pwrite(2) into a slot file) and at an interval (pointer.json): a crash resends the frames
// in flight and those acknowledged during the one slot write under way (duplicates, never losses).
// A torn tail fails its length/crc check and is cut on open; a corrupt frame elsewhere is
// skipped, counted and reported, never a crash loop.

import { promises as fsp, constants as fsc } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  HEADER,
  MAX_FRAME,
  datasyncAll,
  frameHeader,
  frameTime,
  readFrame,
  segmentFile,
  type Pointer,
  type FrameRead,
  writeFrames,
} from './queue-frame.js';
import { loadQueue, type Segment } from './queue-load.js';
import { PointerSaver, savedPointer } from './queue-pointer.js';
import { RecentFrames } from './queue-recent.js';

export { MAX_FRAME } from './queue-frame.js';
export {
  QueueBudget,
  type CorruptFrame,
  type QueueItem,
  type QueueOptions,
} from './queue-types.js';
import {
  payloadLength,
  payloadParts,
  queueItem,
  type CorruptFrame,
  type Payload,
  type PendingAppend,
  type QueueItem,
  type QueueOptions,
} from './queue-types.js';
export type { Payload } from './queue-types.js';

const EMPTY = Buffer.alloc(0);
const noop = (): undefined => undefined;

export class DiskQueue {
  private segments: Segment[] = [];
  /** Where the next unread frame starts. */
  private read: Pointer = { segment: 0, offset: 0 };
  /** Start of the oldest unacknowledged frame (everything before it is delivered). */
  private committed: Pointer = { segment: 0, offset: 0 };
  /** Frames handed out, in read order, until the acknowledged prefix passes them. */
  private inFlight: QueueItem[] = [];
  private pending: PendingAppend[] = [];
  private pendingBytes = 0;
  private writing = false;
  /** From choosing the segment of a write until its frames are accounted for. */
  private inWrite = false;
  private readers: Array<() => void> = [];
  private roomWaiters: Array<() => void> = [];
  private readonly recent: RecentFrames;
  private pointer!: PointerSaver;
  private closed = false;
  private unsynced = new Set<FileHandle>();
  /** Bad frames found by the restart scan: their records were never counted. */
  private uncounted = new Set<string>();
  /** Frames delivered before a restart beyond the saved prefix (pointer.json `done`): skipped. */
  private delivered = new Set<string>();
  /** Bytes of all segment files. */
  bytes = 0;
  /** Records appended and not yet acknowledged. */
  records = 0;
  /** Set while writes fail (ENOSPC, EIO): appends wait and /readyz says why. */
  writeError: string | undefined;
  corruptFrames = 0;
  private readonly segmentBytes: number;

  private constructor(private readonly o: QueueOptions) {
    // At most an eighth of the queue (at least 64 KiB): a delivered segment is deleted whole.
    this.segmentBytes =
      o.segmentBytes ?? Math.max(64 << 10, Math.min(32 << 20, Math.floor(o.maxBytes / 8)));
    this.recent = new RecentFrames(o.recentBytes ?? 8 << 20);
  }

  /** Open (or create) the queue in `dir`: truncate a torn tail, resume after the saved pointer. */
  static async open(o: QueueOptions): Promise<DiskQueue> {
    const q = new DiskQueue(o);
    await q.load();
    return q;
  }

  /** Bytes the queue may still take before appends wait. */
  get full(): boolean {
    const b = this.o.budget;
    return (
      this.bytes + this.pendingBytes >= this.o.maxBytes ||
      (b !== undefined && b.bytes >= b.limit && this.bytes + this.pendingBytes > 0)
    );
  }

  /**
   * The output is behind: more than an eighth of max_size (at most 8 MiB) is not acknowledged
   * yet. Frames written now are deflated (queue-codec.ts deflatedFrame): a backlog is stored
   * compact, while a queue that keeps up costs no compression. Not the segment files' size: a
   * delivered segment stays until it is rolled (up to segmentBytes / 4 in steady state).
   */
  get behind(): boolean {
    let unacked = this.pendingBytes - this.committed.offset;
    for (const s of this.segments) if (s.id >= this.committed.segment) unacked += s.size;
    return unacked >= Math.min(8 << 20, this.o.maxBytes / 8);
  }

  /** Resolves once there is room for another append (immediately if there is). */
  room(): Promise<void> | undefined {
    if (!this.full || this.closed) return undefined;
    // Woken when a segment is dropped here; polled too, since other queues free the global budget.
    return new Promise((resolve) => {
      const done = (): void => {
        clearInterval(poll);
        this.roomWaiters = this.roomWaiters.filter((w) => w !== done);
        resolve();
      };
      const poll = setInterval(() => (!this.full || this.closed) && done(), 200);
      this.roomWaiters.push(done);
    });
  }

  /**
   * Append one frame. Resolves once it is written to the segment file (survives a process
   * crash). Frames are written in call order. While writes fail, it keeps retrying and the
   * promise stays pending (the records are not acknowledged, the inputs wait).
   */
  append(payload: Payload, records: number, timeMs = Date.now()): Promise<void> {
    if (this.closed) return Promise.reject(new Error('queue closed'));
    const bytes = payloadLength(payload);
    if (bytes > MAX_FRAME) throw new Error(`frame of ${bytes} bytes too large`);
    const parts = payloadParts(payload);
    const header = frameHeader(parts, records, timeMs);
    return new Promise((resolve) => {
      this.pending.push({ header, parts, bytes, records, timeMs, resolve });
      this.pendingBytes += HEADER + bytes;
      if (this.o.budget) this.o.budget.bytes += HEADER + bytes;
      if (!this.writing) void this.writeLoop();
    });
  }

  /** The next unread frame, waiting for one; undefined once the queue is closed. */
  next(): Promise<QueueItem | undefined> {
    // One reader at a time: frames are handed out in order, each once.
    const turn = this.readChain.then(() => this.nextNow());
    this.readChain = turn.then(noop, noop);
    return turn;
  }
  private readChain: Promise<void> = Promise.resolve();

  private async nextNow(): Promise<QueueItem | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const item = await this.readNext();
      if (item) return item;
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => this.readers.push(resolve));
    }
  }

  /** True when nothing is unread or unacknowledged and no append is pending. */
  get empty(): boolean {
    return this.records === 0 && this.pending.length === 0 && this.inFlight.length === 0;
  }

  /** Unread frames exist (or appends are pending). */
  get backlog(): boolean {
    return this.pending.length > 0 || !this.atEnd(this.read);
  }

  /** Append time of the oldest frame not yet acknowledged (ms), or undefined when empty. */
  async oldestTime(): Promise<number | undefined> {
    if (this.inFlight.length > 0) return this.inFlight[0].timeMs;
    if (this.records === 0 || this.closed) return undefined;
    const p = this.read;
    const cached = this.recent.peek(`${p.segment}:${p.offset}`);
    if (cached) return cached.timeMs;
    const seg = this.segment(p.segment);
    if (!seg || p.offset + HEADER > seg.size) return undefined;
    return frameTime(await this.reader(seg), p.offset);
  }

  /** The frame is delivered (or dead-lettered): the pointer may pass it. */
  ack(item: QueueItem): void {
    if (item.done || this.closed) return;
    item.done = true;
    item.payload = EMPTY;
    this.records -= item.records;
    this.advance();
    void this.pointer.save().catch(() => undefined);
  }

  /**
   * Move the prefix past acknowledged frames at the head of inFlight; when it moved, pass and
   * drop the segments it has wholly passed.
   */
  private advance(): void {
    let advanced = false;
    while (this.inFlight.length > 0 && this.inFlight[0].done) {
      const it = this.inFlight.shift()!;
      this.committed = { segment: it.segment, offset: it.end };
      advanced = true;
    }
    if (!advanced) return;
    if (this.inFlight.length === 0) this.committed = { ...this.read };
    this.passDelivered();
    void this.dropSegments();
  }

  /** Move the acknowledged pointer past segments it has wholly passed (so they can be dropped). */
  private passDelivered(): void {
    for (;;) {
      const i = this.segments.findIndex((s) => s.id === this.committed.segment);
      const seg = this.segments[i];
      if (!seg || this.committed.offset < seg.size) return;
      let next = this.segments[i + 1];
      if (!next) {
        // The segment being written is wholly acknowledged: start a new one so this one can go.
        // Not while a write into it is under way (its frames would land in a deleted file).
        if (seg.size === 0 || this.inWrite) return;
        // Only once it holds a fair share: a drained queue in steady state must not create and
        // unlink a file per chunk. A full queue, or one whose writes fail (ENOSPC: deleting
        // this file is what frees the space), always rolls.
        if (seg.size < this.segmentBytes / 4 && !this.full && this.writeError === undefined) return;
        next = { id: seg.id + 1, size: 0, fh: undefined };
        this.segments.push(next);
      }
      this.committed = { segment: next.id, offset: 0 };
      // The reader (caught up) must not stay in a segment about to be deleted.
      if (this.read.segment === seg.id) this.read = { ...this.committed };
    }
  }

  /** fdatasync every segment written since the last call (checkpoint store hook). */
  async sync(): Promise<void> {
    const handles = [...this.unsynced];
    this.unsynced.clear();
    await datasyncAll(handles);
  }

  /** Persist the pointer and close the files. Pending appends are abandoned (never acknowledged). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pointer.stop();
    for (const r of this.readers.splice(0)) r();
    for (const r of this.roomWaiters.slice()) r();
    while (this.writing) await new Promise((r) => setTimeout(r, 5));
    if (this.o.budget) this.o.budget.bytes -= this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    await this.pointer.close(this.logError('queue pointer write failed'));
    // The final checkpoint write comes after this (its sync hook is gone by then).
    await this.sync().catch(this.logError('queue fdatasync failed at close'));
    for (const s of this.segments) await s.fh?.close().catch(() => undefined);
    if (this.o.budget) this.o.budget.bytes -= this.bytes;
    this.bytes = 0;
  }

  private async load(): Promise<void> {
    const q = await loadQueue(this.o.dir, this.o.log);
    this.segments = q.segments;
    this.delivered = q.delivered;
    this.uncounted = q.uncounted;
    this.records = q.records;
    this.read = q.read;
    this.pointer = new PointerSaver(
      this.o.dir,
      () => savedPointer(this.committed, this.inFlight),
      q.seq,
    );
    for (const seg of this.segments) this.bytes += seg.size;
    if (this.o.budget) this.o.budget.bytes += this.bytes;
    // Appends always go to a fresh segment: an old file is never written again.
    // Ids only grow, also past the saved pointer's segment when its files are gone (a pointer
    // or done entry must never name a segment written after it).
    const nextId = Math.max(this.segments.at(-1)?.id ?? 0, q.pointerSegment) + 1;
    this.segments.push({ id: nextId, size: 0, fh: undefined });
    // Nothing old, or everything old was delivered: start clean.
    if (this.segments.length === 1 || this.atEnd(this.read))
      this.read = { segment: nextId, offset: 0 };
    this.committed = { ...this.read };
    await this.dropSegments();
    await this.pointer.saveFile();
    this.pointer.every(this.o.pointerIntervalMs ?? 1000);
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      let most = 256;
      while (this.pending.length > 0 && !this.closed) {
        const batch = this.pending.splice(0, most);
        let bytes = 0;
        for (const p of batch) bytes += HEADER + p.bytes;
        this.inWrite = true;
        const seg = this.segments.at(-1)!;
        try {
          await this.writeBatch(seg, batch, bytes);
        } catch (e) {
          this.inWrite = false;
          this.pending.unshift(...batch);
          // One frame at a time until writes succeed: a batch larger than the space left would
          // never fit. Delivered segments may be deleted now (that frees the space).
          most = 1;
          this.passDelivered();
          await this.dropSegments();
          const msg = (e as Error).message;
          if (this.writeError !== msg)
            this.o.log.error('queue write failed; inputs feeding this output wait', {
              dir: this.o.dir,
              error: msg,
            });
          this.writeError = msg;
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        if (this.writeError !== undefined) {
          this.o.log.info('queue writes recovered', { dir: this.o.dir });
          this.writeError = undefined;
          most = 256;
        }
        this.pendingBytes -= bytes;
        this.bytes += bytes;
        let off = seg.size - bytes;
        for (const p of batch) {
          const len = HEADER + p.bytes;
          this.recent.add(`${seg.id}:${off}`, p);
          this.records += p.records;
          off += len;
          p.resolve();
        }
        this.inWrite = false;
        for (const r of this.readers.splice(0)) r();
        if (seg.size >= this.segmentBytes)
          this.segments.push({ id: seg.id + 1, size: 0, fh: undefined });
      }
    } finally {
      this.inWrite = false;
      this.writing = false;
    }
  }

  private async writeBatch(seg: Segment, batch: PendingAppend[], bytes: number): Promise<void> {
    seg.fh ??= await fsp.open(this.file(seg.id), fsc.O_RDWR | fsc.O_CREAT, 0o640);
    const bufs: Buffer[] = [];
    for (const p of batch) bufs.push(p.header, ...p.parts);
    await writeFrames(seg.fh, bufs, bytes, seg.size);
    seg.size += bytes;
    this.unsynced.add(seg.fh);
  }

  private segment(id: number): Segment | undefined {
    for (const s of this.segments) if (s.id === id) return s;
    return undefined;
  }

  private atEnd(p: Pointer): boolean {
    for (const s of this.segments) {
      if (s.id < p.segment) continue;
      if (s.id === p.segment ? p.offset < s.size : s.size > 0) return false;
    }
    return true;
  }

  private async readNext(): Promise<QueueItem | undefined> {
    for (;;) {
      const seg = this.segment(this.read.segment);
      if (!seg) return undefined;
      if (this.read.offset >= seg.size) {
        const idx = this.segments.indexOf(seg);
        if (idx === this.segments.length - 1) return undefined;
        this.read = { segment: this.segments[idx + 1].id, offset: 0 };
        continue;
      }
      const at = this.read.offset;
      const key = `${seg.id}:${at}`;
      if (this.delivered.delete(key)) {
        // Delivered before the restart (listed beyond the saved prefix): passed, not resent.
        const f = await readFrame(await this.reader(seg), at, seg.size, Buffer.alloc(HEADER));
        if (f.ok) {
          this.read = { segment: seg.id, offset: f.end };
          this.inFlight.push(queueItem(seg.id, at, f.end, f.records, f.timeMs, EMPTY, true));
          this.advance();
          continue;
        }
        // Not a good frame after all: read it as any other (reported as corrupt).
      }
      const c = this.recent.take(key);
      let item: QueueItem;
      if (c) {
        const end = at + HEADER + c.bytes;
        item = queueItem(seg.id, at, end, c.records, c.timeMs, c.parts, false);
      } else {
        const fh = await this.reader(seg);
        const f = await readFrame(fh, at, seg.size, Buffer.alloc(HEADER), true);
        if (!f.ok) {
          this.skipCorrupt(seg, at, f);
          continue;
        }
        item = queueItem(seg.id, at, f.end, f.records, f.timeMs, f.payload!, false);
      }
      this.read = { segment: seg.id, offset: item.end };
      this.inFlight.push(item);
      return item;
    }
  }

  /** Report a frame that failed its checks and read on after it. */
  private skipCorrupt(seg: Segment, at: number, frame: FrameRead): void {
    this.corruptFrames++;
    const bad: CorruptFrame = {
      segment: seg.id,
      offset: at,
      records: frame.records,
      bytes: Math.max(0, Math.min(seg.size, frame.end) - at),
      reason: frame.reason,
    };
    this.o.log.error('queue: corrupt frame skipped', { dir: this.o.dir, ...bad });
    this.o.onCorrupt?.(bad);
    // A plausible length lets us skip the frame; otherwise the rest of the segment is lost.
    const next = frame.end > at && frame.end <= seg.size ? frame.end : seg.size;
    if (!this.uncounted.delete(`${seg.id}:${at}`) && frame.records > 0) {
      if (frame.records <= this.records) this.records -= frame.records;
    }
    this.read = { segment: seg.id, offset: next };
    if (this.inFlight.length === 0) this.committed = { ...this.read };
  }

  private async reader(seg: Segment): Promise<FileHandle> {
    seg.fh ??= await fsp.open(this.file(seg.id), fsc.O_RDWR | fsc.O_CREAT, 0o640);
    return seg.fh;
  }

  /** Unlink segments wholly behind the acknowledged prefix, then persist it lazily. */
  private async dropSegments(): Promise<void> {
    while (this.segments.length > 1 && this.segments[0].id < this.committed.segment) {
      const seg = this.segments.shift()!;
      this.bytes -= seg.size;
      if (this.o.budget) this.o.budget.bytes -= seg.size;
      const fh = seg.fh;
      seg.fh = undefined;
      if (fh) this.unsynced.delete(fh);
      await fh?.close().catch(() => undefined);
      await fsp.unlink(this.file(seg.id)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT')
          this.o.log.warn('queue: could not delete a delivered segment', { error: e.message });
      });
    }
    if (!this.full) for (const r of this.roomWaiters.slice()) r();
  }

  /** Save the pointer now (with every acknowledgement so far); resolves once it is written. */
  flushPointer(): Promise<void> {
    return this.pointer.save();
  }

  private logError(msg: string): (e: Error) => void {
    return (e) => this.o.log.error(msg, { dir: this.o.dir, error: e.message });
  }

  private file(id: number): string {
    return segmentFile(this.o.dir, id);
  }
}
