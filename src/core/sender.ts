// Shared output machinery: batches records by bytes and max wait into chunks, sends up to
// `workers` chunks concurrently, classifies each result (ok / retry after a delay / permanent,
// per record when the backend says so), retries with the shared backoff, dead-letters what is
// rejected, and acknowledges each input batch once all of its records are settled.
// Outputs classify; they do not loop.

import Bottleneck from 'bottleneck';
import { Result, type Chunk, type SendResult, type SenderOptions } from './sender-types.js';

// The contract with outputs lives in sender-types.ts; importers reach it through here.
export * from './sender-types.js';
import { estimateBytes, newRecord, type LogRecord, type OutputBatch } from './record.js';
import { RetryTimeoutError, RetryableError, abortableSleep, withRetry } from './retry.js';
import type { DiskQueue, QueueItem } from './queue.js';
import { drainQueue, storeFrame } from './queue-link.js';
import { PROBE_INTERVAL_MS, ProbedSleep } from './sender-probe.js';
import { BurstEnd } from './sender-burst.js';

export { PROBE_INTERVAL_MS } from './sender-probe.js';
import { decodeFrame, decodeRecords, encodeRecords, type FrameContent } from './queue-codec.js';
import { PendingChunk, type Owner } from './sender-chunk.js';

export class Sender {
  private current = new PendingChunk();
  private timer: NodeJS.Timeout | undefined;
  private ready: PendingChunk[] = [];
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly signal: AbortSignal;
  private readonly measure: (r: LogRecord) => number;
  private stopped = false;
  private queue: DiskQueue | undefined;
  /** Appends to the queue, in cut order. */
  private appendChain: Promise<void> = Promise.resolve();
  private appending = 0;
  /** Workers sleeping in a retry backoff (queue mode: the backend is failing). */
  private backingOff = 0;
  private loops: Array<Promise<void>> = [];
  /** Aborted by stop() once the queue holds everything (queue mode) or at the deadline. */
  private readonly local = new AbortController();
  private readonly probed: ProbedSleep | undefined;
  /** `rate_limit`: a reservoir of `requests` refilled every `perMs` (no concurrency cap). */
  private readonly limiter: Bottleneck | undefined;
  /** Cuts the open chunk when a fast stream stops, before max_wait (sender-burst.ts). */
  private readonly burst: BurstEnd;

  constructor(private readonly o: SenderOptions) {
    this.measure = o.measure ?? estimateBytes;
    this.burst = new BurstEnd(
      o.maxWaitMs,
      () => this.cut(),
      () => this.ready.length > 0 || this.appending > 0 || (this.queue?.backlog ?? false),
    );
    if (o.queue && o.seal && !o.codec)
      throw new Error('a sealing sender with a queue needs a codec');
    this.signal = AbortSignal.any([o.signal, this.local.signal]);
    if (o.probe) this.probed = new ProbedSleep(o.probe, this.signal, o.log);
    this.signal.addEventListener('abort', () => this.notifyIdle(true), { once: true });
    if (o.rateLimit) {
      const { requests, perMs } = o.rateLimit;
      this.limiter = new Bottleneck({
        reservoir: requests,
        reservoirRefreshAmount: requests,
        reservoirRefreshInterval: perMs,
      });
      // At the deadline, attempts waiting for the rate limit fail (their records stay uncommitted).
      this.signal.addEventListener(
        'abort',
        () => void this.limiter!.stop({ dropWaitingJobs: true }).catch(() => undefined),
        { once: true },
      );
    }
  }

  /** Open the queue (if any) and start its delivery workers. */
  async start(): Promise<void> {
    if (!this.o.queue || this.queue || this.stopped) return;
    const queue = await this.o.queue();
    if (!queue) return;
    this.queue = queue;
    for (let i = 0; i < this.o.workers; i++) this.loops.push(this.deliver(queue));
  }

  /** The queue of this sender, once started (metrics, health). */
  get diskQueue(): DiskQueue | undefined {
    return this.queue;
  }

