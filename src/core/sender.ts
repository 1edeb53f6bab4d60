// Shared output machinery: batches records by bytes and max wait into chunks, sends up to
// `workers` chunks concurrently, classifies each result (ok / retry after a delay / permanent,
// per record when the backend says so), retries with the shared backoff, dead-letters what is
// rejected, and acknowledges each input batch once all of its records are settled.
// Outputs classify; they do not loop.

import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { RetryConfig } from './component.js';
import type { DeadLetter, DeadLetterWriter } from './dead-letter.js';
import { estimateBytes, newRecord, type LogRecord, type OutputBatch } from './record.js';
import { RetryTimeoutError, RetryableError, withRetry } from './retry.js';

/** What one send attempt achieved. `{}` means every record was delivered. */
export interface SendResult {
  /** Records (indexes into the attempted chunk) rejected permanently, with the reason. */
  rejected?: Array<{ index: number; reason: string }>;
  /** Records to send again. `indexes: 'all'` retries the whole chunk (minus rejected ones). */
  retry?: { indexes: number[] | 'all'; reason: string; delayMs?: number };
  /** Status for output_requests_total (HTTP code or an error class). */
  status?: string;
}

export const Result = {
  ok(status = 'ok'): SendResult {
    return { status };
  },
  retry(reason: string, delayMs?: number, status = 'retry'): SendResult {
    return { retry: { indexes: 'all', reason, delayMs }, status };
  },
  permanent(reason: string, count: number, status = 'permanent'): SendResult {
    return { rejected: Array.from({ length: count }, (_, index) => ({ index, reason })), status };
  },
};

export interface Chunk {
  /** The records of this attempt; empty when the output sealed the chunk (see `seal`). */
  records: LogRecord[];
  /** How many records this attempt covers (result indexes are 0..size-1). */
  size: number;
  /**
   * Position in the sealed chunk of each record of this attempt (after a partial retry), or
   * undefined when the attempt covers the whole chunk in order.
   */
  live: readonly number[] | undefined;
  /** What the output's `seal` returned for this chunk; undefined when it does not seal. */
  sealed: unknown;
  /** Tag of each record, by index (records of one input batch share a tag). */
  tagAt(i: number): string;
}

/**
 * Encodes one chunk while it fills (see SenderOptions.seal). Its records are released after
 * `add`: a queued or retried chunk holds only its encoding, so records die young instead of
 * reaching V8's old generation while they wait.
 */
export interface Sealer {
  /**
   * Encode `records[from, to)`, which take chunk positions `position…`. Must not throw: records
   * it cannot encode are to be reported as rejected by the first attempt.
   */
  add(records: readonly LogRecord[], from: number, to: number, position: number): void;
  /** The chunk is cut: what every attempt gets as `chunk.sealed`. */
  finish(): Sealed;
}

/** An encoded chunk. */
export interface Sealed {
  /** Rebuild the records at these chunk positions, for dead letters (rare: only on rejection). */
  restore(positions: readonly number[]): LogRecord[];
}

export interface SenderOptions {
  id: string;
  log: Logger;
  metrics: Metrics;
  deadLetter: DeadLetterWriter;
  retry: RetryConfig;
  /** Flush a chunk when it reaches this many (estimated) bytes. */
  maxBytes: number;
  /** ... or when its oldest record waited this long. */
  maxWaitMs: number;
  /** Chunks in flight at once. */
  workers: number;
  /** Estimated encoded size of a record (defaults to estimateBytes). */
  measure?: (record: LogRecord) => number;
  /** The output's context signal: aborted at the shutdown deadline (retries stop, records stay uncommitted). */
  signal: AbortSignal;
  /** One attempt. Throwing is treated as a retryable failure of the whole chunk. */
  send(chunk: Chunk, signal: AbortSignal): Promise<SendResult>;
  /** Optional: start encoding a new chunk as its records arrive (the records are not kept). */
  seal?(): Sealer;
}

/** An input batch's share of chunks: its tag and ack, never its records (they may be released). */
interface Owner {
  tag: string;
  ack: () => void;
  remaining: number;
}

class PendingChunk {
  records: LogRecord[] = [];
  /** Records in the chunk (sealed ones are not kept in `records`). */
  count = 0;
  sealer: Sealer | undefined;
  sealed: Sealed | undefined;
  /** Set when sealing failed: nothing is sent, every record is dead-lettered with this reason. */
  failed: string | undefined;
  parts: Array<{ owner: Owner; count: number }> = [];
  bytes = 0;
  tagAt(i: number): string {
    let idx = i;
    for (const p of this.parts) {
      if (idx < p.count) return p.owner.tag;
      idx -= p.count;
    }
    return '';
  }
}

export class Sender {
  private current = new PendingChunk();
  private timer: NodeJS.Timeout | undefined;
  private ready: PendingChunk[] = [];
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly signal: AbortSignal;
  private readonly measure: (r: LogRecord) => number;
  private stopped = false;

  constructor(private readonly o: SenderOptions) {
    this.measure = o.measure ?? estimateBytes;
    this.signal = o.signal;
    this.signal.addEventListener('abort', () => this.notifyIdle(true), { once: true });
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
        this.cut();
      }
      this.current.bytes += size;
    }
    this.appendSlice(owner, recs, start, recs.length);
    if (this.current.bytes >= this.o.maxBytes) this.cut();
    else if (!this.timer && this.current.count > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.cut();
      }, this.o.maxWaitMs);
    }
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
    this.ready.push(chunk);
    this.pump();
  }

  private pump(): void {
    while (!this.signal.aborted && this.active < this.o.workers && this.ready.length > 0) {
      const chunk = this.ready.shift()!;
      this.active++;
      void this.run(chunk).finally(() => {
        this.active--;
        this.pump();
        this.notifyIdle();
      });
    }
  }

  private async run(chunk: PendingChunk): Promise<void> {
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
      await this.o.deadLetter.write(this.deadLetters(chunk, all));
      this.settle(chunk);
      return;
    }
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
            res = await this.o.send(attemptChunk, this.signal);
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
        },
      );
    } catch (e) {
      if (this.signal.aborted) return; // not acknowledged: re-read after restart
      const reason =
        e instanceof RetryTimeoutError ? e.message : `unexpected: ${(e as Error).message}`;
      if (live) for (const at of live) dead.push({ at, reason });
      else for (let at = 0; at < chunk.count; at++) dead.push({ at, reason });
    }
    if (dead.length > 0) await this.o.deadLetter.write(this.deadLetters(chunk, dead));
    this.settle(chunk);
  }

  /** The chunk is done: acknowledge each input batch whose last chunk this was. */
  private settle(chunk: PendingChunk): void {
    for (const p of chunk.parts) if (--p.owner.remaining === 0) p.owner.ack();
  }

  private deadLetters(
    chunk: PendingChunk,
    dead: Array<{ at: number; reason: string }>,
  ): DeadLetter[] {
    let records: LogRecord[];
    if (chunk.sealed || chunk.failed !== undefined) {
      try {
        if (!chunk.sealed) throw new Error(chunk.failed);
        records = chunk.sealed.restore(dead.map((d) => d.at));
      } catch (e) {
        // Never lose the fact of a rejection: record what is known without the content.
        const why = (e as Error).message;
        records = dead.map(() => newRecord({ unrestorable: why }));
      }
    } else records = dead.map((d) => chunk.records[d.at]);
    return dead.map((d, k) => ({ record: records[k], reason: d.reason, tag: chunk.tagAt(d.at) }));
  }
}

function errorStatus(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code.toLowerCase() : 'error';
}
