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
  birthNonce,
  newNonce,
  readAt,
  sameBirth,
  sourceKey,
  TAIL_BYTES,
  verifyPosition,
  type FilePosition,
} from './identity.js';
import { findGzipped, gunzipHead, gzipHeadMatches, isCompressed, streamGzip } from './gzip.js';
import { isUnder, notRegular, openForRead } from './open.js';
import { rotatedSiblings } from './rotated.js';
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

/**
 * A `.gz` to read: in backfill, every matched one (`path` only); in `run`, the rest of a
 * checkpointed file that was rotated and compressed while shiplog was stopped, from `start`
 * (decompressed offset) under the `.gz`'s own entry `key`.
 */
interface GzJob {
  path: string;
  devino?: string;
  key?: string;
  tracker?: SourceTracker;
  start?: FilePosition;
  /** The key is in the checkpoint file already (restored, or its nonce is the birth time's). */
  persisted?: boolean;
}

interface FileMetrics {
  openFiles: Gauge<'component'>;
  rotations: Counter<'component'>;
  truncations: Counter<'component'>;
  truncatedLines: Counter<'component'>;
  errors: Counter<'component' | 'reason'>;
  replaced: Counter<'component'>;
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
    replaced: counter(
      'shiplog_file_replaced_total',
      'Files atomically replaced by a file holding their content and more (cp; append; mv over): read on from the position reached, not again from the start.',
      ['component'],
    ),
    errors: counter(
      'shiplog_file_errors_total',
      'File input errors by reason: scan (unreadable directory), open (also not a regular file), read, symlink (skipped).',
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
  /** mtime of the checkpoint file at start when this input had saved entries, else undefined. */
  private lastCheckpointMs: number | undefined;
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
      if (this.ctx.oneShot && this.open.size === 0 && this.gzJobs.length === 0) break;
      if (this.gzJobs.length > 0) {
        await this.readGzip(this.gzJobs.shift()!);
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
    if (st.size > f.readPos) {
      f.dirty = true;
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
    f.nextCheck = now + (idle > 5000 ? 1000 : 200);
    return false;
  }

  /**
   * Split `chunk` (the bytes at f.readPos) into f's records and hand them on as one batch. `window`
   * (at `windowBase`) holds the chunk and may hold bytes before it: the position's hash of the
   * bytes before its offset is taken from it when it can be. The read loop and .gz files share it.
   */
  private async deliver(
    f: TailedFile,
    chunk: Buffer,
    now: number,
    window: Buffer,
    windowBase: number,
  ): Promise<void> {
    f.beginChunk(now);
    const before = f.splitter.truncatedLines;
    f.splitter.push(chunk, f.sink);
    if (f.splitter.truncatedLines !== before)
      this.m.truncatedLines.inc({ component: this.ctx.id }, f.splitter.truncatedLines - before);
    this.ctx.metrics.inputBytes.inc({ component: this.ctx.id }, chunk.length);
    await this.emit(f, window, windowBase);
  }

  /** Take f's unterminated last line and a multiline record being joined, and hand them on. */
  private async flushLines(f: TailedFile, now: number): Promise<void> {
    f.beginChunk(now);
    f.splitter.flush(f.sink);
    f.joiner?.flush();
    await this.emit(f);
  }

  private async emit(f: TailedFile, chunk?: Buffer, base = 0): Promise<void> {
    if (f.tracker === undefined) {
      f.takeRecords();
      return;
    }
    const pos = f.position(chunk, base);
    if (pos === undefined) return;
    if (!f.persisted) {
      await this.persistKeys();
      f.persisted = true;
    }
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
   * Write the checkpoint store now, so the keys (and their nonces) of the incarnations opened
   * since the last write are on disk before any of their records is sent: a re-read after a kill
   * then derives the same record ids (Elasticsearch `_id`), and a replay is a 409, not a second
   * copy. One write covers every file identified before it (all opened in one scan: one write).
   * A failed write is counted and reported by the store; the records are sent anyway (a kill
   * before the next successful write may then duplicate them, never lose them).
   */
  private async persistKeys(): Promise<void> {
    const pending: TailedFile[] = [];
    for (const o of this.open.values()) if (o.key !== undefined && !o.persisted) pending.push(o);
    await this.ctx.checkpoints.flush();
    for (const o of pending) o.persisted = true;
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
  private identify(f: TailedFile, head?: Buffer, truncation = false): void {
    if (f.fd === undefined) return;
    head ??= readAt(f.fd, 0, Math.min(this.cfg.fingerprint_bytes, f.size));
    f.fp = hashBytes(head);
    f.fl = head.length;
    // A file's first incarnation takes its nonce from its birth time: a re-read after a kill
    // derives the same one without waiting for a checkpoint write (a new file per rotation
    // would otherwise cost one fsync before its first batch). A truncation starts another
    // incarnation of the same inode and birth time: a random nonce, written before use.
    const nonce = !truncation && f.birth > 0 ? birthNonce(f.birth) : undefined;
    const key = this.freeKey(f.dev, f.ino, f.fp, nonce);
    f.setKey(key, this.ctx.source(key), nonce !== undefined);
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
  private freeKey(dev: number, ino: number, fp: string, nonce = newNonce()): string {
    const taken = (k: string): boolean => {
      for (const r of this.retired) if (r.key === k) return true;
      for (const o of this.open.values()) if (o.key === k) return true;
      return false;
    };
    let key = sourceKey(dev, ino, fp, nonce);
    for (let n = 1; taken(key); n++)
      key = sourceKey(dev, ino, hashBytes(Buffer.from(`${fp}/${n}`)), nonce);
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
    this.identify(f, undefined, true);
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
  private async findCopy(file: string, pos: FilePosition): Promise<boolean> {
    const dir = path.dirname(file);
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      return false;
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
        fd = openForRead(p);
      } catch {
        continue;
      }
      const fst = fs.fstatSync(fd);
      if (!fst.isFile() || devIno(fst) !== devIno(st) || !verifyPosition(fd, fst.size, pos)) {
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
      c.birth = fst.birthtimeMs;
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
      return true;
    }
    return false;
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

  /**
   * max_open_files reached and a file wants a slot: close the file that has held its slot longest
   * (at least one scan interval; not one being drained after a rotation, not one holding a
   * partial line or a multiline record) into a dormant identity at its read position. It is
   * reopened, verified and read on when a scan finds it grown (or unread), or found by identity
   * if it is rotated meanwhile: slots rotate among busy files instead of waiting for
   * close_inactive, and every matched file gets an identity (and a checkpoint) soon after it
   * appears. False when no file can give up its slot now.
   */
  private parkOne(): boolean {
    const now = Date.now();
    const hold = Math.max(200, this.cfg.scan_interval);
    let victim: TailedFile | undefined;
    for (const o of this.open.values()) {
      if (o.detached || o.shadowOf || o.pendingCopy !== 0 || o.fd === undefined) continue;
      if (o.key === undefined || !o.tracker) continue;
      if (o.splitter.hasPartial || (o.joiner?.pendingStart ?? -1) >= 0) continue;
      if (now - o.slotSince < hold) continue;
      if (!victim || o.slotSince < victim.slotSince) victim = o;
    }
    if (!victim || victim.fd === undefined) return false;
    let st: fs.Stats;
    try {
      st = fs.fstatSync(victim.fd);
    } catch {
      return false;
    }
    const pos = victim.currentPosition();
    this.releaseShadowsOf(victim);
    victim.close();
    this.open.delete(victim.devino);
    if (this.byPath.get(victim.path) === victim) this.byPath.delete(victim.path);
    this.addDormant(victim.devino, {
      key: victim.key!,
      tracker: victim.tracker!,
      pos,
      // Unread bytes left: the next scan must reopen it even if it does not grow.
      size: pos.o < st.size ? -1 : st.size,
      mtimeMs: st.mtimeMs,
      seen: true,
    });
    this.ctx.log.debug('max_open_files: slot given up', { path: victim.path, offset: pos.o });
    return true;
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
        st = await fsp.lstat(p);
        if (st.isSymbolicLink()) {
          const target = await this.symlinkTarget(p);
          if (target === undefined) continue;
          st = await fsp.stat(target);
        }
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
      if (isCompressed(p)) {
        // Never read as a plain file. Backfill reads every matched one through zlib (offsets
        // count decompressed bytes); `run` only resumes one that has an entry of its own (the
        // rest of a file rotated and compressed while shiplog was stopped).
        const resumed = this.dormant.get(di);
        if (resumed) {
          this.dormant.delete(di);
          if (this.ctx.oneShot) for (const d of resumed) this.gzTrackers.set(d.key, d.tracker);
          else this.resumeGzip(p, st, resumed);
        }
        if (this.ctx.oneShot && first) this.gzJobs.push({ path: p });
        continue;
      }
      const dormant = this.dormant.get(di);
      if (dormant) {
        for (const d of dormant) d.seen = true;
        const d0 = dormant[0];
        if (dormant.length === 1 && d0.size === st.size && d0.mtimeMs === st.mtimeMs) continue;
        const lost = this.openFile(p, st, dormant, false, false);
        for (const pos of lost) await this.findRest(p, pos);
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
    if (first && this.lastCheckpointMs !== undefined) await this.readRotatedWhileStopped(paths);
    this.m.openFiles.set({ component: this.ctx.id }, this.open.size);
  }

  /**
   * At start: files created and rotated out of the glob while shiplog was stopped (`app.log`
   * renamed to `.1`, then `.2`, between two runs) are known to no checkpoint. The rotated
   * siblings of each matched path born after the last checkpoint write, not open and not a
   * saved identity, are read from their start (drained, then forgotten), oldest first.
   */
  private async readRotatedWhileStopped(paths: Set<string>): Promise<void> {
    const since = this.lastCheckpointMs!;
    for (const p of [...paths].sort()) {
      for (const sib of await rotatedSiblings(p, since)) {
        const di = `${sib.dev}:${sib.ino}`;
        if (paths.has(sib.path) || this.excluded(sib.path)) continue;
        if (this.open.has(di) || this.dormant.has(di)) continue;
        let st: fs.Stats;
        try {
          st = await fsp.stat(sib.path);
        } catch {
          continue;
        }
        if (devIno(st) !== di) continue;
        this.ctx.log.info('reading a file rotated away while shiplog was stopped', {
          path: sib.path,
          of: p,
        });
        this.openFile(sib.path, st, undefined, false, true);
      }
    }
  }

  private realBases: string[] | undefined;

  /**
   * The resolved target of a symlink the globs matched, when it may be read: follow_symlinks is
   * on and the target is under the (resolved) base directory of one of the globs. Else skipped,
   * counted (`reason="symlink"`) and logged once.
   */
  private async symlinkTarget(p: string): Promise<string | undefined> {
    let why = 'follow_symlinks is off';
    if (this.cfg.follow_symlinks) {
      this.realBases ??= await Promise.all(
        this.globs.map((g) => fsp.realpath(g.base).catch(() => g.base)),
      );
      const real = await fsp.realpath(p).catch(() => undefined);
      if (real !== undefined && this.realBases.some((b) => isUnder(real, b))) return real;
      why = `its target ${real ?? '(unresolvable)'} is outside the glob's base directory`;
    }
    this.m.errors.inc({ component: this.ctx.id, reason: 'symlink' });
    this.once(`symlink:${p}`, 'warn', 'symlink skipped', { path: p, why });
    return undefined;
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
      if (isCompressed(p)) {
        this.resumeGzip(p, st, list);
        return;
      }
      this.ctx.log.info('found a rotated file by identity; reading the rest of it', {
        was: list[0].pos.p,
        path: p,
      });
      const lost = this.openFile(p, st, list, false, true);
      // No slot now (max_open_files, every slot held briefly): keep the identity, the next scan
      // looks again; dropping it here would lose the rest of the file for good.
      if (!this.open.has(di)) {
        for (const d of list) this.addDormant(di, d);
        return;
      }
      for (const pos of lost) await this.findRest(p, pos);
      return;
    }
    // Gone under its plain name. Rotated and compressed (app.log.1.gz, 0.log.<time>.gz) while
    // shiplog was stopped or the file closed? Then its rest is read from the .gz. Else gone:
    // nothing left to read.
    for (const d of [...list].sort((a, b) => a.pos.o - b.pos.o)) {
      if (this.ctx.oneShot || isCompressed(d.pos.p) || !(await this.gzipRest(d.pos))) {
        this.ctx.forget(d.key);
        continue;
      }
      this.retired.push({ key: d.key, tracker: d.tracker });
    }
  }

  /**
   * A saved position of a file that does not hold it any more (truncated or its inode reused
   * while shiplog was stopped): its rest is in a copy (copytruncate) or, rotated and compressed,
   * in a .gz.
   */
  private async findRest(file: string, pos: FilePosition): Promise<void> {
    if (await this.findCopy(file, pos)) return;
    if (!this.ctx.oneShot && !isCompressed(pos.p)) await this.gzipRest(pos);
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
    if (this.open.size >= this.maxOpen && !this.parkOne()) {
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
      // Symlinks only when followed on purpose, and then only when scan() checked the target.
      fd = openForRead(p, this.cfg.follow_symlinks);
      fst = fs.fstatSync(fd);
      const bad = notRegular(p, fst);
      if (bad) {
        fs.closeSync(fd);
        throw bad;
      }
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
        // Another incarnation (deleted and recreated, the inode reused) even if its head and the
        // bytes before the saved offset are the same: a banner and fixed-width lines fool hashes.
        if (!sameBirth(d.pos, fst.birthtimeMs)) continue;
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
    // Atomic replace (cp app.log tmp; append; mv tmp app.log): the file now at the path of an
    // open one holds all of that one's content as its prefix. Read on from where the replaced
    // file got to, under a new identity; the replaced one is done (its batches in flight keep
    // its entry until acknowledged). A chain of replaces is followed one link at a time.
    // The file at this path before: tailed, or already found deleted (nlink 0) and draining.
    const prev = !match && !fromTail && !detached ? this.previousAt(p, di) : undefined;
    const carried = prev && prev.devino !== di ? replacedBy(prev, fd, fst.size) : undefined;
    if (carried && prev) {
      this.m.replaced.inc({ component: this.ctx.id });
      this.ctx.log.debug('file replaced by one holding its content; reading on', {
        path: p,
        offset: carried.o,
      });
      this.finish(prev);
    }
    const start = match ? match.pos.o : carried ? carried.o : fromTail ? fst.size : 0;
    const f = new TailedFile(fd, fst.dev, fst.ino, p, start, this.topts);
    f.size = fst.size;
    f.birth = fst.birthtimeMs;
    f.detached = detached;
    if (match) {
      f.restore(match.pos);
      // Restored from the checkpoint file: the key (and its nonce) is on disk.
      f.setKey(match.key, match.tracker, true);
    }
    if (!match && !fromTail && !carried) {
      f.shadowOf = this.copyOf(fd, fst.size, p);
      if (!f.shadowOf && this.mayBeCopy(fd, fst.size, p)) f.pendingCopy = Date.now();
    }
    this.open.set(di, f);
    if (!detached) this.byPath.set(p, f);
    if (carried) {
      f.restore(carried);
      const key = this.freeKey(f.dev, f.ino, carried.fp);
      f.setKey(key, this.ctx.source(key));
      this.commitStart(f);
      this.m.openFiles.set({ component: this.ctx.id }, this.open.size);
      return lost.sort((a, b) => a.o - b.o);
    }
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

  /** The open file (tailed or draining) that was last at path `p`, other than `di`. */
  private previousAt(p: string, di: string): TailedFile | undefined {
    const at = this.byPath.get(p);
    if (at && at.devino !== di) return at;
    let best: TailedFile | undefined;
    for (const o of this.open.values())
      if (
        o.path === p &&
        o.devino !== di &&
        o.detached &&
        (!best || o.detachedAt > best.detachedAt)
      )
        best = o;
    return best;
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

  // ── .gz files ─────────────────────────────────────────────────────────────────────────

  /** .gz files to read: every matched one in backfill; in `run`, rests of rotated files. */
  private readonly gzJobs: GzJob[] = [];
  /** Trackers of resumed .gz checkpoints (restored at start; backfill), by source key. */
  private readonly gzTrackers = new Map<string, SourceTracker>();

  private gzBusy(st: fs.Stats): boolean {
    const di = devIno(st);
    return this.open.has(di) || this.dormant.has(di) || this.gzJobs.some((j) => j.devino === di);
  }

  /**
   * A saved position `pos` names a file gone from its directory (or whose inode now holds another
   * file): is it there compressed (rotated and gzipped while shiplog was stopped)? Then the .gz
   * gets an entry of its own at `pos`'s offset (decompressed), and the rest is read from there
   * (readGzip). The caller retires the saved entry: both reach the checkpoint file in one write.
   * True when found.
   */
  private async gzipRest(pos: FilePosition): Promise<boolean> {
    const found = await findGzipped(pos, (st) => this.gzBusy(st));
    if (!found) return false;
    const { st } = found;
    const nonce = st.birthtimeMs > 0 ? birthNonce(st.birthtimeMs) : undefined;
    const key = this.freeKey(st.dev, st.ino, pos.fp, nonce);
    const tracker = this.ctx.source(key);
    const start: FilePosition = { ...pos, p: found.path };
    delete start.b;
    tracker.track(start).release();
    this.gzJobs.push({
      path: found.path,
      devino: devIno(st),
      key,
      tracker,
      start,
      persisted: nonce !== undefined,
    });
    this.ctx.log.info('found a rotated file compressed; reading the rest of it from the .gz', {
      was: pos.p,
      path: found.path,
      offset: pos.o,
    });
    return true;
  }

  /** A .gz with saved entries of its own (its rest was being read when shiplog stopped). */
  private resumeGzip(p: string, st: fs.Stats, list: Dormant[]): void {
    const [d, ...older] = [...list].sort((a, b) => b.pos.o - a.pos.o);
    for (const o of older) this.retired.push({ key: o.key, tracker: o.tracker });
    this.gzJobs.push({
      path: p,
      devino: devIno(st),
      key: d.key,
      tracker: d.tracker,
      start: d.pos,
      persisted: true,
    });
  }

  /**
   * Stream a .gz through zlib (offsets count decompressed bytes) and deliver its lines as the
   * read loop does. `run`: from the job's start, after checking that the .gz still holds the
   * content the entry names; read to its end, the entry is retired (a later restart reads
   * nothing again). Backfill: every matched .gz from its start or its saved entry, kept.
   */
  private async readGzip(job: GzJob): Promise<void> {
    const p = job.path;
    let fd: number;
    let st: fs.Stats;
    try {
      fd = openForRead(p, this.cfg.follow_symlinks);
      st = fs.fstatSync(fd);
      const bad = notRegular(p, st);
      if (bad) {
        fs.closeSync(fd);
        throw bad;
      }
    } catch (e) {
      this.m.errors.inc({ component: this.ctx.id, reason: 'open' });
      this.once(`open:${p}`, 'warn', 'cannot open file; skipped', {
        path: p,
        error: (e as Error).message,
      });
      if (job.key !== undefined) this.ctx.forget(job.key);
      return;
    }
    const r =
      job.key !== undefined ? await this.gzResume(job, p) : await this.gzBackfill(p, st, fd);
    if (r === undefined) {
      fs.closeSync(fd);
      return;
    }
    const { key, tracker, start, persisted } = r;
    const f = new TailedFile(undefined, st.dev, st.ino, p, start.o, this.topts);
    f.restore(start);
    // Backfill: its position is handed on at least once (an empty .gz gets an entry too).
    if (!job.start) f.lastPos = -1;
    f.setKey(key, tracker, persisted);
    try {
      const result = await streamGzip(
        fd,
        start.o,
        job.start,
        async (chunk, _base, window, windowBase) => {
          if (this.aborted) return false;
          await this.deliver(f, chunk, Date.now(), window, windowBase);
          return true;
        },
      );
      if (result === 'mismatch') {
        this.ctx.log.warn('compressed file does not hold its checkpoint any more; not read', {
          path: p,
        });
        this.ctx.forget(key);
        return;
      }
      if (result === 'stopped' || this.aborted) return;
      await this.flushLines(f, Date.now());
      // Read to its end: done for good. Backfill keeps the entry (a later backfill skips it).
      if (!this.ctx.oneShot) this.retired.push({ key, tracker });
    } catch (e) {
      this.m.errors.inc({ component: this.ctx.id, reason: 'read' });
      this.once(`gz:${p}`, 'error', 'cannot decompress file; rest skipped', {
        path: p,
        error: (e as Error).message,
      });
    }
  }

  private async gzResume(job: GzJob, p: string): Promise<GzStart | undefined> {
    const start = job.start!;
    if (!isFilePosition(start) || !(await gzipHeadMatches(p, start))) {
      this.ctx.log.warn('compressed file does not hold its checkpoint any more; not read', {
        path: p,
      });
      this.ctx.forget(job.key!);
      return undefined;
    }
    return { key: job.key!, tracker: job.tracker!, start, persisted: job.persisted ?? false };
  }

  /**
   * Backfill: the .gz's identity is the hash of its first decompressed bytes. A saved entry of
   * its inode is resumed (also one saved by older versions, whose fingerprint hashed the
   * compressed bytes); else a new incarnation from 0.
   */
  private async gzBackfill(p: string, st: fs.Stats, fd: number): Promise<GzStart | undefined> {
    const head = await gunzipHead(p, this.cfg.fingerprint_bytes);
    const fp = hashBytes(head ?? Buffer.alloc(0));
    const fl = head?.length ?? 0;
    const legacy = hashBytes(readAt(fd, 0, Math.min(this.cfg.fingerprint_bytes, st.size)));
    let key: string | undefined;
    let o = 0;
    for (const [k, t] of this.gzTrackers) {
      const saved = t.committed;
      if (keyDevIno(k) !== devIno(st) || !isFilePosition(saved)) continue;
      if (saved.fp !== fp && saved.fp !== legacy) continue;
      key = k;
      o = saved.o;
    }
    key ??= sourceKey(st.dev, st.ino, fp);
    const tracker = this.gzTrackers.get(key) ?? this.ctx.source(key);
    return {
      key,
      tracker,
      start: { o, fp, fl, th: '', tl: 0, p },
      // As it always did, backfill sends without writing the store first.
      persisted: true,
    };
  }
}

interface GzStart {
  key: string;
  tracker: SourceTracker;
  start: FilePosition;
  persisted: boolean;
}

/**
 * The position to read a replacing file (open as `fd`, `size` bytes) on from, when it holds all of
 * the open file `prev`'s content as its prefix: the same head, the same bytes before prev's
 * position, and prev's last bytes at the same offset (nothing appended to prev after the copy).
 */
function replacedBy(prev: TailedFile, fd: number, size: number): FilePosition | undefined {
  if (prev.fd === undefined || prev.shadowOf || prev.fl === 0) return undefined;
  let oldSize: number;
  try {
    oldSize = fs.fstatSync(prev.fd).size;
  } catch {
    return undefined;
  }
  if (size < oldSize) return undefined;
  const pos = prev.currentPosition();
  if (!verifyPosition(fd, size, pos)) return undefined;
  const n = Math.min(TAIL_BYTES, oldSize);
  if (n > 0 && !readAt(fd, oldSize - n, n).equals(readAt(prev.fd, oldSize - n, n)))
    return undefined;
  return pos;
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
