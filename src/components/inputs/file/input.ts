// The file input's engine: discovery (globs walked at start, on directory watch events and every
// scan_interval), identity (dev:ino + fingerprint, verified against saved positions), and one
// read loop that visits every open file in turn, reads up to read_buffer bytes, and hands the
// lines to the pipeline as one batch per read, waiting whenever the pipeline says it is full.
//
//   scan ──▶ open / restore (verify) ──▶ read loop ──▶ batch + position ──▶ ctx.emit ──▶ acks
//     │          ▲                          │ EOF: truncated? deleted? idle?
//     └─ gone ──▶ find by identity in the dir (rotated while closed/stopped) ──▶ drain ──▶ forget

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SourceTracker } from '../../../core/acks.js';
import type { Input, InputContext } from '../../../core/component.js';
import type { FileInputConfig } from './config.js';
import { compileExclude, compileGlob, walkGlob, type CompiledGlob } from './glob.js';
import {
  devIno,
  hashBytes,
  isFilePosition,
  keyDevIno,
  readAt,
  sourceKey,
  verifyPosition,
  type FilePosition,
} from './identity.js';
import { TailedFile, type TailerOptions } from './tailer.js';

interface Dormant {
  key: string;
  tracker: SourceTracker;
  pos: FilePosition;
  /** Size and mtime when it went dormant (-1: restored from a checkpoint, always check). */
  size: number;
  mtimeMs: number;
  seen: boolean;
}

interface FileMetrics {
  openFiles: Gauge<'component'>;
  rotations: Counter<'component'>;
  truncations: Counter<'component'>;
  truncatedLines: Counter<'component'>;
  errors: Counter<'component' | 'reason'>;
}

function fileMetrics(registry: Registry): FileMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] });
  const gauge = (name: string, help: string): Gauge<'component'> =>
    (registry.getSingleMetric(name) as Gauge<'component'> | undefined) ??
    new Gauge({ name, help, labelNames: ['component'], registers: [registry] });
  return {
    openFiles: gauge('shiplog_file_open_files', 'Files the file input holds open.'),
    rotations: counter(
      'shiplog_file_rotations_total',
      'Files renamed away or deleted while tailed (drained before closing).',
      ['component'],
    ),
    truncations: counter(
      'shiplog_file_truncations_total',
      'Files that shrank under the read position (copytruncate); read again from the start.',
      ['component'],
    ),
    truncatedLines: counter(
      'shiplog_file_truncated_lines_total',
      'Lines longer than max_line_bytes, cut and flagged.',
      ['component'],
    ),
    errors: counter(
      'shiplog_file_errors_total',
      'File input errors by reason: scan (unreadable directory), open, read.',
      ['component', 'reason'],
    ),
  };
}

const pread = (fd: number, buf: Buffer, pos: number): Promise<number> =>
  new Promise((resolve, reject) =>
    fs.read(fd, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))),
  );
const fstat = (fd: number): Promise<fs.Stats> =>
  new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));

/** How long a short file that starts like a live one is held if it neither grows nor tells. */
const PENDING_COPY_MS = 5_000;
const MAX_WATCHED_DIRS = 4096;
/** Bytes read after a pause at least this long are checked against the file's head. */
const HEAD_CHECK_AFTER_MS = 20;

export class FileInput implements Input {
  private readonly globs: CompiledGlob[];
  private readonly excluded: (p: string) => boolean;
  private readonly topts: TailerOptions;
  private readonly m: FileMetrics;
  private readonly open = new Map<string, TailedFile>();
  private readonly byPath = new Map<string, TailedFile>();
  private readonly dormant = new Map<string, Dormant[]>();
  private readonly retired: Array<{ key: string; tracker: SourceTracker }> = [];
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly loggedOnce = new Set<string>();
  /** Two read buffers: one being processed, one for the read ahead. */
  private bufs: [Buffer, Buffer];
  /** The read ahead in flight or landed: the next block of one file, for its next step. */
  private prefetched:
    { f: TailedFile; fd: number; base: number; buf: Buffer; read: Promise<number> } | undefined;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private scanRequested = true;
  private nextScanAt = 0;
  private firstScanDone = false;
  private stopped = false;
  private deferredLogged = false;
  private readonly enc: BufferEncoding;

  private readonly maxOpen: number;

