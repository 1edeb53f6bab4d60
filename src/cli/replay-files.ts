// The dead-letter files a replay works on, in `data_dir/dead_letter/`: an id's live and rotated
// files (`<id>.ndjson`, `.ndjson.1..3`), and the claim a replay makes by renaming them, oldest
// first, to `<id>.replay`, `<id>.replay-2`, ... (an interrupted replay's claim is finished first).

import { promises as fsp, existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { ShiplogConfig } from '../config/schema.js';

export function deadLetterDir(config: ShiplogConfig): string {
  return path.join(config.service.data_dir, 'dead_letter');
}

/** Ids with dead letters waiting (live file or an interrupted replay). */
export function idsWithDeadLetters(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const ids = new Set<string>();
  for (const n of names) {
    const m = /^(.+)\.(ndjson(\.\d+)?|replay(-\d+)?)$/.exec(n);
    if (m && !m[1].endsWith('.unreadable')) ids.add(m[1]);
  }
  return [...ids].sort();
}

/** Dead-letter files of an id, oldest first: the rotated ones (`.ndjson.3` .. `.1`), then the live one. */
export function sources(dir: string, id: string): string[] {
  const live = path.join(dir, `${id}.ndjson`);
  return [`${live}.3`, `${live}.2`, `${live}.1`, live].filter((f) => existsSync(f));
}

/** Files a replay claimed and has not finished. */
export function claimedFiles(dir: string, id: string): string[] {
  const first = path.join(dir, `${id}.replay`);
  return [first, ...[2, 3, 4, 5].map((k) => `${first}-${k}`)].filter((f) => existsSync(f));
}

/**
 * Claim an id's dead-letter files by renaming them (oldest first) to `<id>.replay`,
 * `<id>.replay-2`, ...; unless an interrupted replay's claim is still there (finished first).
 */
export async function claim(dir: string, id: string): Promise<void> {
  if (claimedFiles(dir, id).length > 0) return;
  const first = path.join(dir, `${id}.replay`);
  let k = 1;
  for (const src of sources(dir, id)) {
    try {
      await fsp.rename(src, k === 1 ? first : `${first}-${k}`);
      k++;
    } catch (e) {
      // The daemon rotated it meanwhile: it stays for the next replay.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  // A daemon that opened the live file just before the rename may still be appending to it.
  if (k > 1) await new Promise((r) => setTimeout(r, 250));
}

/** `<id>.replay` is done: the next claimed file takes its name. */
export async function promoteNext(dir: string, id: string): Promise<void> {
  const first = path.join(dir, `${id}.replay`);
  for (const k of [2, 3, 4, 5]) {
    const f = `${first}-${k}`;
    if (existsSync(f)) {
      await fsp.rename(f, first);
      return;
    }
  }
}
