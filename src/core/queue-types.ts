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
  /** Released (empty) once acknowledged. */
  payload: Buffer;
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

/** An append waiting for its write. */
export interface PendingAppend {
  header: Buffer;
  payload: Buffer;
  records: number;
  timeMs: number;
  resolve: () => void;
}

export function queueItem(
  segment: number,
  offset: number,
  end: number,
  records: number,
  timeMs: number,
  payload: Buffer,
  done: boolean,
): QueueItem {
  return { segment, offset, end, records, timeMs, payload, done };
}
