// Rotated siblings of a tailed path, for files created and rotated away entirely while shiplog
// was stopped (`app.log` → `app.log.1` → `app.log.2` between two runs): such a file was never
// seen, so no checkpoint names it and the glob (`app.log`) does not match it any more. At start,
// the siblings of each matched path born after the last checkpoint write (statx birth time; a
// rename keeps it) are read from their start, oldest rotation first.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** `app.log.1`, `app.log-20261201`, `app.log.2026-12-01T10`, … — never `.gz` (compressed). */
export function rotationSuffix(base: string, name: string): string | undefined {
  if (!name.startsWith(base) || name.length === base.length) return undefined;
  const rest = name.slice(base.length);
  if (
    rest.endsWith('.gz') ||
    rest.endsWith('.zst') ||
    rest.endsWith('.bz2') ||
    rest.endsWith('.xz')
  )
    return undefined;
  if (/^\.\d{1,4}$/.test(rest)) return rest;
  if (/^[-._]\d{8}[-_T0-9:]*$/.test(rest) || /^[-._]\d{4}-\d{2}-\d{2}[-_T0-9:.]*$/.test(rest))
    return rest;
  return undefined;
}

export interface Sibling {
  path: string;
  dev: number;
  ino: number;
  birthMs: number;
}

/**
 * Regular-file siblings of `file` that look rotated and were born after `sinceMs`, in rotation
 * order (oldest first: the highest number first; dated names in ascending order). Files whose
 * filesystem reports no birth time are not returned (their age cannot be told from a rename).
 */
export async function rotatedSiblings(file: string, sinceMs: number): Promise<Sibling[]> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const found: Array<Sibling & { suffix: string }> = [];
  for (const name of names) {
    const suffix = rotationSuffix(base, name);
    if (suffix === undefined) continue;
    const p = path.join(dir, name);
    try {
      const st = await fsp.lstat(p);
      if (!st.isFile() || !(st.birthtimeMs > sinceMs)) continue;
      found.push({ path: p, dev: st.dev, ino: st.ino, birthMs: st.birthtimeMs, suffix });
    } catch {
      continue;
    }
  }
  found.sort((a, b) => {
    const na = /^\.(\d+)$/.exec(a.suffix);
    const nb = /^\.(\d+)$/.exec(b.suffix);
    if (na && nb) return Number(nb[1]) - Number(na[1]);
    return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
  });
  return found.map(({ suffix: _s, ...rest }) => rest);
}
