// The disk queue's on-disk format (see queue.ts): segment files `<16-digit id>.seg` of frames
//
//   u32 LE length of the payload · u32 LE crc32 (of records, time and payload) ·
//   u32 LE records · f64 LE append time (ms) · payload
//
// and the pointer, the acknowledged prefix plus the frames acknowledged beyond it, each save
// numbered (`seq`): pointer.json (temp file, rename: at open, at an interval and at close) and
// two slot files written in place after acknowledgements, `pointer.live.0` and `.1` (one
// pwrite(2) each, alternately, so a crash mid-write leaves the other), each a header line
//
//   shiplog-queue-pointer 1 <JSON bytes> <crc32 of the JSON>\n{"segment":…,"seq":…}
//
// The valid one with the highest `seq` is loaded. Pure format code: writing, reading back and
// checking frames; reading and writing the pointer.

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { SlotPair, decodeSlot, encodeSlot } from './slot-pair.js';

export const HEADER = 20;
export const SUFFIX = '.seg';
/** Frames larger than this are refused (a corrupt length field must not allocate gigabytes). */
export const MAX_FRAME = 256 * 1024 * 1024;
/** Frames acknowledged beyond the prefix that pointer.json lists (the rest are resent). */
export const MAX_DONE = 4096;

export interface Pointer {
  segment: number;
  offset: number;
}

/** pointer.json: the acknowledged prefix and the frames acknowledged beyond it. */
export interface SavedPointer extends Pointer {
  /** [segment, offset] of frames after the prefix that are delivered (at most MAX_DONE). */
  done?: Array<[number, number]>;
  /** Saves so far: the highest valid one of pointer.json and the slots is loaded (absent: 0). */
  seq?: number;
}

const SLOT_MAGIC = 'shiplog-queue-pointer 1';

/** The pointer's two slot files (slot-pair.ts), `pointer.live.0` and `.1`. */
export function pointerSlots(dir: string): SlotPair {
  return new SlotPair(path.join(dir, 'pointer.live'));
}

export function encodePointerSlot(text: string): Buffer {
  return encodeSlot(SLOT_MAGIC, [], text);
}

/** A slot's JSON text, or undefined when it is torn or corrupt (bytes after it are ignored). */
export function decodePointerSlot(buf: Buffer): string | undefined {
  return decodeSlot(buf, SLOT_MAGIC, 0, 128)?.text;
}

export function segmentFile(dir: string, id: number): string {
  return path.join(dir, `${String(id).padStart(16, '0')}${SUFFIX}`);
}

/** Ids of the segment files in `dir`, oldest first. */
export async function segmentIds(dir: string): Promise<number[]> {
  return (await fsp.readdir(dir))
    .filter((f) => f.endsWith(SUFFIX) && /^\d+\.seg$/.test(f))
    .map((f) => Number(f.slice(0, -SUFFIX.length)))
    .sort((a, b) => a - b);
}

/** The header of a frame holding `payload`. */
export function frameHeader(
  payload: Buffer | readonly Buffer[],
  records: number,
  timeMs: number,
): Buffer {
  const parts = Buffer.isBuffer(payload) ? [payload] : payload;
  let length = 0;
  for (const p of parts) length += p.length;
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32LE(length, 0);
  header.writeUInt32LE(records, 8);
  header.writeDoubleLE(timeMs, 12);
  // The crc of the parts, chained, is the crc of their concatenation.
  let c = frameCrc(header, EMPTY);
  for (const p of parts) if (p.length > 0) c = crc32(p, c);
  header.writeUInt32LE(c, 4);
  return header;
}

const EMPTY = Buffer.alloc(0);

export interface LoadedPointer {
  pointer: Pointer;
  delivered: Set<string>;
  seq: number;
  /** The highest segment any readable save names (new segment ids go past it). */
  maxSegment: number;
}

/**
 * The saved pointer of `dir` (the newest of pointer.json and the slots): the prefix, and the
 * `"<segment>:<offset>"` keys of frames delivered beyond it. Undefined when there is none or all
 * are unreadable (the queue then replays from its oldest segment: duplicates, not losses).
 */
export async function readPointer(dir: string): Promise<LoadedPointer | undefined> {
  const texts: string[] = [];
  const json = await fsp.readFile(path.join(dir, 'pointer.json')).catch(() => undefined);
  if (json) texts.push(json.toString('utf8'));
  for (const b of await pointerSlots(dir).read()) {
    const t = b && decodePointerSlot(b);
    if (t !== undefined) texts.push(t);
  }
  let best: LoadedPointer | undefined;
  let maxSegment = 0;
  for (const t of texts) {
    const p = parsePointer(t);
    if (!p) continue;
    maxSegment = Math.max(maxSegment, p.pointer.segment);
    if (!best || p.seq > best.seq) best = p;
  }
  return best && { ...best, maxSegment };
}

