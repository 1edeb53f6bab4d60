// The state every part of the file input shares, and what they all do with it: the open files
// (by dev:ino and by path), the saved identities not open (dormant), the entries retired until
// their batches are acknowledged; giving a file its checkpoint identity and committing the
// position it starts from; and handing a file's lines on as one batch per read (deliver, emit).
// The input is one class built in layers, one job per file, each using the ones before it:
//
//   state.ts        identities, checkpoint entries, batches      FileInputState
//   copies.ts       truncation, copies and shadows, closing      FileCopies
//   opening.ts      open, restore, atomic replace, slots         FileOpening
//   gzip.ts         .gz: backfill, rests of compressed files     FileGzip
//   discovery.ts    scan, watch, found under another name        FileDiscovery
//   input.ts        the read loop                                FileInput

import type { SourceTracker } from '../../../core/acks.js';
import type { InputContext } from '../../../core/component.js';
import type { FileInputConfig } from './config.js';
import {
  hashBytes,
  isFilePosition,
  birthNonce,
  newNonce,
  readAt,
  sourceKey,
  type FilePosition,
} from './identity.js';
import { TailedFile, type TailerOptions } from './tailer.js';
import { fileMetrics, type FileMetrics } from './metrics.js';

/** A saved identity of a file that is not open (restored at start, or closed while tailed). */
export interface Dormant {
  key: string;
  tracker: SourceTracker;
  pos: FilePosition;
  /** Size and mtime when it went dormant (-1: restored from a checkpoint, always check). */
  size: number;
  mtimeMs: number;
  seen: boolean;
}

export abstract class FileInputState {
  protected readonly topts: TailerOptions;
  protected readonly m: FileMetrics;
  protected readonly enc: BufferEncoding;
  /** Files with a descriptor (tailed, draining, held as a possible copy, shadows), by dev:ino. */
  protected readonly open = new Map<string, TailedFile>();
  /** Files tailed at a matched path, by path (watch events). */
  protected readonly byPath = new Map<string, TailedFile>();
  /** Saved identities not open (restored at start, closed inactive, parked), by dev:ino. */
  protected readonly dormant = new Map<string, Dormant[]>();
  /** Identities done with, forgotten once their batches in flight are acknowledged. */
  protected readonly retired: Array<{ key: string; tracker: SourceTracker }> = [];
  protected readonly loggedOnce = new Set<string>();
  protected wakeUp: (() => void) | undefined;
  protected scanRequested = true;
  protected stopped = false;

  constructor(
    protected readonly cfg: FileInputConfig,
    protected readonly ctx: InputContext,
  ) {
    this.enc = cfg.encoding === 'latin1' ? 'latin1' : 'utf8';
    this.topts = {
      maxLineBytes: cfg.max_line_bytes,
      encoding: this.enc,
      fingerprintBytes: cfg.fingerprint_bytes,
      multiline: cfg.multiline,
    };
    this.m = fileMetrics(ctx.metrics.registry);
  }

  protected get aborted(): boolean {
    return this.stopped || this.ctx.signal.aborted;
  }

  protected wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  protected once(
    key: string,
    level: 'warn' | 'error',
    msg: string,
    fields: Record<string, unknown>,
  ) {
    if (this.loggedOnce.has(key)) return;
    if (this.loggedOnce.size > 10_000) this.loggedOnce.clear();
    this.loggedOnce.add(key);
    this.ctx.log[level](msg, fields);
  }

  /**
   * Split `chunk` (the bytes at f.readPos) into f's records and hand them on as one batch. `window`
   * (at `windowBase`) holds the chunk and may hold bytes before it: the position's hash of the
   * bytes before its offset is taken from it when it can be. The read loop and .gz files share it.
   */
  protected async deliver(
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
  protected async flushLines(f: TailedFile, now: number): Promise<void> {
    f.beginChunk(now);
    f.splitter.flush(f.sink);
    f.joiner?.flush();
    await this.emit(f);
  }

  protected async emit(f: TailedFile, chunk?: Buffer, base = 0): Promise<void> {
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
  protected async persistKeys(): Promise<void> {
    const pending: TailedFile[] = [];
    for (const o of this.open.values()) if (o.key !== undefined && !o.persisted) pending.push(o);
    await this.ctx.checkpoints.flush();
    for (const o of pending) o.persisted = true;
  }

  /**
   * A file read without an identity yet (every file gets one when it is opened, see identify();
   * this is a safety net): give it one now, at the position before this chunk.
   */
  protected assignKey(f: TailedFile, chunk: Buffer, base: number): void {
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
  protected identify(f: TailedFile, head?: Buffer, truncation = false): void {
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
  protected refingerprint(f: TailedFile, wasEmpty: boolean): void {
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
  protected commitStart(f: TailedFile): void {
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
  protected freeKey(dev: number, ino: number, fp: string, nonce = newNonce()): string {
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

  protected detach(f: TailedFile, why: 'rotated' | 'deleted'): void {
    f.detached = true;
    f.detachedAt = Date.now();
    this.m.rotations.inc({ component: this.ctx.id });
    if (this.byPath.get(f.path) === f) this.byPath.delete(f.path);
    this.ctx.log.debug(`file ${why}; draining it`, { path: f.path });
  }

  protected reapRetired(): void {
    for (let i = this.retired.length - 1; i >= 0; i--) {
      const r = this.retired[i];
      if (r.tracker.inFlight === 0) {
        this.ctx.forget(r.key);
        this.retired.splice(i, 1);
      }
    }
  }

  protected addDormant(di: string, d: Dormant): void {
    const list = this.dormant.get(di);
    if (list) list.push(d);
    else this.dormant.set(di, [d]);
  }

  protected updateLag(): void {
    let lag = 0;
    for (const f of this.open.values()) {
      const c = f.tracker?.committed;
      lag += Math.max(0, f.size - (isFilePosition(c) ? c.o : 0));
    }
    this.ctx.metrics.fileLagBytes.set({ component: this.ctx.id }, lag);
  }
}
