// The file input: one read loop that visits every open file in turn, reads up to read_buffer
// bytes, and hands the lines to the pipeline as one batch per read, waiting whenever the pipeline
// says it is full; at end of file it decides whether the file was truncated, deleted, rotated
// away and drained, or idle. What it builds on, one job per file (see state.ts):
// discovery.ts (scan, watch, identities found under another name), gzip.ts (.gz files),
// opening.ts (open and restore), copies.ts (truncation, copies, closing), state.ts (identities,
// checkpoint entries, batches).
//
//   scan ──▶ open / restore (verify) ──▶ read loop ──▶ batch + position ──▶ ctx.emit ──▶ acks
//     │          ▲                          │ EOF: truncated? deleted? idle?
//     └─ gone ──▶ find by identity in the dir (rotated while closed/stopped; or its .gz) ──▶ drain ──▶ forget

import * as fs from 'node:fs';
import type { Input } from '../../../core/component.js';
import { isFilePosition, keyDevIno } from './identity.js';
import { TailedFile } from './tailer.js';
import { FileDiscovery } from './discovery.js';

const pread = (fd: number, buf: Buffer, pos: number): Promise<number> =>
  new Promise((resolve, reject) =>
    fs.read(fd, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))),
  );
const fstat = (fd: number): Promise<fs.Stats> =>
  new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));

/** Bytes read after a pause at least this long are checked against the file's head. */
const HEAD_CHECK_AFTER_MS = 20;
/**
 * A file the input caught up with less than this long after it last grew is read again this
 * long after that growth, not at once on each watch event: a file written in small steady
 * appends is read a few times a second in larger batches (issue #22). The first write after a
 * quiet spell is still read at once. SHIPLOG_READ_COALESCE_MS overrides it (measurements; 0 =
 * off); a multiline flush_timeout downstream lowers it (capReadDelay).
 */
const COALESCE_MS = 250;
/**
 * A deferred read is not deferred further once this many read buffers are waiting: reads of a
 * file growing that fast are full anyway, waiting only adds latency (and a backlog is read
 * continuously). W5's 2,000 lines/s grow ~140 KB per 250 ms, under 4 x 64 KiB.
 */
const COALESCE_MAX_READS = 4;

/** `delay`, at most half of `holdMs` (a multiline flush_timeout downstream). */
const halfOf = (delay: number, holdMs: number | undefined): number =>
  holdMs === undefined ? delay : Math.max(0, Math.min(delay, Math.floor(holdMs / 2)));

export class FileInput extends FileDiscovery implements Input {
  /** Two read buffers: one being processed, one for the read ahead. */
  private bufs: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  /** The read ahead in flight or landed: the next block of one file, for its next step. */
  private prefetched:
    { f: TailedFile; fd: number; base: number; buf: Buffer; read: Promise<number> } | undefined;

  private loop: Promise<void> | undefined;
  private nextScanAt = 0;
  /** How long a read of a file being written is deferred (COALESCE_MS), ms; 0 = never. */
  private coalesceMs = halfOf(
    Number(process.env.SHIPLOG_READ_COALESCE_MS ?? COALESCE_MS),
    this.ctx.holdTimeoutMs,
  );

  /**
   * Something downstream emits what it holds after `ms` without more (a multiline flush_timeout):
   * defer reads at most half that, so the rest of a record written in two steps still joins it.
   */
  capReadDelay(ms: number): void {
    this.coalesceMs = halfOf(this.coalesceMs, ms);
  }

