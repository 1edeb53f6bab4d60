// What the two users of a disk queue share (the sender of outputs that seal their chunks, and
// QueuedOutput in front of the others): storing a frame, and draining the queue at stop.

import type { Logger } from '../telemetry/logger.js';
import type { DiskQueue } from './queue.js';
import { deflatedFrame, frameParts, type FrameContent } from './queue-codec.js';

/**
 * Append `content` to the queue, waiting for room. Called in write order: when the output is
 * behind (an outage's backlog) a compressible frame is deflated on the thread pool; a queue
 * that keeps up stores it as it is.
 */
export async function storeFrame(
  queue: DiskQueue,
  content: FrameContent,
  records: number,
  compressible: boolean,
): Promise<void> {
  const parts = compressible && queue.behind ? await deflatedFrame(content) : frameParts(content);
  await queue.room();
  await queue.append(parts, records);
}

export interface DrainOptions {
  /** Appends still under way (their inputs commit once written). */
  appends: Promise<void>;
  /** The shutdown deadline. */
  signal: AbortSignal;
  /** Nothing is being delivered any more (beyond what the queue holds). */
  idle: () => boolean;
  /** Delivery cannot make progress now (the backend is failing): the rest waits for a restart. */
  stalled: () => boolean;
  log: Logger;
  /** How often the state is checked (ms). */
  pollMs?: number;
}

/**
 * Stop: wait until every pending append is written, then let the deliverers work through the
 * queue until it is empty, delivery stalls, or the deadline. What is left is delivered after the
 * next start.
 */
export async function drainQueue(queue: DiskQueue, o: DrainOptions): Promise<void> {
  const aborted = new Promise<void>((r) => {
    if (o.signal.aborted) r();
    else o.signal.addEventListener('abort', () => r(), { once: true });
  });
  await Promise.race([o.appends, aborted]);
  while (!o.signal.aborted && !(queue.empty && o.idle()) && !o.stalled())
    await Promise.race([new Promise((r) => setTimeout(r, o.pollMs ?? 50)), aborted]);
  if (!queue.empty)
    o.log.info('stopping with records in the queue; they are delivered after restart', {
      records: queue.records,
      bytes: queue.bytes,
    });
}

/** A `stalled` check for deliverers that cannot tell: no record acknowledged for `ms`. */
export function noProgressFor(queue: DiskQueue, ms: number): () => boolean {
  let last = queue.records;
  let since = Date.now();
  return () => {
    if (queue.records !== last) {
      last = queue.records;
      since = Date.now();
    }
    return Date.now() - since >= ms;
  };
}
