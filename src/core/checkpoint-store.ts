// Checkpoints on disk: one JSON file under data_dir, rewritten atomically (temp file, fsync,
// rename, fsync of the directory) at an interval and at shutdown, so a crash at any moment
// leaves either the previous or the next complete file, never a torn one.

import { promises as fsp, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../telemetry/logger.js';

interface FileShape {
  version: 1;
  checkpoints: Record<string, unknown>;
}

export class CheckpointStore {
  private data = new Map<string, unknown>();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  /** False after a failed write, until a write succeeds again (reported on /readyz). */
  healthy = true;
  lastError: string | undefined;
  private readonly syncs = new Set<() => Promise<void>>();

  constructor(
    readonly file: string,
    private readonly log: Logger,
    private readonly intervalMs = 1000,
  ) {}

  /** Load synchronously at start-up. A corrupt file is set aside, never silently trusted. */
  async load(): Promise<void> {
    mkdirSync(path.dirname(this.file), { recursive: true });
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      const parsed = JSON.parse(text) as FileShape;
      if (parsed.version !== 1 || typeof parsed.checkpoints !== 'object')
        throw new Error('unknown format');
      for (const [k, v] of Object.entries(parsed.checkpoints)) this.data.set(k, v);
    } catch (e) {
      const aside = `${this.file}.corrupt-${Date.now()}`;
      await fsp.rename(this.file, aside).catch(() => undefined);
      this.log.error('checkpoint file unreadable; set aside, sources start fresh', {
        file: this.file,
        moved_to: aside,
        error: (e as Error).message,
      });
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
    this.dirty = true;
  }

  delete(key: string): void {
    if (this.data.delete(key)) this.dirty = true;
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
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Write if anything changed. Failures are logged and retried at the next interval. */
  async flush(): Promise<void> {
    // Loop: another flush may have started a newer write while we waited for the previous one.
    while (this.writing) await this.writing;
    if (!this.dirty) return;
    this.dirty = false;
    const snapshot: FileShape = { version: 1, checkpoints: Object.fromEntries(this.data) };
    const text = JSON.stringify(snapshot);
    this.writing = Promise.all([...this.syncs].map((fn) => fn()))
      .then(() => this.writeAtomic(text))
      .then(() => {
        if (!this.healthy) this.log.info('checkpoint writes recovered', { file: this.file });
        this.healthy = true;
        this.lastError = undefined;
      })
      .catch((e: Error) => {
        this.dirty = true;
        this.healthy = false;
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

  private async writeAtomic(text: string): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o640);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.file);
    const dir = await fsp.open(path.dirname(this.file), 'r').catch(() => undefined);
    if (dir) {
      await dir.sync().catch(() => undefined);
      await dir.close();
    }
  }
}