  constructor(
    private readonly cfg: FileInputConfig,
    private readonly ctx: InputContext,
  ) {
    this.globs = cfg.paths.map((p) => compileGlob(p));
    // Never plan on more descriptors than the process may open: past the soft RLIMIT_NOFILE every
    // open, readdir and socket fails with EMFILE. Keep a quarter (at least 32) for the rest.
    const soft = softFdLimit();
    this.maxOpen =
      soft === undefined
        ? cfg.max_open_files
        : Math.max(1, Math.min(cfg.max_open_files, soft - Math.max(32, Math.floor(soft / 4))));
    this.excluded = compileExclude(cfg.exclude);
    this.enc = cfg.encoding === 'latin1' ? 'latin1' : 'utf8';
    this.topts = {
      maxLineBytes: cfg.max_line_bytes,
      encoding: this.enc,
      fingerprintBytes: cfg.fingerprint_bytes,
      multiline: cfg.multiline,
    };
    this.m = fileMetrics(ctx.metrics.registry);
    this.bufs = [Buffer.alloc(0), Buffer.alloc(0)];
  }

  async start(): Promise<void> {
    if (this.loop || this.stopped) return;
    const size = Math.max(4096, this.cfg.read_buffer);
    this.bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    for (const key of this.ctx.savedSources()) {
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

  private get aborted(): boolean {
    return this.stopped || this.ctx.signal.aborted;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
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

  private once(key: string, level: 'warn' | 'error', msg: string, fields: Record<string, unknown>) {
    if (this.loggedOnce.has(key)) return;
    if (this.loggedOnce.size > 10_000) this.loggedOnce.clear();
    this.loggedOnce.add(key);
    this.ctx.log[level](msg, fields);
  }

  // ── the loop ───────────────────────────────────────────────────────────────────────────

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
      for (const f of this.open.values()) if (f.dirty || Date.now() >= f.nextCheck) round.push(f);
      for (let i = 0; i < round.length; i++) {
        if (this.aborted) break;
        const f = round[i];
        if (this.open.get(f.devino) !== f) continue; // finished or replaced this round
        // The file stepped after this one (or, after the last, the first again): read ahead.
        if (await this.step(f, round[i + 1] ?? round[0])) worked = true;
      }
      this.reapRetired();
      if (this.ctx.oneShot && this.open.size === 0 && this.pendingGz.length === 0) break;
      if (this.ctx.oneShot && this.pendingGz.length > 0) {
        await this.readGzip(this.pendingGz.shift()!);
        continue;
      }
      if (!worked) await this.sleep(Math.min(200, Math.max(1, this.nextScanAt - Date.now())));
    }
    this.reapRetired();
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
        f.headChanged()
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
      if (f.key === undefined) this.assignKey(f, chunk, base);
      const weak = f.fl === 0;
      if (f.updateFingerprint(chunk, base)) this.refingerprint(f, weak);
      f.beginChunk(now);
      const before = f.splitter.truncatedLines;
      f.splitter.push(chunk, f.sink);
      if (f.splitter.truncatedLines !== before)
        this.m.truncatedLines.inc({ component: this.ctx.id }, f.splitter.truncatedLines - before);
      this.ctx.metrics.inputBytes.inc({ component: this.ctx.id }, n);
      await this.emit(f, chunk, base);
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
    if (st.size > f.readPos) {
      f.dirty = true;
      return false;
    }
    const idle = now - Math.max(f.lastGrowth, f.detachedAt);
    if (f.joiner?.flushIfIdle(now)) await this.emit(f);
    const finishing = this.ctx.oneShot || (f.detached && idle >= this.cfg.rotate_wait);
    if (f.splitter.hasPartial && (finishing || idle >= this.cfg.rotate_wait)) {
      f.beginChunk(now);
      f.splitter.flush(f.sink);
      f.joiner?.flush();
      await this.emit(f);
    }
    if (finishing) {
      f.joiner?.flush();
      await this.emit(f);
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
    f.nextCheck = now + (idle > 5000 ? 1000 : 200);
    return false;
  }

  private async emit(f: TailedFile, chunk?: Buffer, base = 0): Promise<void> {
    if (f.tracker === undefined) {
      f.takeRecords();
      return;
    }
    const pos = f.position(chunk, base);
    if (pos === undefined) return;
    const { records, bytes } = f.takeRecords();
    const wait = this.ctx.emit({
      tag: this.ctx.tag,
      records,
      bytes,
      token: f.tracker.track(pos),
    });
    if (wait) await wait;
  }

  /**
   * A file read without an identity yet (every file gets one when it is opened, see identify();
   * this is a safety net): give it one now, at the position before this chunk.
   */
  private assignKey(f: TailedFile, chunk: Buffer, base: number): void {
    const want = Math.min(this.cfg.fingerprint_bytes, base + chunk.length);
    const head =
      base === 0 ? chunk.subarray(0, want) : f.fd !== undefined ? readAt(f.fd, 0, want) : chunk;
    this.identify(f, head);
  }

  /**
   * Give a file that starts fresh (opened without a matching checkpoint, or starting over after a
   * truncation) its checkpoint identity, and write the position it starts from to the store at
   * once: a file that is opened and never acknowledged (backend down, then a kill) must still be
   * found after a restart — renamed while shiplog was stopped, or grown while it was stopped under
   * `read_from: tail`.
   *
   * The fingerprint is the hash of the bytes the file has now, up to fingerprint_bytes: for a file
   * that is empty or shorter than that, of what there is (for an empty file, of zero bytes; `fl`
   * says how many). The key is fixed from then on; the saved position's fingerprint grows with the
   * file as later positions are committed (TailedFile.updateFingerprint). A restart verifies the
   * saved `fp` over the first `fl` bytes, which a file that only grew still has, so it matches. An
   * entry saved for an empty file (offset 0, fl 0) verifies against any file with that inode:
   * reading such a file from 0 is exactly what a file without a checkpoint gets, so an inode reused
   * by another file loses nothing, and a file that only grew delivers everything written since.
   */
  private identify(f: TailedFile, head?: Buffer): void {
    if (f.fd === undefined) return;
    head ??= readAt(f.fd, 0, Math.min(this.cfg.fingerprint_bytes, f.size));
    f.fp = hashBytes(head);
    f.fl = head.length;
    const key = this.freeKey(f.dev, f.ino, f.fp);
    f.setKey(key, this.ctx.source(key));
    this.commitStart(f);
  }

  /**
   * The fingerprint of a file identified while shorter than fingerprint_bytes grew (its first
   * bytes were read): save its entry again at once, at the same offset, with the grown
   * fingerprint. Until its next acknowledgement, the entry would otherwise still describe the file
   * as it was (for one opened empty: fl 0, which any file verifies against). If the file is then
   * copied and truncated while shiplog is stopped, the copy is found by that fingerprint and read
   * from the entry's offset. The tracked position is the last one handed to the tracker, so the
   * committed offset never goes back; with batches in flight it is committed after them. For a
   * file that was empty, the checkpoint file is written now rather than at the next interval.
   */
  private refingerprint(f: TailedFile, wasEmpty: boolean): void {
    const pos = f.lastPosition();
    if (!f.tracker || !pos) return;
    f.tracker.track(pos).release();
    if (wasEmpty && !this.ctx.oneShot) void this.ctx.checkpoints.flush();
  }

  /**
   * Commit the position a file starts from (restored, head, tail, a copy's takeover point) at
   * once: a token tracked and released on the spot puts it in the checkpoint store now (no batch
   * of this source can be in flight before it), so the next flush writes it.
   */
  private commitStart(f: TailedFile): void {
    if (!f.tracker) return;
    const pos = f.currentPosition();
    f.restore(pos);
    f.tracker.track(pos).release();
  }

  /**
   * The checkpoint key for a new identity of `dev:ino` whose head hashes to `fp`. A key only names
   * an entry (restoring matches by dev:ino and verifies the saved hashes), so when an identity of
   * the same inode still holds `<dev>:<ino>:<fp>` — retired after a truncation or deletion with
   * batches in flight (its forget() would delete the new entry, its acks overwrite it), or open
   * — another key is derived. Two empty identities of one inode would otherwise always collide.
   */
  private freeKey(dev: number, ino: number, fp: string): string {
    const taken = (k: string): boolean => {
      for (const r of this.retired) if (r.key === k) return true;
      for (const o of this.open.values()) if (o.key === k) return true;
      return false;
    };
    let key = sourceKey(dev, ino, fp);
    for (let n = 1; taken(key); n++)
      key = sourceKey(dev, ino, hashBytes(Buffer.from(`${fp}/${n}`)));
    return key;
  }

  private async truncated(f: TailedFile): Promise<void> {
    this.m.truncations.inc({ component: this.ctx.id });
    if (f.detached) {
      // Not tailed any more (renamed away, a copy being drained): nothing new to follow.
      this.finish(f);
      return;
    }
    this.ctx.log.info('file truncated; reading it again from the start', {
      path: f.path,
      offset: f.readPos,
    });
    const pos = f.fl > 0 ? f.currentPosition() : undefined;
    let copied = false;
    // A copy held while short (cp finished it between two checks): it may be this one's.
    for (const c of this.open.values())
      if (c.pendingCopy !== 0 && path.dirname(c.path) === path.dirname(f.path)) {
        c.pendingCopy = 0;
        c.shadowOf = f;
      }
    for (const c of this.open.values())
      if (c.shadowOf === f) copied = this.releaseShadow(c, pos) || copied;
    // Also from offset 0 (nothing of it emitted yet): the copy has all of it.
    if (!copied && pos && (pos.o > 0 || pos.fl > 0)) await this.findCopy(f.path, pos);
    if (f.key !== undefined && f.tracker) this.retired.push({ key: f.key, tracker: f.tracker });
    f.resetForTruncation();
    f.dirty = true;
    // A new identity from offset 0, checkpointed now (after the old one was retired: its key is
    // not reused).
    this.identify(f);
  }

  /**
   * copytruncate copies the file, then truncates it: the lines between our position and the
   * truncation are only in the copy. Find the copy (same head, same bytes before our offset) in
   * the directory and drain it from our position.
   *
   * A copy may have saved entries of its own (found after an earlier truncation, then shiplog
   * stopped): it is read from the lowest of those and `pos` that it verifies, and those entries
   * are retired. `pos` can be the lower one: the original's identity, retired at the truncation
   * with batches still in flight, was saved at what had been acknowledged, the copy's at where
   * the original had been read to.
   */
  private async findCopy(file: string, pos: FilePosition): Promise<void> {
    const dir = path.dirname(file);
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      return;
    }
    // Newest first: of several files that share the head (a banner longer than
    // fingerprint_bytes), the copy of this truncation is the one made last.
    const files: Array<{ p: string; st: fs.Stats }> = [];
    for (const name of names) {
      const p = path.join(dir, name);
      try {
        const st = await fsp.stat(p);
        if (st.isFile() && st.size >= pos.o && !this.open.has(devIno(st))) files.push({ p, st });
      } catch {
        continue;
      }
    }
    files.sort((a, b) => b.st.mtimeMs - a.st.mtimeMs);
    for (const { p, st } of files) {
      if (this.open.has(devIno(st))) continue;
      let fd: number;
      try {
        fd = fs.openSync(p, 'r');
      } catch {
        continue;
      }
      const fst = fs.fstatSync(fd);
      if (devIno(fst) !== devIno(st) || !verifyPosition(fd, fst.size, pos)) {
        fs.closeSync(fd);
        continue;
      }
      let start = pos;
      const own = this.dormant.get(devIno(fst));
      if (own) {
        this.dormant.delete(devIno(fst));
        for (const d of own) {
          if (d.pos.o < start.o && verifyPosition(fd, fst.size, d.pos)) start = d.pos;
          this.retired.push({ key: d.key, tracker: d.tracker });
        }
      }
      const c = new TailedFile(fd, fst.dev, fst.ino, p, start.o, this.topts);
      c.size = fst.size;
      c.restore(start);
      const key = this.freeKey(c.dev, c.ino, start.fp);
      c.setKey(key, this.ctx.source(key));
      c.detached = true;
      c.detachedAt = Date.now();
      this.open.set(c.devino, c);
      this.commitStart(c);
      this.ctx.log.info('file truncated after a copy; reading the rest from the copy', {
        path: file,
        copy: p,
        offset: start.o,
      });
      return;
    }
  }

  /**
   * A shadow copy takes over from its original: from the original's position when the copy
   * still holds the same bytes there, else from its own start.
   */
  private releaseShadow(c: TailedFile, pos: FilePosition | undefined): boolean {
    const orig = c.shadowOf;
    c.shadowOf = undefined;
    c.dirty = true;
    // Its size when it was found: cp may have written much more since.
    if (c.fd !== undefined)
      try {
        c.size = fs.fstatSync(c.fd).size;
      } catch {
        // closed under us: verifyPosition fails on the old size, read from its own start
      }
    pos ??= orig && orig.fl > 0 && orig.fd !== undefined ? orig.currentPosition() : undefined;
    if (!pos || c.fd === undefined || !verifyPosition(c.fd, c.size, pos)) {
      // Read from its own start: a fresh identity, checkpointed now (a shadow has none before).
      if (c.key === undefined) this.identify(c);
      return false;
    }
    c.splitter.reset(pos.o);
    c.restore(pos);
    // Held as a possible copy, it had an entry at 0: retired, the copy's position replaces it.
    if (c.key !== undefined && c.tracker) this.retired.push({ key: c.key, tracker: c.tracker });
    const key = this.freeKey(c.dev, c.ino, pos.fp);
    c.setKey(key, this.ctx.source(key));
    this.commitStart(c);
    return true;
  }

  private releaseShadowsOf(f: TailedFile): void {
    for (const c of this.open.values()) if (c.shadowOf === f) this.releaseShadow(c, undefined);
  }

  private detach(f: TailedFile, why: 'rotated' | 'deleted'): void {
    f.detached = true;
    f.detachedAt = Date.now();
    this.m.rotations.inc({ component: this.ctx.id });
    if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
    this.ctx.log.debug(`file ${why}; draining it`, { path: f.path });
  }

  /** Done with a file for good (drained after rotation/deletion, or end of a backfill). */
  private finish(f: TailedFile): void {
    this.releaseShadowsOf(f);
    f.close();
    this.open.delete(f.devino);
    if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
    if (f.key !== undefined && f.tracker) {
      if (this.ctx.oneShot) {
        // Keep the checkpoint: a later run (or backfill) must not read the file again.
      } else this.retired.push({ key: f.key, tracker: f.tracker });
    }
    this.m.openFiles.set({ component: this.ctx.id }, this.open.size);
  }

  private closeInactive(f: TailedFile, st: fs.Stats): void {
    this.releaseShadowsOf(f);
    f.close();
    this.open.delete(f.devino);
    if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
    this.m.openFiles.set({ component: this.ctx.id }, this.open.size);
    if (f.key === undefined || !f.tracker) return;
    const pos = f.position() ?? (f.tracker.committed as FilePosition | undefined);
    if (!pos) return;
    this.addDormant(f.devino, {
      key: f.key,
      tracker: f.tracker,
      pos,
      size: st.size,
      mtimeMs: st.mtimeMs,
      seen: true,
    });
    this.ctx.log.debug('closed inactive file', { path: f.path });
  }

  private fail(f: TailedFile, reason: string, err: NodeJS.ErrnoException): void {
    this.m.errors.inc({ component: this.ctx.id, reason });
    this.once(`${reason}:${f.path}:${err.code}`, 'error', 'file read failed; file dropped', {
      path: f.path,
      error: err.message,
    });
    // Keep its checkpoint: the next run may read the rest.
    this.releaseShadowsOf(f);
    f.close();
    this.open.delete(f.devino);
    if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
  }

  private reapRetired(): void {
    for (let i = this.retired.length - 1; i >= 0; i--) {
      const r = this.retired[i];
      if (r.tracker.inFlight === 0) {
        this.ctx.forget(r.key);
        this.retired.splice(i, 1);
      }
    }
  }

  private addDormant(di: string, d: Dormant): void {
    const list = this.dormant.get(di);
    if (list) list.push(d);
    else this.dormant.set(di, [d]);
  }

  private updateLag(): void {
    let lag = 0;
    for (const f of this.open.values()) {
      const c = f.tracker?.committed;
      lag += Math.max(0, f.size - (isFilePosition(c) ? c.o : 0));
    }
    this.ctx.metrics.fileLagBytes.set({ component: this.ctx.id }, lag);
  }

  // ── discovery ──────────────────────────────────────────────────────────────────────────

  private async scan(): Promise<void> {
    const seen = new Set<string>();
    const paths = new Set<string>();
    // A scan that could not see everything (out of descriptors) must not conclude that the files
    // it missed were rotated away: that would forget their checkpoints and re-read them.
    let incomplete = false;
    const hooks = {
      onError: (dir: string, err: NodeJS.ErrnoException) => {
        if (err.code === 'EMFILE' || err.code === 'ENFILE') incomplete = true;
        this.m.errors.inc({ component: this.ctx.id, reason: 'scan' });
        this.once(`scan:${dir}:${err.code}`, 'warn', 'cannot read directory; skipped', {
          dir,
          error: err.message,
        });
      },
      onDir: this.ctx.oneShot ? undefined : (dir: string) => this.watchDir(dir),
    };
    for (const g of this.globs) {
      for (const p of await walkGlob(g, hooks)) if (!this.excluded(p)) paths.add(p);
    }
    const first = !this.firstScanDone;
    for (const p of [...paths].sort()) {
      if (this.aborted) return;
      let st: fs.Stats;
      try {
        st = await fsp.stat(p);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'EMFILE' || err.code === 'ENFILE') incomplete = true;
        if (err.code !== 'ENOENT') {
          this.m.errors.inc({ component: this.ctx.id, reason: 'open' });
          this.once(`stat:${p}:${err.code}`, 'warn', 'cannot stat file; skipped', {
            path: p,
            error: err.message,
          });
        }
        continue;
      }
      if (!st.isFile()) continue;
      const di = devIno(st);
      if (seen.has(di)) continue; // a hard link or symlink to a file already handled
      seen.add(di);
      const f = this.open.get(di);
      if (f) {
        if (f.path !== p) {
          if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
          f.setPath(p);
        }
        this.byPath.set(p, f);
        if (f.detached) f.detached = false;
        continue;
      }
      if (this.gz(p)) {
        // Compressed files are only read by backfill, through zlib (offsets count uncompressed
        // bytes): never as a plain file, also when a checkpoint of theirs is being resumed.
        const resumed = this.dormant.get(di);
        if (resumed) {
          this.dormant.delete(di);
          for (const d of resumed) this.gzTrackers.set(d.key, d.tracker);
        }
        if (this.ctx.oneShot && first) this.pendingGz.push(p);
        continue;
      }
      const dormant = this.dormant.get(di);
      if (dormant) {
        for (const d of dormant) d.seen = true;
        const d0 = dormant[0];
        if (dormant.length === 1 && d0.size === st.size && d0.mtimeMs === st.mtimeMs) continue;
        const lost = this.openFile(p, st, dormant, false, false);
        for (const pos of lost) await this.findCopy(p, pos);
        continue;
      }
      if (this.cfg.ignore_older_than > 0 && Date.now() - st.mtimeMs > this.cfg.ignore_older_than)
        continue;
      this.openFile(p, st, undefined, first && this.cfg.read_from === 'tail', false);
    }
    if (incomplete) {
      this.m.openFiles.set({ component: this.ctx.id }, this.open.size);
      return;
    }
    // Files no longer at a matched path: renamed away or deleted. Drain them.
    for (const f of this.open.values())
      if (!seen.has(f.devino) && !f.detached) this.detach(f, 'rotated');
    // Known identities not found: rotated while closed or while shiplog was stopped?
    for (const [di, list] of [...this.dormant]) {
      if (this.dormant.get(di) !== list) continue; // taken over meanwhile (a copy, findCopy)
      const unseen = list.filter((d) => !d.seen);
      for (const d of list) d.seen = false;
      if (unseen.length === 0) continue;
      if (seen.has(di)) continue;
      this.dormant.delete(di);
      await this.findMoved(di, unseen);
    }
    this.m.openFiles.set({ component: this.ctx.id }, this.open.size);
  }

