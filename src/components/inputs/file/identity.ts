// File identity and checkpoint verification. A file is (device, inode) plus a hash of its first
// bytes; a checkpoint also carries a hash of the bytes just before its offset. A saved position
// is trusted only when both hashes still match the file on disk: an inode reused by another file,
// or a file rewritten in place, is read from its start instead of from a stranger's offset.

import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';

// node:crypto through require(): an ESM import of it also loads WebCrypto (issue #22).
const { createHash, randomBytes } = createRequire(import.meta.url)('node:crypto') as typeof Crypto;

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
  /**
   * Birth time (statx btime, ms) of the file the position was saved for; absent where the
   * filesystem does not report one (Node gives 0). A file whose birth time differs is another
   * incarnation (deleted and recreated with a reused inode), whatever its bytes say.
   */
  b?: number;
}

export function hashBytes(buf: Buffer, start = 0, end = buf.length): string {
  return createHash('sha1').update(buf.subarray(start, end)).digest('hex').slice(0, 16);
}

export function devIno(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * Checkpoint key of a file identity: `<dev>:<ino>:<fingerprint>.<nonce>`. The nonce is random,
 * drawn once per incarnation (a file opened without a matching checkpoint, or read again from 0
 * after a truncation) and kept in the key from then on: record ids (`<key>:<offset>`, the
 * Elasticsearch `_id`) of two incarnations never collide, even when an inode is reused for a file
 * with the same head. It is saved to the checkpoint store before any record of the incarnation
 * is sent, so a re-read after a kill reuses it (and the ids).
 */
export function sourceKey(dev: number, ino: number, fp: string, nonce = newNonce()): string {
  return `${dev}:${ino}:${fp}.${nonce}`;
}

/**
 * The nonce of a file's first incarnation where its birth time is known: derived from it, so the
 * same on every re-read (no write needed before use), different for a file recreated with the
 * same inode (another birth time).
 */
export function birthNonce(birthMs: number): string {
  return createHash('sha1').update(`btime:${birthMs}`).digest('hex').slice(0, 8);
}

/** A fresh per-incarnation nonce (8 hex digits). */
export function newNonce(): string {
  return randomBytes(4).toString('hex');
}

/**
 * `dev:ino` of a checkpoint key, or undefined for a key this input did not write. Keys saved
 * before nonces existed (`<dev>:<ino>:<fp>`) still load.
 */
export function keyDevIno(key: string): string | undefined {
  const m = /^(\d+):(\d+):[0-9a-f]+(?:\.[0-9a-f]+)?$/.exec(key);
  return m ? `${m[1]}:${m[2]}` : undefined;
}

/**
 * Was the position saved for a file born at `birthMs` (statx btime)? True when either side does
 * not know its birth time (filesystems without btime, positions saved before it was recorded).
 */
export function sameBirth(pos: FilePosition, birthMs: number): boolean {
  if (!pos.b || !birthMs) return true;
  return Math.abs(pos.b - birthMs) < 0.001;
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
