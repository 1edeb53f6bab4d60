// The disk queue's public types (see queue.ts): options, the frames it hands out, what a
// corrupt frame reports, and the global byte budget shared by every queue of a process.

import type { Logger } from '../telemetry/logger.js';

export interface QueueItem {
  /** Segment id and byte range of the frame. */
  readonly segment: number;
  readonly offset: number;
  readonly end: number;
  readonly records: number;
  /** When it was appended (ms since the epoch). */
  readonly timeMs: number;
  /** Released (empty) once acknowledged. Joined on first use when the frame is in parts. */
  payload: Buffer;
  /**
   * The payload as the parts it was appended in (a frame handed out from memory: its header and
   * its chunk's bodies, not copied into one buffer), or [payload] when it was read back from
   * disk. decodeFrame takes either.
   */
  readonly frame: readonly Buffer[];
  /** @internal */ done: boolean;
}

/** A frame that failed its checks: what was lost, for the dead-letter file and the metric. */
export interface CorruptFrame {
  segment: number;
  offset: number;
  /** Records the header claims (untrusted). */
  records: number;
  bytes: number;
  reason: string;
}

/** Shared by every queue of a process: the global cap on queued bytes (service.queue_limit). */
export class QueueBudget {
  bytes = 0;
  constructor(readonly limit: number) {}
}

export interface QueueOptions {
  dir: string;
  /** Most bytes on disk (buffer.max_size). Appends wait while the queue is at or above it. */
  maxBytes: number;
  budget?: QueueBudget;
  /** Roll to a new segment file after this many bytes. */
  segmentBytes?: number;
  /** Frames kept in memory after they were appended, so a caught-up reader does not read back. */
  recentBytes?: number;
  /** How often the read pointer is persisted. */
  pointerIntervalMs?: number;
  log: Logger;
  onCorrupt?: (frame: CorruptFrame) => void;
}

/** A frame's payload: one buffer, or the parts whose concatenation it is (written as they are). */
export type Payload = Buffer | readonly Buffer[];

/** The parts of a payload. */
export const payloadParts = (p: Payload): readonly Buffer[] => (Buffer.isBuffer(p) ? [p] : p);

/** The byte length of a payload. */
export function payloadLength(p: Payload): number {
  if (Buffer.isBuffer(p)) return p.length;
  let n = 0;
  for (const b of p) n += b.length;
  return n;
}

/** An append waiting for its write. */
export interface PendingAppend {
  header: Buffer;
  parts: readonly Buffer[];
  /** Payload bytes (the sum of the parts). */
  bytes: number;
  records: number;
  timeMs: number;
  resolve: () => void;
}

class Item implements QueueItem {
  constructor(
    readonly segment: number,
    readonly offset: number,
    readonly end: number,
    readonly records: number,
    readonly timeMs: number,
    private parts: readonly Buffer[],
    public done: boolean,
  ) {}

  get payload(): Buffer {
    if (this.parts.length !== 1) this.parts = [Buffer.concat(this.parts)];
    return this.parts[0];
  }

  set payload(b: Buffer) {
    this.parts = [b];
  }

  get frame(): readonly Buffer[] {
    return this.parts;
  }
}

export function queueItem(
  segment: number,
  offset: number,
  end: number,
  records: number,
  timeMs: number,
  payload: Payload,
  done: boolean,
): QueueItem {
  return new Item(segment, offset, end, records, timeMs, payloadParts(payload), done);
}