  private gz(p: string): boolean {
    return p.endsWith('.gz');
  }

  /** Look for a known identity under another name in its directory (e.g. app.log → app.log.1). */
  private async findMoved(di: string, list: Dormant[]): Promise<void> {
    const dir = path.dirname(list[0].pos.p);
    let names: string[] = [];
    try {
      names = await fsp.readdir(dir);
    } catch {
      names = [];
    }
    for (const name of names) {
      const p = path.join(dir, name);
      let st: fs.Stats;
      try {
        st = await fsp.stat(p);
      } catch {
        continue;
      }
      if (!st.isFile() || devIno(st) !== di) continue;
      if (this.open.has(di)) return;
      this.ctx.log.info('found a rotated file by identity; reading the rest of it', {
        was: list[0].pos.p,
        path: p,
      });
      const lost = this.openFile(p, st, list, false, true);
      for (const pos of lost) await this.findCopy(p, pos);
      return;
    }
    // Gone: nothing left to read.
    for (const d of list) this.ctx.forget(d.key);
  }

  /**
   * Open a file and give it its identity: a verified saved one among `candidates` (the saved
   * identities of its inode), or a new one. Returns the saved positions of this inode that the
   * file does not hold any more (truncated, copytruncate, while shiplog was stopped or the file
   * closed), lowest first: the caller looks for each one's copy (findCopy). Their entries are
   * retired, not forgotten, so they stay on disk until the copies have entries of their own.
   */
  private openFile(
    p: string,
    st: fs.Stats,
    candidates: Dormant[] | undefined,
    fromTail: boolean,
    detached: boolean,
  ): FilePosition[] {
    const di = devIno(st);
    if (this.open.size >= this.maxOpen) {
      if (!this.deferredLogged)
        this.ctx.log.warn('max_open_files reached; further files wait', {
          max_open_files: this.maxOpen,
        });
      this.deferredLogged = true;
      if (candidates) for (const d of candidates) d.seen = true;
      return [];
    }
    let fd: number;
    let fst: fs.Stats;
    try {
      fd = fs.openSync(p, 'r');
      fst = fs.fstatSync(fd);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') return [];
      this.m.errors.inc({ component: this.ctx.id, reason: 'open' });
      this.once(`open:${p}:${err.code}`, 'warn', 'cannot open file; skipped', {
        path: p,
        error: err.message,
      });
      return [];
    }
    if (devIno(fst) !== di) {
      // Replaced between stat and open: the next scan sees the new one.
      fs.closeSync(fd);
      this.scanRequested = true;
      return [];
    }
    let match: Dormant | undefined;
    const lost: FilePosition[] = [];
    if (candidates) {
      // Several saved identities of one inode (an older one not yet forgotten when shiplog
      // stopped): the verified one that got furthest wins. An entry saved for a file that was
      // empty (offset 0, fl 0) verifies against any content: it must not win over a later one.
      const verified = new Set<Dormant>();
      for (const d of candidates) {
        if (!verifyPosition(fd, fst.size, d.pos)) continue;
        verified.add(d);
        if (!match || d.pos.o > match.pos.o) match = d;
      }
      this.dormant.delete(di);
      for (const d of candidates) {
        if (d === match) continue;
        // Retired, not forgotten: the entry stays until the copy found for it has its own (no
        // checkpoint write in between may lose both), and no new identity takes its key.
        this.retired.push({ key: d.key, tracker: d.tracker });
        // Not in this file any more (copytruncate while stopped or closed, also of an older
        // identity that still had batches in flight): its lines from there on may be in a copy.
        // Also at offset 0 — a file opened and never acknowledged, then copied and truncated,
        // has all its lines in the copy. Not an entry saved for an empty file (offset 0, fl 0):
        // any file would verify against it.
        if (!verified.has(d) && (d.pos.fl > 0 || d.pos.o > 0)) lost.push(d.pos);
      }
      if (!match)
        this.ctx.log.info(
          'checkpoint does not match the file any more; reading it from the start',
          {
            path: p,
          },
        );
    }
    const start = match ? match.pos.o : fromTail ? fst.size : 0;
    const f = new TailedFile(fd, fst.dev, fst.ino, p, start, this.topts);
    f.size = fst.size;
    f.detached = detached;
    if (match) {
      f.restore(match.pos);
      f.setKey(match.key, match.tracker);
    }
    if (!match && !fromTail) {
      f.shadowOf = this.copyOf(fd, fst.size, p);
      if (!f.shadowOf && this.mayBeCopy(fd, fst.size, p)) f.pendingCopy = Date.now();
    }
    this.open.set(di, f);
    if (!detached) this.byPath.set(p, f);
    // Every file opened has a checkpoint entry from now on, at the position it starts from (the
    // restored offset, 0, or its size under read_from: tail), so that a restart finds it even if
    // nothing of it is ever acknowledged. Not a shadow copy: it is not read, and an entry at 0
    // would make a restart read it from its start, duplicating its original; it gets one when
    // it takes over (releaseShadow).
    // A held file (pendingCopy) gets its entry at 0 like any other: killed while it is held, a
    // restart reads it from its start (duplicates if it was a copy, never a loss under
    // read_from: tail); taking over as a copy, it moves to a key of its own (releaseShadow).
    if (match) this.commitStart(f);
    else if (!f.shadowOf) this.identify(f);
    this.ctx.log.debug('file opened', {
      path: p,
      offset: start,
      restored: match !== undefined,
      copy_of: f.shadowOf?.path,
    });
    this.m.openFiles.set({ component: this.ctx.id }, this.open.size);
    return lost.sort((a, b) => a.o - b.o);
  }

