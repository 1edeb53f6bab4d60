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
import { hashBytes, TAIL_BYTES, type FilePosition } from './identity.js';
import { openForRead } from './open.js';

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
