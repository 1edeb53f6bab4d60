// The contract between the sender (sender.ts) and the outputs that use it: what one attempt
// achieved (SendResult, Result), the chunk an attempt gets, the sealing interfaces of outputs
// that encode while a chunk fills, and the sender's options.

import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { RetryConfig } from './component.js';
import type { DeadLetterWriter } from './dead-letter.js';
import type { LogRecord } from './record.js';
import type { DiskQueue } from './queue.js';
import type { ChunkCodec } from './queue-codec.js';

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
  /**
   * Optional: the chunk is finished (delivered or dead-lettered; in queue mode, its frame
   * acknowledged) and nothing reads its bytes any more, so the output may reuse their memory.
   * Called at most once, never for a chunk left undelivered at shutdown.
   */
  release?(): void;
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
  /**
   * Optional durable queue (buffer.type: disk): cut chunks are appended to it and their input
   * batches acknowledged once written; workers deliver from it. Needs `codec` when `seal` is set.
   */
  queue?: () => Promise<DiskQueue | undefined>;
  /** How sealed chunks are stored in the queue. */
  codec?: ChunkCodec;
  /**
   * Optional cheap reachability check (an empty push, `GET /`): while workers back off from a
   * failing backend, it runs every few seconds and ends their backoff when it succeeds.
   */
  probe?: (signal: AbortSignal) => Promise<boolean>;
  /** Backoff randomness (tests). */
  random?: () => number;
  /** At most `requests` attempts per `perMs` window (output `rate_limit`). */
  rateLimit?: { requests: number; perMs: number };
}