  /**
   * A new file shorter than fingerprint_bytes whose bytes so far (none, for an empty one) are the
   * start of a live file in its directory may be a copy `cp` is still writing (copytruncate under
   * a glob that matches the copy, e.g. `app.log*`). Read now, it would deliver its original's
   * lines a second time. It is held unread (pendingCopy) until it tells: grown to
   * fingerprint_bytes it is a shadow copy or not (copyOf); its bytes stop being its original's
   * start, it is a file of its own; its original is truncated, it takes over from the original's
   * position if it holds those bytes (truncated, releaseShadow); still undecided after
   * PENDING_COPY_MS without growing (a small file that only starts like another), it is read
   * from its start.
   */
  private mayBeCopy(fd: number, size: number, p: string): boolean {
    const n = this.cfg.fingerprint_bytes;
    if (size >= n || this.ctx.oneShot) return false;
    const dir = path.dirname(p);
    let head: Buffer | undefined;
    for (const o of this.open.values()) {
      if (o.detached || o.shadowOf || o.pendingCopy !== 0 || o.fd === undefined) continue;
      if (path.dirname(o.path) !== dir || o.size <= size) continue;
      if (size === 0) return true;
      head ??= readAt(fd, 0, size);
      if (readAt(o.fd, 0, size).equals(head)) return true;
    }
    return false;
  }

