// Discovery: the globs walked at start, on directory watch events (inotify) and every
// scan_interval; each matched regular file opened (or, known, left alone); files no longer at a
// matched path detached and drained; saved identities not seen looked for under another name in
// their directory (rotated while closed or stopped), else compressed (.gz); at start, files
// created and rotated away entirely while shiplog was stopped read from their start.

import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { devIno, type FilePosition } from './identity.js';
import { isUnder } from './open.js';
import { compileExclude, compileGlob, walkGlob, type CompiledGlob } from './glob.js';
import { FileGzip, isCompressed } from './gzip.js';
import { rotatedSiblings } from './rotated.js';
import type { Dormant } from './state.js';

const MAX_WATCHED_DIRS = 4096;

export abstract class FileDiscovery extends FileGzip {
  protected readonly globs: CompiledGlob[] = this.cfg.paths.map((p) => compileGlob(p));
  protected readonly excluded: (p: string) => boolean = compileExclude(this.cfg.exclude);
  protected readonly watchers = new Map<string, fs.FSWatcher>();
  protected firstScanDone = false;
  /** mtime of the checkpoint file at start when this input had saved entries, else undefined. */
  protected lastCheckpointMs: number | undefined;
  protected async scan(): Promise<void> {
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
  protected async readRotatedWhileStopped(paths: Set<string>): Promise<void> {
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

  protected realBases: string[] | undefined;
  /**
   * The resolved target of a symlink the globs matched, when it may be read: follow_symlinks is
   * on and the target is under the (resolved) base directory of one of the globs. Else skipped,
   * counted (`reason="symlink"`) and logged once.
   */
  protected async symlinkTarget(p: string): Promise<string | undefined> {
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
  protected async findMoved(di: string, list: Dormant[]): Promise<void> {
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
  protected async findRest(file: string, pos: FilePosition): Promise<void> {
    if (await this.findCopy(file, pos)) return;
    if (!this.ctx.oneShot && !isCompressed(pos.p)) await this.gzipRest(pos);
  }

  protected watchDir(dir: string): void {
    if (this.watchers.has(dir) || this.watchers.size >= MAX_WATCHED_DIRS || this.aborted) return;
    try {
      const w = fs.watch(dir, { persistent: false }, (event, name) => {
        if (event === 'rename' || !name) {
          this.scanRequested = true;
        } else {
          const f = this.byPath.get(path.join(dir, name.toString()));
          if (f) f.dirty = f.touched = true;
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
}