  write(batch: OutputBatch): void {
    if (batch.records.length === 0) {
      batch.ack();
      return;
    }
    // Not the batch: it holds the records, which a sealed chunk must not keep alive.
    const owner: Owner = { tag: batch.tag, ack: batch.ack, remaining: 0 };
    const recs = batch.records;
    let start = 0;
    for (let i = 0; i < recs.length; i++) {
      const size = this.measure(recs[i]);
      if (this.current.bytes + size > this.o.maxBytes && this.current.count + (i - start) > 0) {
        this.appendSlice(owner, recs, start, i);
        start = i;
        this.sizeCut();
      }
      this.current.bytes += size;
    }
    this.appendSlice(owner, recs, start, recs.length);
    if (this.current.bytes >= this.o.maxBytes) this.sizeCut();
    else if (!this.timer && this.current.count > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.cut();
      }, this.o.maxWaitMs);
    }
    if (!this.stopped) this.burst.wrote(performance.now(), this.current.count > 0);
  }

  private sizeCut(): void {
    this.burst.sizeCut(performance.now());
    this.cut();
  }

  /**
   * Send what is buffered now and wait for everything in flight. The pipeline aborts the context
   * signal at the shutdown deadline: retries stop and unsent records stay uncommitted.
   */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.cut();
    }
    if (this.queue) return this.stopQueued(this.queue);
    if (this.idleNow() || this.signal.aborted) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (!this.idleNow()) {
      this.o.log.warn(
        'shutdown deadline: unsent records stay uncommitted and are read again on restart',
        {
          in_flight: this.active,
          queued: this.ready.reduce((n, c) => n + c.count, 0),
        },
      );
    }
  }

  /**
   * Queue mode: wait until every cut chunk is written (its inputs can commit), then deliver what
   * the queue holds until it is empty, the backend is failing (every busy worker backing off:
   * the queue keeps the rest for the next start) or the deadline.
   */
  private async stopQueued(queue: DiskQueue): Promise<void> {
    await drainQueue(queue, {
      appends: this.appendChain,
      signal: this.signal,
      idle: () => this.idleNow(),
      stalled: () => this.active > 0 && this.backingOff >= this.active,
      log: this.o.log,
    });
    this.local.abort(new Error('stopped'));
    await queue.close();
    await Promise.all(this.loops);
  }

  /** Chunks waiting or in flight. */
  get pending(): number {
    return this.active + this.ready.length;
  }

  private idleNow(): boolean {
    return this.active === 0 && this.ready.length === 0;
  }

  private notifyIdle(force = false): void {
    if (!force && !this.idleNow()) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  private appendSlice(owner: Owner, recs: LogRecord[], from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    owner.remaining++;
    const cur = this.current;
    if (this.o.seal) (cur.sealer ??= this.o.seal()).add(recs, from, to, cur.count);
    else if (from === 0 && to === recs.length && cur.records.length === 0)
      cur.records = recs.slice();
    else for (let i = from; i < to; i++) cur.records.push(recs[i]);
    cur.count += n;
    cur.parts.push({ owner, count: n });
  }

  private cut(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.burst.cancel();
    const chunk = this.current;
    if (chunk.count === 0) return;
    this.current = new PendingChunk();
    if (chunk.sealer) {
      try {
        chunk.sealed = chunk.sealer.finish();
      } catch (e) {
        // A bug, not a backend answer: account for every record (dead letters) and go on.
        chunk.failed = `encoding the chunk failed: ${(e as Error).message}`;
        this.o.log.error('encoding a chunk failed; its records are dead-lettered', {
          error: chunk.failed,
          records: chunk.count,
        });
      }
      chunk.sealer = undefined;
    }
    // Queue mode once started (an output stopped before it started delivers from memory).
    if (this.queue && chunk.failed === undefined) {
      this.enqueue(chunk);
      return;
    }
    this.ready.push(chunk);
    this.pump();
  }

  /** Queue mode: write the chunk to the disk queue (in cut order), then acknowledge its inputs. */
  private enqueue(chunk: PendingChunk): void {
    const queue = this.queue!;
    let content: FrameContent;
    try {
      const tags: Array<[string, number]> = chunk.parts.map((p) => [p.owner.tag, p.count]);
      content = chunk.sealed
        ? { tags, ...this.o.codec!.encode(chunk.sealed) }
        : { tags, meta: null, parts: [encodeRecords(chunk.records)] };
    } catch (e) {
      // Cannot be stored: deliver it from memory instead (acknowledged when delivered).
      this.o.log.error('queue: chunk could not be encoded; delivered from memory', {
        error: (e as Error).message,
      });
      this.ready.push(chunk);
      this.pump();
      return;
    }
    chunk.records = [];
    this.appending++;
    this.appendChain = this.appendChain.then(async () => {
      try {
        const compressible = !chunk.sealed || this.o.codec!.compressible === true;
        await storeFrame(queue, content, chunk.count, compressible);
        chunk.settle();
      } catch (e) {
        // Closed at the deadline: never acknowledged, so the source reads it again.
        if (!this.signal.aborted)
          this.o.log.error('queue append failed; records stay uncommitted', {
            error: (e as Error).message,
          });
      } finally {
        this.appending--;
      }
    });
  }

  /** A delivery worker: take the next frame, deliver it, acknowledge it to the queue. */
  private async deliver(queue: DiskQueue): Promise<void> {
    while (!this.signal.aborted) {
      const item = await queue.next();
      if (!item) return;
      const chunk = this.fromQueue(item);
      if (!(chunk instanceof PendingChunk)) {
        // Unreadable: acknowledged only once its dead letter is written.
        await chunk;
        queue.ack(item);
        continue;
      }
      this.active++;
      let done = false;
      try {
        done = await this.run(chunk);
      } finally {
        this.active--;
        this.notifyIdle();
      }
      if (done) {
        queue.ack(item);
        chunk.sealed?.release?.();
      }
    }
  }

  /** Rebuild a chunk from a queue frame, or dead-letter the frame when it cannot be. */
  private fromQueue(item: QueueItem): PendingChunk | Promise<void> {
    const chunk = new PendingChunk();
    chunk.count = item.records;
    try {
      const frame = decodeFrame(item.frame);
      for (const [tag, count] of frame.tags)
        chunk.parts.push({ owner: { tag, ack: noop, remaining: 1 }, count });
      if (frame.meta === null) {
        chunk.records = decodeRecords(frame.parts[0] ?? Buffer.alloc(0));
        chunk.count = chunk.records.length;
      } else chunk.sealed = this.o.codec!.decode(frame.meta, frame.parts);
      return chunk;
    } catch (e) {
      const reason = `queue frame unreadable: ${(e as Error).message}`;
      this.o.log.error('queue: a frame could not be decoded; dead-lettered', { error: reason });
      return this.o.deadLetter.write([
        {
          record: newRecord({
            queue_frame: { segment: item.segment, offset: item.offset, records: item.records },
          }),
          reason,
        },
      ]);
    }
  }

  private pump(): void {
    while (!this.signal.aborted && this.active < this.o.workers && this.ready.length > 0) {
      const chunk = this.ready.shift()!;
      this.active++;
      void this.run(chunk)
        .then((done) => {
          if (done) chunk.sealed?.release?.();
        })
        .finally(() => {
          this.active--;
          this.pump();
          this.notifyIdle();
        });
    }
  }

  /** Deliver one chunk; false when it was abandoned at the shutdown deadline. */
  private async run(chunk: PendingChunk): Promise<boolean> {
    const { id, metrics, log } = this.o;
    // `live` maps positions in the current attempt to positions in the chunk.
    let live: number[] | undefined;
    const sealed = chunk.sealed;
    let attemptRecords = chunk.records;
    let size = chunk.count;
    // Rejected records by chunk position; resolved to records (restored if sealed) at the end.
    const dead: Array<{ at: number; reason: string }> = [];
    if (chunk.failed !== undefined) {
      const all = Array.from({ length: chunk.count }, (_, at) => ({ at, reason: chunk.failed! }));
      await this.o.deadLetter.write(chunk.deadLetters(all));
      chunk.settle();
      return true;
    }
    let throttled = false;
    const attemptChunk: Chunk = {
      records: attemptRecords,
      size,
      live,
      sealed,
      tagAt: (i) => chunk.tagAt(live ? live[i] : i),
    };
    try {
      await withRetry(
        async () => {
          attemptChunk.records = attemptRecords;
          attemptChunk.size = size;
          attemptChunk.live = live;
          const started = performance.now();
          let res: SendResult;
          try {
            res = await (this.limiter
              ? this.limiter.schedule(() => this.o.send(attemptChunk, this.signal))
              : this.o.send(attemptChunk, this.signal));
          } catch (e) {
            if (this.signal.aborted) throw e;
            res = Result.retry((e as Error).message, undefined, errorStatus(e));
          }
          metrics.outputLatency.observe({ component: id }, (performance.now() - started) / 1000);
          metrics.outputRequests.inc({
            component: id,
            status: res.status ?? (res.retry ? 'retry' : 'ok'),
          });
          const n = size;
          const rejected = new Set<number>();
          for (const r of res.rejected ?? []) {
            if (r.index < 0 || r.index >= n || rejected.has(r.index)) continue;
            rejected.add(r.index);
            dead.push({ at: live ? live[r.index] : r.index, reason: r.reason });
          }
          let retryIdx: number[] = [];
          if (res.retry) {
            const cand = res.retry.indexes === 'all' ? [...Array(n).keys()] : res.retry.indexes;
            retryIdx = cand.filter((i) => i >= 0 && i < n && !rejected.has(i));
          }
          const sent = n - rejected.size - retryIdx.length;
          if (sent > 0) metrics.outputRecords.inc({ component: id, result: 'sent' }, sent);
          if (retryIdx.length === 0) return;
          metrics.outputRecords.inc({ component: id, result: 'retried' }, retryIdx.length);
          const prev = live;
          live = retryIdx.map((i) => (prev ? prev[i] : i));
          size = live.length;
          if (!sealed) attemptRecords = live.map((ci) => chunk.records[ci]);
          // Throttled (429, Retry-After): keep the backoff; other failures may be cut short by a probe.
          throttled = res.status === '429' || res.retry!.delayMs !== undefined;
          throw new RetryableError(res.retry!.reason, res.retry!.delayMs);
        },
        {
          retry: this.o.retry,
          signal: this.signal,
          onRetry: (err, attempt, delay) =>
            log.warn('send failed; retrying', {
              reason: err.message,
              attempt,
              delay_ms: delay,
              records: size,
            }),
          sleep: (ms, signal) => this.backoff(ms, signal, throttled),
          random: this.o.random,
        },
      );
    } catch (e) {
      if (this.signal.aborted) return false; // not acknowledged: re-read after restart
      const reason =
        e instanceof RetryTimeoutError ? e.message : `unexpected: ${(e as Error).message}`;
      if (live) for (const at of live) dead.push({ at, reason });
      else for (let at = 0; at < chunk.count; at++) dead.push({ at, reason });
    }
    if (dead.length > 0) await this.o.deadLetter.write(chunk.deadLetters(dead));
    chunk.settle();
    return true;
  }

  /**
   * Sleep out a retry backoff. A sleep for a failing backend (not a throttle) ends early when the
   * output's probe succeeds (sender-probe.ts).
   */
  private backoff(ms: number, signal: AbortSignal | undefined, throttled: boolean): Promise<void> {
    this.backingOff++;
    const sleep =
      this.probed && !throttled && ms > PROBE_INTERVAL_MS
        ? this.probed.sleep(ms, signal)
        : abortableSleep(ms, signal);
    return sleep.finally(() => this.backingOff--);
  }
}

function noop(): void {}

function errorStatus(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code.toLowerCase() : 'error';
}