  /** A held file (pendingCopy): true while it stays held; else it is released to be read. */
  private stillPendingCopy(f: TailedFile): boolean {
    const now = Date.now();
    let size: number;
    try {
      size = fs.fstatSync(f.fd!).size;
    } catch {
      size = f.size;
    }
    const grew = size !== f.size;
    f.size = size;
    if (grew) {
      if (size >= this.cfg.fingerprint_bytes) {
        f.pendingCopy = 0;
        f.shadowOf = this.copyOf(f.fd!, size, f.path);
      } else if (this.mayBeCopy(f.fd!, size, f.path)) {
        f.pendingCopy = now;
      } else f.pendingCopy = 0;
    } else if (now - f.pendingCopy >= PENDING_COPY_MS) f.pendingCopy = 0;
    if (f.pendingCopy !== 0) {
      f.nextCheck = now + 100;
      f.dirty = false;
      return true;
    }
    if (!f.shadowOf && f.key === undefined) this.identify(f);
    return false;
  }

  /** An open file in the same directory whose full fingerprint this new file shares. */
  private copyOf(fd: number, size: number, p: string): TailedFile | undefined {
    const n = this.cfg.fingerprint_bytes;
    if (size < n) return undefined;
    const dir = path.dirname(p);
    let head: string | undefined;
    for (const o of this.open.values()) {
      if (o.fl !== n || o.shadowOf || path.dirname(o.path) !== dir) continue;
      head ??= hashBytes(readAt(fd, 0, n));
      if (head === o.fp) return o;
    }
    return undefined;
  }

