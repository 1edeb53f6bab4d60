// Checkpoints on disk: one JSON file under data_dir, rewritten atomically (temp file, fsync,
// rename, fsync of the directory) at an interval and at shutdown, so a crash at any moment
// leaves either the previous or the next complete file, never a torn one. The version it
// replaces is kept as `checkpoints.json.prev` (a hard link: no extra data blocks), the fallback
// when the file is found zeroed or corrupt. The temp file is created O_EXCL|O_NOFOLLOW (a
// symlink planted in data_dir is never written through). A data_dir deleted while running is
// created again (0700) at the next write.
//
// Between those writes, every change is also written within a few milliseconds (one write at a
// time, at least LIVE_GAP_MS apart, more with many entries) to the live checkpoint
// (checkpoint-live.ts): no fsync, valid only in the same boot. A process crash (SIGKILL, OOM
// kill) then re-reads what was read since the last commit, not a whole checkpoint interval; after
// a reboot the fsynced file applies. Both carry the store's generation (a count of changes); load
// takes the newer.

import { constants as fsc, promises as fsp, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../telemetry/logger.js';
import { LiveCheckpoints, currentBootId } from './checkpoint-live.js';

interface FileShape {
  version: 1;
  /** The generation the snapshot was taken at (absent in files of older versions: 0). */
  gen?: number;
  checkpoints: Record<string, unknown>;
}

/** Least time between the starts of two live checkpoint writes (ms). */
export const LIVE_GAP_MS = 10;

export interface CheckpointStoreOptions {
  /** Write the live checkpoint (default: when the boot id can be read, i.e. on Linux). */
  live?: boolean;
}

export class CheckpointStore {
  private data = new Map<string, unknown>();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** Directory fsyncs after renames, awaited at stop. */
  private readonly dirSyncs = new Set<Promise<void>>();
  /** False after a failed write, until a write succeeds again (reported on /readyz). */
  healthy = true;
  lastError: string | undefined;
  private readonly syncs = new Set<() => Promise<void>>();
  /** Called for every failed write attempt (shiplog_checkpoint_write_failures_total). */
  onWriteFailure: (() => void) | undefined;
  /** Called after data_dir was found gone and created again (the daemon rewrites its lock). */
  onDirRecreated: (() => void) | undefined;
  /** Changes so far (persisted in both files: the newer of the two is loaded). */
  private gen = 0;
  private readonly live: LiveCheckpoints | undefined;
  /** Generation the last live write carried. */
  private liveGen = 0;
  private liveTimer: NodeJS.Timeout | undefined;
  private liveWriting: Promise<void> | undefined;
  private liveLast = 0;
  private liveGap = LIVE_GAP_MS;
  private liveFailed = false;
  private started = false;

  constructor(
    readonly file: string,
    private readonly log: Logger,
    private readonly intervalMs = 1000,
    opts: CheckpointStoreOptions = {},
  ) {
    const boot = opts.live === false ? undefined : currentBootId();
    if (boot !== undefined) this.live = new LiveCheckpoints(file, boot);
  }

  get prevFile(): string {
    return `${this.file}.prev`;
  }

  /**
   * Load at start-up. A corrupt file (zeroed by a crash of the filesystem, truncated, edited) is
   * set aside, never silently trusted, and the previous good version (`.prev`) is loaded
   * instead: its positions are at most one checkpoint interval older, so what was delivered
   * since is read again (duplicates), not skipped. Only with neither do sources start fresh.
   */
  async load(): Promise<void> {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const main = await this.readShape(this.file);
    if (main.ok) {
      this.fill(main.shape);
      await this.loadLive(main.shape.gen ?? 0);
      return;
    }
    let aside: string | undefined;
    if (main.error !== undefined) {
      aside = `${this.file}.corrupt-${Date.now()}`;
      await fsp.rename(this.file, aside).catch(() => undefined);
    }
    const prev = await this.readShape(this.prevFile);
    if (prev.ok) {
      this.fill(prev.shape);
      this.dirty = true; // written again as checkpoints.json at the first flush
      await this.loadLive(prev.shape.gen ?? 0);
      if (main.error !== undefined)
        this.log.error('checkpoint file unreadable; set aside, the previous one loaded', {
          file: this.file,
          moved_to: aside,
          error: main.error,
          loaded: this.prevFile,
        });
      return;
    }
    // No checkpoints file at all (first start, or deleted to start over): a live copy cannot
    // follow it. Its generations are passed, so it is never taken for newer later.
    const stale = await this.live?.load();
    if (stale) this.gen = stale.gen;
    await this.live?.remove();
    if (main.error !== undefined)
      this.log.error(
        'checkpoint file unreadable and no previous one; set aside, ALL SOURCES START FRESH (read_from applies: lines may be read twice or skipped)',
        {
          file: this.file,
          moved_to: aside,
          error: main.error,
          previous: prev.error ?? 'none',
        },
      );
  }

  private fill(shape: FileShape): void {
    for (const [k, v] of Object.entries(shape.checkpoints)) this.data.set(k, v);
    this.gen = Math.max(this.gen, shape.gen ?? 0);
  }

  /** Take the live checkpoint instead of the file's when it is newer (same boot only). */
  private async loadLive(fileGen: number): Promise<void> {
    const snap = await this.live?.load();
    if (!snap) return;
    this.gen = Math.max(this.gen, snap.gen);
    this.liveGen = snap.gen;
    if (snap.gen <= fileGen) return;
    this.data.clear();
    for (const [k, v] of Object.entries(snap.checkpoints)) this.data.set(k, v);
    this.dirty = true;
    this.log.info('checkpoints: the live checkpoint is newer (same boot); resuming from it', {
      file: this.live!.slotFile(0).replace(/\.0$/, '.*'),
      changes_after_file: snap.gen - fileGen,
    });
  }

  /** A checkpoint file parsed; `error` undefined and not ok: there is none. */
  private async readShape(
    file: string,
  ): Promise<{ ok: true; shape: FileShape } | { ok: false; error?: string }> {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false };
      throw e;
    }
    try {
      const parsed = JSON.parse(text) as FileShape;
      if (
        parsed === null ||
        parsed.version !== 1 ||
        typeof parsed.checkpoints !== 'object' ||
        parsed.checkpoints === null
      )
        throw new Error('unknown format');
      return { ok: true, shape: parsed };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  get(key: string): unknown {
    return this.data.get(key);
  }

  keys(): IterableIterator<string> {
    return this.data.keys();
  }

  set(key: string, value: unknown): void {
    this.data.set(key, value);
    this.changed();
  }

  delete(key: string): void {
    if (this.data.delete(key)) this.changed();
  }

  private changed(): void {
    this.dirty = true;
    this.gen++;
    this.scheduleLive();
  }

  /** A live write soon: at once when none ran for LIVE_GAP_MS, one at a time. */
  private scheduleLive(): void {
    if (!this.live || !this.started || this.liveTimer || this.liveWriting) return;
    const wait = Math.max(0, this.liveLast + this.liveGap - Date.now());
    this.liveTimer = setTimeout(() => {
      this.liveTimer = undefined;
      this.writeLive();
    }, wait);
    this.liveTimer.unref();
  }

  private writeLive(): void {
    const live = this.live;
    if (!live || this.gen === this.liveGen) return;
    const gen = this.gen;
    const t0 = performance.now();
    const json = JSON.stringify(Object.fromEntries(this.data));
    // Many entries (a large pods tree) make a snapshot costly: space the writes so that taking
    // them stays under 4% of a core.
    this.liveGap = Math.max(LIVE_GAP_MS, 25 * (performance.now() - t0));
    this.liveLast = Date.now();
    this.liveWriting = live
      .write(gen, json)
      .then(() => {
        this.liveGen = gen;
        if (this.liveFailed) this.log.info('live checkpoint writes recovered', {});
        this.liveFailed = false;
      })
      .catch((e: Error) => {
        // Only a crash's duplicates depend on it: the interval's file goes on.
        if (!this.liveFailed)
          this.log.warn('live checkpoint write failed; a crash re-reads one checkpoint interval', {
            file: live.slotFile(0),
            error: e.message,
          });
        this.liveFailed = true;
      })
      .finally(() => {
        this.liveWriting = undefined;
        if (this.gen !== this.liveGen) this.scheduleLive();
      });
  }

  /**
   * Run `fn` before every checkpoint write, after the snapshot is taken: the disk queues fsync
   * there, so a position written here is never ahead of queued data on stable storage.
   */
  addSync(fn: () => Promise<void>): () => void {
    this.syncs.add(fn);
    return () => this.syncs.delete(fn);
  }

  start(): void {
    if (this.timer) return;
    this.started = true;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
    if (this.gen !== this.liveGen) this.scheduleLive();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.started = false;
    if (this.liveTimer) clearTimeout(this.liveTimer);
    this.liveTimer = undefined;
    await this.liveWriting;
    // The file written now carries the newest generation: it is what the next start loads.
    await this.flush();
    await Promise.all(this.dirSyncs);
    await this.live?.reset();
  }

  /** Write if anything changed. Failures are logged and retried at the next interval. */
  async flush(): Promise<void> {
    // Loop: another flush may have started a newer write while we waited for the previous one.
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const snapshot: FileShape = {
      version: 1,
      gen: this.gen,
      checkpoints: Object.fromEntries(this.data),
    };
    const text = JSON.stringify(snapshot);
    // The queues' fdatasync runs while the temp file is written and synced: the rename waits for
    // both, so the file never names a position the queues could not replay after a power loss.
    const synced = Promise.all([...this.syncs].map((fn) => fn())).then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    this.writing = this.writeAtomic(text, synced)
      .then(() => {
        if (!this.healthy) this.log.info('checkpoint writes recovered', { file: this.file });
        this.healthy = true;
        this.lastError = undefined;
      })
      .catch((e: Error) => {
        this.dirty = true;
        this.healthy = false;
        this.onWriteFailure?.();
        this.lastError = e.message;
        this.log.error('checkpoint write failed; will retry', {
          file: this.file,
          error: e.message,
        });
      })
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
  }

  private async writeAtomic(text: string, synced: Promise<Error | undefined>): Promise<void> {
    const tmp = `${this.file}.tmp`;
    let fh: fsp.FileHandle;
    try {
      fh = await this.openTemp(tmp);
    } catch (e) {
      await synced;
      throw e;
    }
    try {
      await fh.writeFile(text);
      await fh.sync();
      const err = await synced;
      if (err) throw err;
    } catch (e) {
      await fh.close();
      await fsp.unlink(tmp).catch(() => undefined);
      await synced;
      throw e;
    }
    await fh.close();
    // Keep the version being replaced as .prev: a hard link (no data blocks of its own; on a
    // full disk it costs nothing). No file yet: nothing to keep.
    await fsp.unlink(this.prevFile).catch(() => undefined);
    await fsp.link(this.file, this.prevFile).catch(() => undefined);
    await fsp.rename(tmp, this.file);
    // The directory's fsync makes the rename survive a power loss. Until it is done the old file
    // stands (older positions: duplicates, never losses), so the next snapshot need not wait.
    const dirSync = (async () => {
      const dir = await fsp.open(path.dirname(this.file), 'r').catch(() => undefined);
      if (dir) {
        await dir.sync().catch(() => undefined);
        await dir.close().catch(() => undefined);
      }
    })();
    this.dirSyncs.add(dirSync);
    void dirSync.finally(() => this.dirSyncs.delete(dirSync));
  }

  /**
   * The temp file, created exclusively and never through a symlink. A stale one (a crash between
   * create and rename, or something planted) is removed first. data_dir gone (deleted while
   * running): created again, counted as a failed write, and the write goes on.
   */
  private async openTemp(tmp: string): Promise<fsp.FileHandle> {
    const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fsp.open(tmp, flags, 0o640);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (attempt >= 2) throw e;
        if (code === 'EEXIST' || code === 'ELOOP') {
          await fsp.unlink(tmp).catch(() => undefined);
        } else if (code === 'ENOENT') {
          this.onWriteFailure?.();
          this.log.error('data_dir is gone; creating it again', {
            dir: path.dirname(this.file),
          });
          await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
          await this.live?.reset();
          this.onDirRecreated?.();
        } else throw e;
      }
    }
  }
}