  async start(): Promise<void> {
    if (this.loop || this.stopped) return;
    const size = Math.max(4096, this.cfg.read_buffer);
    this.bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    const saved = this.ctx.savedSources();
    if (saved.length > 0 && !this.ctx.oneShot) {
      try {
        this.lastCheckpointMs = fs.statSync(this.ctx.checkpoints.file).mtimeMs;
      } catch {
        this.lastCheckpointMs = undefined;
      }
    }
    for (const key of saved) {
      const di = keyDevIno(key);
      const tracker = this.ctx.source(key);
      const pos = tracker.committed;
      if (!di || !isFilePosition(pos)) {
        this.ctx.forget(key);
        continue;
      }
      this.addDormant(di, { key, tracker, pos, size: -1, mtimeMs: -1, seen: false });
    }
    this.ctx.signal.addEventListener('abort', () => this.wake(), { once: true });
    this.loop = this.run().catch((e: Error) => {
      this.ctx.log.error('file input stopped on an unexpected error', { error: e.message });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    for (const f of this.open.values()) f.close();
    this.open.clear();
    this.byPath.clear();
    this.m.openFiles.set({ component: this.ctx.id }, 0);
  }

  async drained(): Promise<void> {
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.aborted) {
      const now = Date.now();
      if (this.scanRequested || now >= this.nextScanAt) {
        this.scanRequested = false;
        this.nextScanAt = now + this.cfg.scan_interval;
        if (!this.ctx.oneShot || !this.firstScanDone) await this.scan();
        this.firstScanDone = true;
        this.updateLag();
      }
      let worked = false;
      const round: TailedFile[] = [];
      let t = Date.now();
      const touched: TailedFile[] = [];
      for (const f of this.open.values()) if (f.touched && t < f.readAfter) touched.push(f);
      for (const f of touched) await this.recheck(f);
      if (touched.length > 0) t = Date.now();
      for (const f of this.open.values())
        if ((f.dirty && t >= f.readAfter) || t >= f.nextCheck) round.push(f);
      for (let i = 0; i < round.length; i++) {
        if (this.aborted) break;
        const f = round[i];
        if (this.open.get(f.devino) !== f) continue; // finished or replaced this round
        // The file stepped after this one (or, after the last, the first again): read ahead.
        if (await this.step(f, round[i + 1] ?? round[0])) worked = true;
      }
      this.reapRetired();
      if (this.ctx.oneShot && this.open.size === 0 && this.gzJobs.length === 0) break;
      if (this.gzJobs.length > 0) {
        await this.readGzip(this.gzJobs.shift()!);
        continue;
      }
      if (!worked) await this.sleep(this.idleWait());
    }
    this.reapRetired();
  }

  /**
   * How long the loop sleeps when a round read nothing: up to 200 ms while anything is due within
   * 200 ms (a dirty file, a requested scan); otherwise until the earliest file check or scan, at
   * most 1 s (files idle for 5 s are checked once a second anyway). fs.watch events and stop()
   * wake it earlier. An idle input wakes about once a second instead of 5 times (issue #22).
   */
  private idleWait(): number {
    const now = Date.now();
    let due = this.scanRequested ? now : this.nextScanAt;
    let deferred = Infinity;
    for (const f of this.open.values()) {
      if (f.dirty && f.readAfter > now) deferred = Math.min(deferred, f.readAfter);
      due = Math.min(due, f.dirty ? Math.max(now, f.readAfter) : f.nextCheck);
    }
    if (due - now > 200) return Math.min(due - now, 1000);
    return Math.max(1, Math.min(200, this.nextScanAt - now, deferred - now));
  }

  /**
   * The guard of a deferred read. A file whose read is deferred is still looked at on every watch
   * event, as it would be read without the deferral: only the reading of appended bytes waits.
   * Shorter than our position, or the bytes before our position are not the ones read there: it
   * was truncated (copytruncate), handled now, as a read would. Left for the deferred read, a
   * second copytruncate within the same deferral made the generation between the two exist only
   * in its copy, which nothing reads (7,000 lines lost in the 20k lines/s copytruncate test under
   * load). And with COALESCE_MAX_READS read buffers waiting, the deferral ends.
   */
  private async recheck(f: TailedFile): Promise<void> {
    f.touched = false;
    if (f.fd === undefined) return;
    let size: number;
    try {
      size = fs.fstatSync(f.fd).size;
    } catch {
      f.readAfter = 0; // the read reports it
      return;
    }
    if (size < f.readPos || f.beforeChanged()) {
      f.readAfter = 0;
      f.size = size;
      await this.truncated(f);
    } else if (size - f.readPos >= COALESCE_MAX_READS * this.bufs[0].length) f.readAfter = 0;
  }

  private readAhead(f: TailedFile, fd: number, base: number, buf: Buffer): void {
    const read = pread(fd, buf, base);
    read.catch(() => undefined);
    this.prefetched = { f, fd, base, buf, read };
  }

  /**
   * One read (or end-of-file bookkeeping) on one file; `next` is the file stepped after it (for
   * the read ahead). True when bytes were read.
   */
  private async step(f: TailedFile, next: TailedFile = f): Promise<boolean> {
    if (f.fd === undefined) return false;
    f.touched = false;
    if (f.pendingCopy !== 0 && this.stillPendingCopy(f)) return false;
    if (f.shadowOf) {
      if (this.open.get(f.shadowOf.devino) === f.shadowOf) return false;
      this.releaseShadow(f, undefined);
    }
    const fd = f.fd;
    const base = f.readPos;
    let n: number;
    let buf: Buffer;
    const orphan = this.prefetched;
    if (orphan !== undefined && orphan.f !== f && orphan.f.fd !== orphan.fd) {
      // Read ahead for a file closed since: let it land (its buffer is written), then drop it.
      this.prefetched = undefined;
      await orphan.read.catch(() => 0);
    }
    try {
      const pre = this.prefetched;
      if (pre !== undefined && pre.f === f) {
        this.prefetched = undefined;
        if (pre.fd === fd && pre.base === base) {
          buf = pre.buf;
          n = await pre.read;
        } else {
          // Stale (the file was truncated or reopened): let it land, then read afresh.
          await pre.read.catch(() => 0);
          buf = this.bufs[0];
          n = await pread(fd, buf, base);
        }
      } else {
        buf = pre !== undefined && pre.buf === this.bufs[0] ? this.bufs[1] : this.bufs[0];
        n = await pread(fd, buf, base);
      }
    } catch (e) {
      this.fail(f, 'read', e as NodeJS.ErrnoException);
      return false;
    }
    if (f.fd === undefined) return false;
    const now = Date.now();
    if (n > 0) {
      // Bytes after a pause (the pipeline made us wait, the process was starved, the file was
      // idle): was the file truncated and written past our position meanwhile? Then these bytes
      // are the next generation's, not the rest of ours: a copytruncate the size check at the end
      // of the file (below) never sees. Its head tells: handled as the truncation it is (the rest
      // of ours from the copy, the file again from 0), these bytes dropped.
      if (
        now - f.lastGrowth >= HEAD_CHECK_AFTER_MS &&
        !f.detached &&
        !this.ctx.oneShot &&
        (f.headChanged() || f.beforeChanged())
      ) {
        f.size = base + n;
        await this.truncated(f);
        return true;
      }
      f.dirty = true;
      f.lastGrowth = now;
      if (base + n > f.size) f.size = base + n;
      // Read the block the next step will want on the thread pool while this one is split,
      // parsed and handed on: this file's next block after a full read when it is stepped next,
      // else the next file's (one read ahead at a time, only for a file known to have more).
      if (this.prefetched === undefined && !this.aborted) {
        const other = buf === this.bufs[0] ? this.bufs[1] : this.bufs[0];
        if (next === f) {
          if (n === buf.length) this.readAhead(f, fd, base + n, other);
        } else if (next.dirty && next.fd !== undefined && !next.shadowOf) {
          this.readAhead(next, next.fd, next.readPos, other);
        }
      }
      const chunk = buf.subarray(0, n);
      f.noteRead(chunk, base);
      if (f.key === undefined) this.assignKey(f, chunk, base);
      const weak = f.fl === 0;
      if (f.updateFingerprint(chunk, base)) this.refingerprint(f, weak);
      await this.deliver(f, chunk, now, chunk, base);
      return true;
    }
    // At end of file.
    f.dirty = false;
    let st: fs.Stats;
    try {
      st = await fstat(fd);
    } catch (e) {
      this.fail(f, 'read', e as NodeJS.ErrnoException);
      return false;
    }
    f.size = st.size;
    if (st.size < f.readPos) {
      await this.truncated(f);
      return true;
    }
    // Caught up with a file that is being written: its next bytes wait for coalesceMs after the
    // last ones (the run loop skips it until then, idleWait sleeps until then; recheck looks at
    // it on each watch event meanwhile).
    // Only once bytes of this generation were read: a truncation is then seen (by size or
    // content) and the unread rest found in the copy; before, the file is read at once.
    if (
      !this.ctx.oneShot &&
      !f.detached &&
      now - f.lastGrowth < this.coalesceMs &&
      f.rewriteDetectable()
    )
      f.readAfter = f.lastGrowth + this.coalesceMs;
    if (st.size > f.readPos) {
      f.dirty = true;
      f.nextCheck = Math.max(f.nextCheck, f.readAfter);
      return false;
    }
    const idle = now - Math.max(f.lastGrowth, f.detachedAt);
    if (f.joiner?.flushIfIdle(now)) await this.emit(f);
    const finishing = this.ctx.oneShot || (f.detached && idle >= this.cfg.rotate_wait);
    if (f.splitter.hasPartial && (finishing || idle >= this.cfg.rotate_wait))
      await this.flushLines(f, now);
    if (finishing) {
      await this.flushLines(f, now);
      this.finish(f);
      return false;
    }
    if (st.nlink === 0 && !f.detached) this.detach(f, 'deleted');
    if (
      !f.detached &&
      idle >= this.cfg.close_inactive &&
      !f.splitter.hasPartial &&
      (f.joiner?.pendingStart ?? -1) < 0 &&
      (f.tracker?.inFlight ?? 0) === 0
    ) {
      this.closeInactive(f, st);
      return false;
    }
    f.nextCheck = Math.max(now + (idle > 5000 ? 1000 : 200), f.readAfter);
    return false;
  }
}
