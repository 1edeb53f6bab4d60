// A disk queue in front of an output that does not store its own sealed chunks (s3, stdout with
// buffer.type: disk): each batch is written to the queue as records and acknowledged to the
// pipeline once written; a reader hands queued batches to the output and acknowledges them to
// the queue when the output acknowledges them. In flight to the output: at most its buffer limit.

import type { Output } from './component.js';
import type { DiskQueue, QueueItem } from './queue.js';
import { decodeFrame, decodeRecords, encodeRecords, type FrameContent } from './queue-codec.js';
import { drainQueue, noProgressFor, storeFrame } from './queue-link.js';
import type { OutputBatch } from './record.js';
import type { Logger } from '../telemetry/logger.js';
import type { DeadLetterWriter } from './dead-letter.js';
import { newRecord } from './record.js';

export class QueuedOutput implements Output {
  private queue: DiskQueue | undefined;
  private chain: Promise<void> = Promise.resolve();
  private inFlightBytes = 0;
  private inFlight = 0;
  private roomWaiter: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly inner: Output,
    private readonly open: () => Promise<DiskQueue | undefined>,
    private readonly limit: number,
    private readonly log: Logger,
    private readonly deadLetter: DeadLetterWriter,
    private readonly signal: AbortSignal,
  ) {}

  async start(): Promise<void> {
    await this.inner.start();
    this.queue = await this.open();
    if (this.queue) this.loop = this.deliver(this.queue);
  }

  write(batch: OutputBatch): void {
    const queue = this.queue;
    if (!queue || this.stopped) return this.inner.write(batch);
    let content: FrameContent;
    try {
      content = {
        tags: [[batch.tag, batch.records.length]],
        meta: null,
        parts: [encodeRecords(batch.records)],
      };
    } catch {
      return this.inner.write(batch);
    }
    const n = batch.records.length;
    this.chain = this.chain.then(async () => {
      try {
        await storeFrame(queue, content, n, true);
        batch.ack();
      } catch {
        // Closed at the deadline: not acknowledged, the source reads it again.
      }
    });
  }

  private async deliver(queue: DiskQueue): Promise<void> {
    for (;;) {
      while (this.inFlight > 0 && this.inFlightBytes >= this.limit && !this.signal.aborted)
        await new Promise<void>((r) => (this.roomWaiter = r));
      const item = await queue.next();
      if (!item) return;
      this.hand(queue, item);
    }
  }

  private hand(queue: DiskQueue, item: QueueItem): void {
    let tag: string;
    let records;
    try {
      const f = decodeFrame(item.frame);
      tag = f.tags[0]?.[0] ?? '';
      records = decodeRecords(f.parts[0] ?? Buffer.alloc(0));
    } catch (e) {
      const reason = `queue frame unreadable: ${(e as Error).message}`;
      this.log.error('queue: a frame could not be decoded; dead-lettered', { error: reason });
      void this.deadLetter
        .write([{ record: newRecord({ queue_frame: { offset: item.offset } }), reason }])
        .then(() => queue.ack(item));
      return;
    }
    let bytes = 0;
    for (const b of item.frame) bytes += b.length * 3;
    this.inFlight++;
    this.inFlightBytes += bytes;
    let acked = false;
    this.inner.write({
      tag,
      records,
      bytes,
      ack: () => {
        if (acked) return;
        acked = true;
        this.inFlight--;
        this.inFlightBytes -= bytes;
        queue.ack(item);
        const w = this.roomWaiter;
        this.roomWaiter = undefined;
        w?.();
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const queue = this.queue;
    if (queue) {
      // Hand over what is queued while the output makes progress; the rest waits for the next
      // start (an output that holds records until stopped, like s3, flushes in inner.stop()).
      await drainQueue(queue, {
        appends: this.chain,
        signal: this.signal,
        idle: () => this.inFlight === 0,
        stalled: noProgressFor(queue, 1000),
        log: this.log,
      });
    }
    await this.inner.stop();
    if (queue) {
      await queue.close();
      const w = this.roomWaiter;
      this.roomWaiter = undefined;
      w?.();
      await this.loop;
    }
  }

  health(): { ok: boolean; reason?: string } {
    return this.inner.health?.() ?? { ok: true };
  }

  healthcheck(): Promise<void> {
    return this.inner.healthcheck?.() ?? Promise.resolve();
  }

  get diskQueue(): DiskQueue | undefined {
    return this.queue;
  }
}
