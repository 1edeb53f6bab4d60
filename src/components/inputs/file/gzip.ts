// gzip-compressed files (`app.log.1.gz`, kubelet's `0.log.<timestamp>.gz`). Offsets in a `.gz`
// count decompressed bytes. Two uses:
// - `shiplog backfill` reads every matched `.gz` to its end;
// - `shiplog run`: a checkpointed file rotated *and* gzipped while shiplog was stopped (or while
//   it was closed as inactive) is recognised by its decompressed content (the head the
//   checkpoint's fingerprint names, the bytes before its offset) and its unread rest is read
//   from the `.gz`, once. Compressed files are never tailed as plain files.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import type { SourceTracker } from '../../../core/acks.js';
import {
  devIno,
  hashBytes,
  isFilePosition,
  keyDevIno,
  birthNonce,
  readAt,
  sourceKey,
  TAIL_BYTES,
  type FilePosition,
} from './identity.js';
import { notRegular, openForRead } from './open.js';
import { FileOpening } from './opening.js';
import type { Dormant } from './state.js';
import { TailedFile } from './tailer.js';

export function isCompressed(p: string): boolean {
  return p.endsWith('.gz');
}

function gunzipStream(fd: number): NodeJS.ReadableStream & { destroy(): void } {
  return fs.createReadStream('', { fd, highWaterMark: 256 * 1024 }).pipe(createGunzip());
}

/**
 * The first `n` decompressed bytes of the gzip file `p` (fewer when it is shorter), or undefined
 * when it cannot be opened or is not gzip. Stops decompressing once it has them.
 */
export async function gunzipHead(p: string, n: number): Promise<Buffer | undefined> {
  let fd: number;
  try {
    fd = openForRead(p);
  } catch {
    return undefined;
  }
  const stream = gunzipStream(fd);
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parts.push(chunk);
      got += chunk.length;
      if (got >= n) break;
    }
  } catch {
    return undefined;
  } finally {
    stream.destroy();
  }
  const all = Buffer.concat(parts, got);
  return all.subarray(0, Math.min(n, got));
}

/** Does the gzip file `p` start with the bytes position `pos` fingerprints? */
export async function gzipHeadMatches(p: string, pos: FilePosition): Promise<boolean> {
  const head = await gunzipHead(p, pos.fl);
  return head !== undefined && head.length === pos.fl && hashBytes(head) === pos.fp;
}

/**
 * One decompressed chunk past the start offset: `chunk` at offset `base`, and `window` (at
 * `windowBase`) = up to TAIL_BYTES bytes before it followed by `chunk`, so a position's hash of
 * the bytes before its offset can be taken without reading back. False stops the stream.
 */
export type GzipChunkFn = (
  chunk: Buffer,
  base: number,
  window: Buffer,
  windowBase: number,
) => Promise<boolean>;

/**
 * Decompress the open gzip file `fd` (the stream owns and closes it), skip `from` bytes and hand
 * the rest to `onChunk`. With `expect` (a position at offset `from`), the bytes before `from`
 * must hash to its `th`, else nothing is handed on ('mismatch'); the head is the caller's to
 * check (gzipHeadMatches). 'stopped' when `onChunk` said so; throws on corrupt input.
 */
export async function streamGzip(
  fd: number,
  from: number,
  expect: FilePosition | undefined,
  onChunk: GzipChunkFn,
): Promise<'done' | 'stopped' | 'mismatch'> {
  const stream = gunzipStream(fd);
  let offset = 0;
  let prev = Buffer.alloc(0);
  let tailOk = !expect || expect.tl === 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const base = offset;
      offset += chunk.length;
      const window = prev.length > 0 ? Buffer.concat([prev, chunk]) : chunk;
      const windowBase = base - prev.length;
      prev = Buffer.from(window.subarray(Math.max(0, window.length - TAIL_BYTES)));
      if (!tailOk && expect && offset >= from) {
        const s = from - expect.tl - windowBase;
        if (s < 0 || hashBytes(window, s, s + expect.tl) !== expect.th) return 'mismatch';
        tailOk = true;
      }
      if (offset <= from) continue;
      const cut = Math.max(0, from - base);
      if (!(await onChunk(chunk.subarray(cut), base + cut, window, windowBase))) return 'stopped';
    }
  } finally {
    stream.destroy();
  }
  return offset < from || !tailOk ? 'mismatch' : 'done';
}

/**
 * Does the gzip file `p` hold the content position `pos` was saved for: the same head and the
 * same bytes before `pos.o`? Decompresses up to `pos.o`.
 */
export async function gzipHolds(p: string, pos: FilePosition): Promise<boolean> {
  if (!(await gzipHeadMatches(p, pos))) return false;
  let fd: number;
  try {
    fd = openForRead(p);
  } catch {
    return false;
  }
  try {
    return (await streamGzip(fd, pos.o, pos, async () => false)) !== 'mismatch';
  } catch {
    return false;
  }
}

/**
 * The `.gz` in the directory of `pos.p` that holds the file `pos` was saved for (rotated and
 * compressed while shiplog was stopped), newest first, skipping those `skip` rejects; undefined
 * when there is none. Not for a position saved while the file was empty (`fl` 0: any file would
 * do).
 */
export async function findGzipped(
  pos: FilePosition,
  skip: (st: fs.Stats) => boolean,
): Promise<{ path: string; st: fs.Stats } | undefined> {
  if (pos.fl === 0) return undefined;
  const dir = path.dirname(pos.p);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return undefined;
  }
  const files: Array<{ path: string; st: fs.Stats }> = [];
  for (const name of names) {
    if (!isCompressed(name)) continue;
    const p = path.join(dir, name);
    try {
      const st = await fsp.lstat(p);
      if (st.isFile() && !skip(st)) files.push({ path: p, st });
    } catch {
      continue;
    }
  }
  files.sort((a, b) => b.st.mtimeMs - a.st.mtimeMs);
  for (const f of files) if (await gzipHolds(f.path, pos)) return f;
  return undefined;
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

interface GzStart {
  key: string;
  tracker: SourceTracker;
  start: FilePosition;
  persisted: boolean;
}

/**
 * The input's part: .gz files to read (every matched one in backfill; in `run`, the rests of
 * rotated files found compressed) and reading one through the same delivery as the read loop.
 */
export abstract class FileGzip extends FileOpening {
  /** .gz files to read: every matched one in backfill; in `run`, rests of rotated files. */
  protected readonly gzJobs: GzJob[] = [];
  /** Trackers of resumed .gz checkpoints (restored at start; backfill), by source key. */
  protected readonly gzTrackers = new Map<string, SourceTracker>();

  protected gzBusy(st: fs.Stats): boolean {
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
  protected async gzipRest(pos: FilePosition): Promise<boolean> {
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
  protected resumeGzip(p: string, st: fs.Stats, list: Dormant[]): void {
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
  protected async readGzip(job: GzJob): Promise<void> {
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

  protected async gzResume(job: GzJob, p: string): Promise<GzStart | undefined> {
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
  protected async gzBackfill(p: string, st: fs.Stats, fd: number): Promise<GzStart | undefined> {
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