  private watchDir(dir: string): void {
    if (this.watchers.has(dir) || this.watchers.size >= MAX_WATCHED_DIRS || this.aborted) return;
    try {
      const w = fs.watch(dir, { persistent: false }, (event, name) => {
        if (event === 'rename' || !name) {
          this.scanRequested = true;
        } else {
          const f = this.byPath.get(path.join(dir, name.toString()));
          if (f) f.dirty = true;
        }
        this.wake();
      });
      w.on('error', () => {
        w.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
    } catch {
      // Not watchable (ENOSPC on inotify watches, gone): the periodic rescan covers it.
    }
  }

  // ── backfill of .gz files ──────────────────────────────────────────────────────────────

  private pendingGz: string[] = [];
  /** Trackers of resumed .gz checkpoints (restored at start), by source key. */
  private readonly gzTrackers = new Map<string, SourceTracker>();

  /** oneShot only: stream a gzip file through zlib; offsets count uncompressed bytes. */
  private async readGzip(p: string): Promise<void> {
    let fd: number;
    let st: fs.Stats;
    try {
      fd = fs.openSync(p, 'r');
      st = fs.fstatSync(fd);
    } catch (e) {
      this.m.errors.inc({ component: this.ctx.id, reason: 'open' });
      this.once(`open:${p}`, 'warn', 'cannot open file; skipped', {
        path: p,
        error: (e as Error).message,
      });
      return;
    }
    // Identity from the compressed bytes; the position's hashes are not re-verified for .gz
    // (the content of a compressed, rotated file does not change).
    const head = readAt(fd, 0, Math.min(this.cfg.fingerprint_bytes, st.size));
    const fp = hashBytes(head);
    const key = sourceKey(st.dev, st.ino, fp);
    const tracker = this.gzTrackers.get(key) ?? this.ctx.source(key);
    const saved = tracker.committed;
    const skip = isFilePosition(saved) && saved.fp === fp ? saved.o : 0;
    const f = new TailedFile(undefined, st.dev, st.ino, p, 0, this.topts);
    f.fp = fp;
    f.fl = head.length;
    f.setKey(key, tracker);
    const stream = fs.createReadStream('', { fd, highWaterMark: 256 * 1024 }).pipe(createGunzip());
    let offset = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (this.aborted) break;
        const base = offset;
        offset += chunk.length;
        let c = chunk;
        if (offset <= skip) {
          f.splitter.reset(offset);
          continue;
        }
        if (base < skip) {
          c = chunk.subarray(skip - base);
          f.splitter.reset(skip);
        }
        this.ctx.metrics.inputBytes.inc({ component: this.ctx.id }, c.length);
        f.beginChunk(Date.now());
        f.splitter.push(c, f.sink);
        await this.emitGz(f, c, f.splitter.nextOffset - c.length);
      }
      if (!this.aborted) {
        f.beginChunk(Date.now());
        f.splitter.flush(f.sink);
        f.joiner?.flush();
        await this.emitGz(f);
      }
    } catch (e) {
      this.m.errors.inc({ component: this.ctx.id, reason: 'read' });
      this.once(`gz:${p}`, 'error', 'cannot decompress file; rest skipped', {
        path: p,
        error: (e as Error).message,
      });
    } finally {
      stream.destroy();
    }
  }

  private async emitGz(f: TailedFile, chunk?: Buffer, base = 0): Promise<void> {
    const o = f.safeOffset();
    if (o === f.lastPos && f.records.length === 0) return;
    // Tail hash from the chunk when possible; it is informational for .gz.
    const tl = chunk && o - base >= 0 && o - base <= chunk.length ? Math.min(64, o - base) : 0;
    const th = tl > 0 && chunk ? hashBytes(chunk, o - base - tl, o - base) : '';
    f.lastPos = o;
    const pos: FilePosition = { o, fp: f.fp, fl: f.fl, th, tl, p: f.path };
    const { records, bytes } = f.takeRecords();
    const wait = this.ctx.emit({ tag: this.ctx.tag, records, bytes, token: f.tracker!.track(pos) });
    if (wait) await wait;
  }
}

/** The soft limit on open descriptors (Linux /proc), or undefined when unknown/unlimited. */
function softFdLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