function parsePointer(text: string): LoadedPointer | undefined {
  let p: SavedPointer;
  try {
    p = JSON.parse(text) as SavedPointer;
  } catch {
    return undefined;
  }
  const valid = (seg: unknown, off: unknown): boolean =>
    Number.isSafeInteger(seg) &&
    Number.isSafeInteger(off) &&
    (seg as number) >= 0 &&
    (off as number) >= 0;
  if (p === null || typeof p !== 'object' || !valid(p.segment, p.offset)) return undefined;
  const seq = Number.isSafeInteger(p.seq) && p.seq! >= 0 ? p.seq! : 0;
  const delivered = new Set<string>();
  for (const d of Array.isArray(p.done) ? p.done.slice(0, MAX_DONE) : []) {
    if (!Array.isArray(d) || !valid(d[0], d[1])) continue;
    const [seg, off] = d as [number, number];
    if (seg > p.segment || (seg === p.segment && off >= p.offset)) delivered.add(`${seg}:${off}`);
  }
  return { pointer: { segment: p.segment, offset: p.offset }, delivered, seq, maxSegment: 0 };
}

/** Write pointer.json atomically (temp file, rename). */
export async function writePointerFile(dir: string, text: string): Promise<void> {
  const file = path.join(dir, 'pointer.json');
  const tmp = `${file}.tmp`;
  await fsp.writeFile(tmp, text, { mode: 0o640 });
  await fsp.rename(tmp, file);
}

export interface FrameRead {
  ok: boolean;
  end: number;
  records: number;
  timeMs: number;
  reason: string;
  payload?: Buffer;
}

/** Read and check the frame at `off` (the payload is returned only with `withPayload`). */
export async function readFrame(
  fh: FileHandle,
  off: number,
  size: number,
  head: Buffer,
  withPayload = false,
): Promise<FrameRead> {
  const bad = (reason: string, end: number, records = 0): FrameRead => ({
    ok: false,
    end,
    records,
    timeMs: 0,
    reason,
  });
  if (size - off < HEADER) return bad('truncated header', size);
  const { bytesRead } = await fh.read(head, 0, HEADER, off);
  if (bytesRead < HEADER) return bad('truncated header', size);
  const len = head.readUInt32LE(0);
  const records = head.readUInt32LE(8);
  const end = off + HEADER + len;
  if (len > MAX_FRAME || end > size) return bad('length past the end of the segment', end, records);
  const payload = Buffer.allocUnsafe(len);
  if (len > 0) {
    const r = await fh.read(payload, 0, len, off + HEADER);
    if (r.bytesRead < len) return bad('truncated payload', end, records);
  }
  if (frameCrc(head, payload) !== head.readUInt32LE(4))
    return bad('checksum mismatch', end, records);
  return {
    ok: true,
    end,
    records,
    timeMs: head.readDoubleLE(12),
    reason: '',
    payload: withPayload ? payload : undefined,
  };
}

/** After a bad frame with a plausible length: is any later frame valid (corruption, not a torn tail)? */
export async function anyValidAfter(
  fh: FileHandle,
  frame: FrameRead,
  size: number,
  head: Buffer,
): Promise<boolean> {
  let off = frame.end;
  if (frame.reason !== 'checksum mismatch' || off >= size) return false;
  while (off < size) {
    const f = await readFrame(fh, off, size, head);
    if (f.ok) return true;
    if (f.end <= off || f.end > size) return false;
    off = f.end;
  }
  return false;
}

/** crc32 of records, time and payload (zlib returns 0 for a NULL buffer, whatever the seed). */
export function frameCrc(head: Buffer, payload: Buffer): number {
  const c = crc32(head.subarray(8, HEADER));
  return payload.length === 0 ? c : crc32(payload, c);
}

/**
 * Write `bufs` (`bytes` in all: whole frames) at `at`. On failure nothing partial is left behind
 * (the file is cut back to `at`): the next attempt rewrites the whole batch there.
 */
export async function writeFrames(
  fh: FileHandle,
  bufs: Buffer[],
  bytes: number,
  at: number,
): Promise<void> {
  let written = 0;
  try {
    while (written < bytes) {
      const { bytesWritten } = await fh.writev(
        written === 0 ? bufs : [Buffer.concat(bufs).subarray(written)],
        at + written,
      );
      if (bytesWritten === 0) throw new Error('write returned 0 bytes');
      written += bytesWritten;
    }
  } catch (e) {
    if (written > 0) await fh.truncate(at).catch(() => undefined);
    throw e;
  }
}

/** Append time of the frame at `off` (ms), or undefined when its header cannot be read. */
export async function frameTime(fh: FileHandle, off: number): Promise<number | undefined> {
  const head = Buffer.alloc(HEADER);
  try {
    const { bytesRead } = await fh.read(head, 0, HEADER, off);
    return bytesRead === HEADER ? head.readDoubleLE(12) : undefined;
  } catch {
    return undefined;
  }
}

/** fdatasync each handle; one closed meanwhile (EBADF: its segment was deleted) is passed. */
export async function datasyncAll(handles: Iterable<FileHandle>): Promise<void> {
  for (const fh of handles) {
    try {
      await fh.datasync();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBADF') throw e;
    }
  }
}
