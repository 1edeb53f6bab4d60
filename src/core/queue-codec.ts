// What a disk-queue frame holds for an output: the chunk's tags (for dead letters), the output's
// encoding of its sealed chunk (ChunkCodec: metadata as JSON, bytes as they are), or, for an
// output that does not seal, its records. Layout of a payload:
//
//   u32 LE header length · header JSON { tags: [[tag, count]…], meta, lens: [n…], z? } · part bytes…
//
// `z: 1`: every part is raw-deflated (level 1). The sender and the queued output write frames so
// while their queue is behind (DiskQueue.behind): an outage's backlog takes 4-7 times less disk
// (Elasticsearch `_bulk` bodies, record lines), while a queue that keeps up pays nothing.

import { promisify } from 'node:util';
import { deflateRaw, inflateRawSync } from 'node:zlib';
import { recordJson, type LogRecord } from './record.js';
import type { Sealed } from './sender.js';

const deflateRawAsync = promisify(deflateRaw);
/** No frame part inflates past this: the largest frame the queue takes (queue.ts MAX_FRAME). */
const MAX_INFLATED = 256 << 20;

/** How an output's sealed chunk is stored in its disk queue and read back after a restart. */
export interface ChunkCodec {
  encode(sealed: Sealed): { meta: unknown; parts: Buffer[] };
  /** Throws when the bytes do not decode (the frame is then dead-lettered as corrupt). */
  decode(meta: unknown, parts: Buffer[]): Sealed;
  /** The parts compress (plain text such as a `_bulk` body); false when already compressed. */
  compressible?: boolean;
}

export interface FrameContent {
  tags: Array<[string, number]>;
  meta: unknown;
  parts: Buffer[];
}

export function encodeFrame(content: FrameContent, deflated = false): Buffer {
  return Buffer.concat(frameParts(content, deflated));
}

/**
 * The frame as the parts whose concatenation encodeFrame returns: its header (length and JSON),
 * then the content's parts as they are. The disk queue writes them with one writev and hands
 * them to its reader without joining them: a chunk's body (hundreds of KiB) is not copied into
 * a fresh buffer, whose page faults cost more than the copy (issue #22).
 */
export function frameParts(content: FrameContent, deflated = false): Buffer[] {
  const lens = content.parts.map((p) => p.length);
  const h = deflated
    ? { tags: content.tags, meta: content.meta, lens, z: 1 }
    : { tags: content.tags, meta: content.meta, lens };
  const json = JSON.stringify(h);
  const head = Buffer.allocUnsafe(4 + Buffer.byteLength(json));
  head.writeUInt32LE(head.length - 4, 0);
  head.write(json, 4);
  return [head, ...content.parts];
}

/**
 * frameParts with every part deflated (level 1) on the libuv thread pool, off the main thread;
 * the frame as it is if deflating fails.
 */
export async function deflatedFrame(content: FrameContent): Promise<Buffer[]> {
  let parts: Buffer[];
  try {
    parts = await Promise.all(content.parts.map((p) => deflateRawAsync(p, { level: 1 })));
  } catch {
    return frameParts(content);
  }
  return frameParts({ tags: content.tags, meta: content.meta, parts }, true);
}

interface FrameHeader {
  tags: Array<[string, number]>;
  meta: unknown;
  lens: unknown[];
  z?: unknown;
}

/** The JSON header of a frame whose header length field is at `buf[0..4)`; and where it ends. */
function readHeader(buf: Buffer): { h: FrameHeader; end: number } {
  if (buf.length < 4) throw new Error('queue frame too short');
  const hl = buf.readUInt32LE(0);
  if (4 + hl > buf.length) throw new Error('queue frame header past its end');
  const h = JSON.parse(buf.toString('utf8', 4, 4 + hl)) as Partial<FrameHeader>;
  if (!Array.isArray(h.tags) || !Array.isArray(h.lens)) throw new Error('queue frame header bad');
  return { h: h as FrameHeader, end: 4 + hl };
}

const partOf = (h: FrameHeader, part: Buffer): Buffer =>
  h.z === 1 ? inflateRawSync(part, { maxOutputLength: MAX_INFLATED }) : part;

/**
 * Decode a frame's payload: one buffer, or the parts it was appended in (QueueItem.frame). Parts
 * laid out as frameParts makes them are used as they are; others are joined first.
 */
