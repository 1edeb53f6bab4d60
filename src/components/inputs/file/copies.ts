// copytruncate and the end of a file's life. A file smaller than the read position was truncated:
// the lines between our position and the truncation are in the copy, found in the directory by
// its head and the bytes before our offset (findCopy) or already open as a shadow (a copy seen
// while its original is tailed, not read twice); the file is read again from 0 under a new
// identity. A new short file that starts like a live one is held until it tells whether it is a
// copy `cp` is still writing (mayBeCopy, stillPendingCopy). Files are closed when drained
// (finish), idle (closeInactive) or failing (fail).

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { devIno, hashBytes, readAt, verifyPosition, type FilePosition } from './identity.js';
import { openForRead } from './open.js';
import { TailedFile } from './tailer.js';
import { FileInputState } from './state.js';

/** How long a short file that starts like a live one is held if it neither grows nor tells. */
const PENDING_COPY_MS = 5_000;

export abstract class FileCopies extends FileInputState {
  protected async truncated(f: TailedFile): Promise<void> {
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
  protected async findCopy(file: string, pos: FilePosition): Promise<boolean> {
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
  protected releaseShadow(c: TailedFile, pos: FilePosition | undefined): boolean {
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

  protected releaseShadowsOf(f: TailedFile): void {
    for (const c of this.open.values()) if (c.shadowOf === f) this.releaseShadow(c, undefined);
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
  protected mayBeCopy(fd: number, size: number, p: string): boolean {
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
  protected stillPendingCopy(f: TailedFile): boolean {
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
  protected copyOf(fd: number, size: number, p: string): TailedFile | undefined {
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

  /** Done with a file for good (drained after rotation/deletion, or end of a backfill). */
  protected finish(f: TailedFile): void {
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

  protected closeInactive(f: TailedFile, st: fs.Stats): void {
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

  protected fail(f: TailedFile, reason: string, err: NodeJS.ErrnoException): void {
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
}
