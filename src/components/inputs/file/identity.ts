// File identity and checkpoint verification. A file is (device, inode) plus a hash of its first
// bytes; a checkpoint also carries a hash of the bytes just before its offset. A saved position
// is trusted only when both hashes still match the file on disk: an inode reused by another file,
// or a file rewritten in place, is read from its start instead of from a stranger's offset.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

/** Bytes before the offset hashed into a checkpoint. */
export const TAIL_BYTES = 64;

/** A committed position as stored in the checkpoint file (short keys: one per file). */
export interface FilePosition {
  /** Byte offset after the last line delivered. */
  o: number;
  /** Fingerprint: hash of the first `fl` bytes. */
  fp: string;
  fl: number;
  /** Hash of the `tl` bytes before `o`. */
  th: string;
  tl: number;
  /** Path the file had when this position was saved (finding it after a rotation). */
  p: string;
}

export function hashBytes(buf: Buffer, start = 0, end = buf.length): string {
  return createHash('sha1').update(buf.subarray(start, end)).digest('hex').slice(0, 16);
}

export function devIno(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/** Checkpoint key of a file identity: `<dev>:<ino>:<fingerprint>`. */
export function sourceKey(dev: number, ino: number, fp: string): string {
  return `${dev}:${ino}:${fp}`;
}

/** `dev:ino` of a checkpoint key, or undefined for a key this input did not write. */
export function keyDevIno(key: string): string | undefined {
  const m = /^(\d+):(\d+):[0-9a-f]+$/.exec(key);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

export function isFilePosition(v: unknown): v is FilePosition {
  if (v === null || typeof v !== 'object') return false;
  const p = v as Record<string, unknown>;
  return (
    typeof p.o === 'number' &&
    typeof p.fp === 'string' &&
    typeof p.fl === 'number' &&
    typeof p.th === 'string' &&
    typeof p.tl === 'number' &&
    typeof p.p === 'string'
  );
}

/** pread that returns the bytes actually read (short at EOF). */
export function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * Does the open file `fd` (of `size` bytes) hold the same content the position was saved for?
 * Two small reads; sync because they hit the page cache and happen once per file open.
 */
export function verifyPosition(fd: number, size: number, pos: FilePosition): boolean {
  if (pos.o > size || pos.fl > size || pos.tl > pos.o) return false;
  if (hashBytes(readAt(fd, 0, pos.fl)) !== pos.fp) return false;
  if (pos.tl > 0 && hashBytes(readAt(fd, pos.o - pos.tl, pos.tl)) !== pos.th) return false;
  return true;
}
