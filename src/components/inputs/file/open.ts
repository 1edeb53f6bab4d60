// Opening a tailed file without giving a log producer a handle on the process: O_NONBLOCK (a
// FIFO swapped in between stat and open must not block the main thread in open(2)), O_NOFOLLOW
// unless symlinks are followed on purpose (a `.log` symlink to a secret is not read), and only
// regular files (fstat after open: what was stat-ed is not necessarily what was opened).

import * as fs from 'node:fs';

const BASE = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/** Open `p` for reading; throws ELOOP for a symlink unless `follow`. */
export function openForRead(p: string, follow = false): number {
  return fs.openSync(p, follow ? BASE : BASE | fs.constants.O_NOFOLLOW);
}

/** An error for an opened descriptor that is not a regular file (the caller closes it). */
export function notRegular(p: string, st: fs.Stats): NodeJS.ErrnoException | undefined {
  if (st.isFile()) return undefined;
  const e: NodeJS.ErrnoException = new Error(`${p} is not a regular file; not read`);
  e.code = 'ENOTREG';
  return e;
}

/** Is `real` (a resolved path) inside the directory `base` (also resolved)? */
export function isUnder(real: string, base: string): boolean {
  const b = base.endsWith('/') ? base : `${base}/`;
  return real.startsWith(b);
}
