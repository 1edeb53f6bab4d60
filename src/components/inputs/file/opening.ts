// Opening a file: safely (open.ts), within max_open_files (the slot held longest is given up:
// parkOne), and with its identity: a verified saved one of its inode (the one that got furthest),
// the position an atomically replaced file got to (replacedBy), or a new one; a copy of an open
// file is opened as its shadow. The saved positions the file does not hold any more are returned
// for the caller to look for their copies.

import * as fs from 'node:fs';
import {
  devIno,
  readAt,
  sameBirth,
  TAIL_BYTES,
  verifyPosition,
  type FilePosition,
} from './identity.js';
import { notRegular, openForRead } from './open.js';
import { TailedFile } from './tailer.js';
import { FileCopies } from './copies.js';
import type { Dormant } from './state.js';

export abstract class FileOpening extends FileCopies {
  protected deferredLogged = false;
  /**
   * Never plan on more descriptors than the process may open: past the soft RLIMIT_NOFILE every
   * open, readdir and socket fails with EMFILE. Keep a quarter (at least 32) for the rest.
   */
  protected readonly maxOpen: number = maxOpenFiles(this.cfg.max_open_files);

  /**
   * max_open_files reached and a file wants a slot: close the file that has held its slot longest
   * (at least one scan interval; not one being drained after a rotation, not one holding a
   * partial line or a multiline record) into a dormant identity at its read position. It is
   * reopened, verified and read on when a scan finds it grown (or unread), or found by identity
   * if it is rotated meanwhile: slots rotate among busy files instead of waiting for
   * close_inactive, and every matched file gets an identity (and a checkpoint) soon after it
   * appears. False when no file can give up its slot now.
   */
  protected parkOne(): boolean {
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

  /**
   * Open a file and give it its identity: a verified saved one among `candidates` (the saved
   * identities of its inode), or a new one. Returns the saved positions of this inode that the
   * file does not hold any more (truncated, copytruncate, while shiplog was stopped or the file
   * closed), lowest first: the caller looks for each one's copy (findCopy). Their entries are
   * retired, not forgotten, so they stay on disk until the copies have entries of their own.
   */
  protected openFile(
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
  protected previousAt(p: string, di: string): TailedFile | undefined {
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

function maxOpenFiles(configured: number): number {
  const soft = softFdLimit();
  return soft === undefined
    ? configured
    : Math.max(1, Math.min(configured, soft - Math.max(32, Math.floor(soft / 4))));
}
