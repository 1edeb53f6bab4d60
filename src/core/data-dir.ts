// data_dir: created 0700, refused when another user owns it or group/others may write to it (a
// symlink planted there would make shiplog, often root, overwrite another file), and locked by
// one process at a time (`shiplog.lock`: two processes on one data_dir both ship everything).
//
// The lock file holds the holder's pid and its process start time (/proc/<pid>/stat field 22),
// created with O_EXCL. A lock whose pid is not running, or runs a process started at another
// time (the pid was reused after a kill), is stale and taken over. No time-based staleness: a
// holder that is alive holds the lock however long it has not touched it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './errors.js';

export const LOCK_FILE = 'shiplog.lock';

/** Create `dir` (0700) if missing; throw when its owner or mode makes it unsafe to write in. */
export function ensureDataDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw unsafe(dir, 'is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw unsafe(dir, `is owned by uid ${st.uid}, not by this process (uid ${uid})`);
  if ((st.mode & 0o022) !== 0)
    throw unsafe(
      dir,
      `is writable by ${st.mode & 0o020 ? 'group' : ''}${(st.mode & 0o022) === 0o022 ? ' and ' : ''}${st.mode & 0o002 ? 'others' : ''} (mode ${(st.mode & 0o7777).toString(8)}); run chmod 700 on it`,
    );
}

/** Exit 78 (EX_CONFIG): the data_dir setting (or the directory it names) must change. */
function unsafe(dir: string, why: string): ConfigError {
  return new ConfigError([
    {
      code: 'SHIPLOG_START_FAILED',
      path: 'service.data_dir',
      message: `${dir} ${why}: another user could plant files there that shiplog would write through`,
    },
  ]);
}

interface Holder {
  pid: number;
  start: string;
}

/** The start time of process `pid` in clock ticks since boot (/proc), or undefined. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count from its closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22
  } catch {
    return undefined;
  }
}

function alive(h: Holder): boolean {
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(h.pid);
  // No /proc: a live pid is taken for the holder.
  return start === undefined || h.start === '' || start === h.start;
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof h.pid !== 'number') return undefined;
    return { pid: h.pid, start: typeof h.start === 'string' ? h.start : '' };
  } catch {
    return undefined;
  }
}

/** Exit 78 (EX_CONFIG), naming the holder. */
export class DataDirInUse extends ConfigError {
  constructor(
    readonly dir: string,
    readonly holder: number,
  ) {
    super([
      {
        code: 'SHIPLOG_START_FAILED',
        path: 'service.data_dir',
        message: `${dir} is in use by another shiplog process (pid ${holder}, lock ${path.join(dir, LOCK_FILE)}); two processes must not share a data_dir`,
      },
    ]);
    this.name = 'DataDirInUse';
  }
}

/** The lock on one data_dir, held by this process until release(). */
export class DataDirLock {
  private readonly me: Holder;
  private held = false;

  constructor(readonly dir: string) {
    this.me = { pid: process.pid, start: processStart(process.pid) ?? '' };
  }

  get file(): string {
    return path.join(this.dir, LOCK_FILE);
  }

  /** Take the lock, or throw DataDirInUse naming the live holder. Stale locks are taken over. */
  acquire(): void {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        this.create();
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const h = readHolder(this.file);
      if (h && h.pid === this.me.pid && h.start === this.me.start) {
        this.held = true;
        return;
      }
      if (h && alive(h)) throw new DataDirInUse(this.dir, h.pid);
      // Stale (holder gone or pid reused), or torn (a kill while it was written): take over.
      // Unlinking a planted symlink removes the link, never its target.
      try {
        fs.unlinkSync(this.file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    throw new Error(`could not take the lock ${this.file}`);
  }

  /** Write the lock again if it is gone (data_dir deleted and recreated while running). */
  restore(): void {
    if (!this.held) return;
    try {
      this.create();
    } catch {
      // EEXIST: still there. Anything else: the next recreate tries again.
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    const h = readHolder(this.file);
    if (h && h.pid === this.me.pid && h.start === this.me.start) {
      try {
        fs.unlinkSync(this.file);
      } catch {
        // gone already
      }
    }
  }

  private create(): void {
    const fd = fs.openSync(
      this.file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o600,
    );
    try {
      fs.writeSync(fd, JSON.stringify(this.me) + '\n');
    } finally {
      fs.closeSync(fd);
    }
  }
}