export function decodeFrame(frame: Buffer | readonly Buffer[]): FrameContent {
  if (!Buffer.isBuffer(frame)) {
    if (frame.length === 1) return decodeFrame(frame[0]);
    const head = frame[0];
    const laidOut =
      head !== undefined && head.length >= 4 && 4 + head.readUInt32LE(0) === head.length;
    const h = laidOut ? readHeader(head).h : undefined;
    if (
      h === undefined ||
      h.lens.length !== frame.length - 1 ||
      h.lens.some((n, i) => n !== frame[i + 1].length)
    )
      return decodeFrame(Buffer.concat(frame));
    return { tags: h.tags, meta: h.meta, parts: frame.slice(1).map((p) => partOf(h, p)) };
  }
  const payload = frame;
  const { h, end } = readHeader(payload);
  const parts: Buffer[] = [];
  let at = end;
  for (const n of h.lens as number[]) {
    if (!Number.isSafeInteger(n) || n < 0 || at + n > payload.length)
      throw new Error('queue frame part past its end');
    parts.push(partOf(h, payload.subarray(at, at + n)));
    at += n;
  }
  return { tags: h.tags, meta: h.meta, parts };
}

/**
 * Records as queue bytes, for outputs that do not seal (stdout, s3, loki's JSON encoding): one
 * JSON array per line, `[timeMs, timeNs, sourceId, labels, fields]`. Reading them back parses the
 * fields again; sealing outputs avoid that cost by storing their encoded chunk instead.
 */
export function encodeRecords(
  records: readonly LogRecord[],
  from = 0,
  to = records.length,
): Buffer {
  let text = '';
  for (let i = from; i < to; i++) {
    const r = records[i];
    let body: string;
    try {
      body = recordJson(r);
    } catch (e) {
      body = JSON.stringify({ unserialisable: (e as Error).message });
    }
    const labels = r.labels === undefined ? 'null' : JSON.stringify(r.labels);
    const sid = r.sourceId === undefined ? 'null' : JSON.stringify(r.sourceId);
    const t = Number.isFinite(r.timeMs) ? r.timeMs : 'null';
    text += `[${t},${r.timeNs | 0},${sid},${labels},${body}]\n`;
  }
  return Buffer.from(text);
}

export function decodeRecords(bytes: Buffer): LogRecord[] {
  const out: LogRecord[] = [];
  let at = 0;
  while (at < bytes.length) {
    let nl = bytes.indexOf(10, at);
    if (nl < 0) nl = bytes.length;
    const a = JSON.parse(bytes.toString('utf8', at, nl)) as unknown;
    if (
      !Array.isArray(a) ||
      a.length !== 5 ||
      (a[0] !== null && typeof a[0] !== 'number') ||
      typeof a[1] !== 'number' ||
      (a[2] !== null && typeof a[2] !== 'string') ||
      (a[3] !== null && (typeof a[3] !== 'object' || Array.isArray(a[3])))
    )
      throw new Error('queue records line is not [timeMs, timeNs, sourceId, labels, fields]');
    const rec: LogRecord = {
      fields:
        a[4] !== null && typeof a[4] === 'object'
          ? (a[4] as Record<string, unknown>)
          : { message: a[4] as unknown },
      timeMs: (a[0] as number | null) ?? NaN,
      timeNs: a[1] | 0,
    };
    if (a[2] !== null) rec.sourceId = a[2] as string;
    if (a[3] !== null) rec.labels = a[3] as Record<string, string>;
    out.push(rec);
    at = nl + 1;
  }
  return out;
}

/** Records kept beside a sealed chunk (refused before sending), by chunk position. */
export type KeptJson = Array<[number, number, number, string]>;

export function keptToJson(kept: ReadonlyMap<number, LogRecord>): KeptJson {
  const out: KeptJson = [];
  for (const [i, r] of kept) {
    let json: string;
    try {
      json = recordJson(r);
    } catch (e) {
      json = JSON.stringify({ unserialisable: (e as Error).message });
    }
    out.push([i, Number.isFinite(r.timeMs) ? r.timeMs : 0, r.timeNs | 0, json]);
  }
  return out;
}

export function keptFromJson(kept: KeptJson | undefined): Map<number, LogRecord> {
  const out = new Map<number, LogRecord>();
  for (const [i, timeMs, timeNs, json] of kept ?? [])
    out.set(i, { fields: JSON.parse(json) as Record<string, unknown>, timeMs, timeNs });
  return out;
}
