// The component contract. Every input, filter and output is created by a factory from its
// validated config and a context (runtime wiring: logger, metrics, data_dir, acks), then goes
// through start → stop. `stop()` is idempotent, safe without `start()`, and flushes.

import type { z } from 'zod';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { AckToken, SourceTracker } from './acks.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { DeadLetterWriter } from './dead-letter.js';
import type { InputBatch, LogRecord, OutputBatch } from './record.js';
import type { DiskQueue } from './queue.js';

export type Kind = 'input' | 'filter' | 'output';

export interface Lifecycle {
  start(): Promise<void>;
  /** Idempotent; safe without start(); flushes what the component holds. */
  stop(): Promise<void>;
  /**
   * Optional health detail: undefined or ok=true means healthy. Inputs and filters: /readyz.
   * Outputs: /health/outputs (a backend down), and /readyz too when `stuck` (a request that
   * never settles: shiplog itself is broken).
   */
  health?(): { ok: boolean; reason?: string; stuck?: boolean };
}

export interface Input extends Lifecycle {
  /** Inputs that can finish (files in backfill mode, stdin): resolves when everything was read. */
  drained?(): Promise<void>;
}

export interface Filter extends Lifecycle {
  /**
   * Synchronous transform over a batch of records that share one tag. Return the records to pass
   * on (the same array, mutated, or a new one without the dropped records).
   */
  process(records: LogRecord[], tag: string, hold?: HoldContext): LogRecord[];
  /**
   * True for a filter that keeps records across batches (multiline): it receives a HoldContext
   * with every batch, retains the batch's checkpoint token while it holds records of it, and
   * hands the tokens back (`carry`) with the records it finally returns. Routes without such a
   * filter do not pay for it.
   */
  readonly holds?: boolean;
  /**
   * A holding filter that emits what it holds once nothing joined it for this long, ms (multiline
   * flush_timeout): inputs must not hold back bytes of a growing source that long
   * (InputContext.holdTimeoutMs).
   */
  readonly holdTimeoutMs?: number;
  /** Backpressure from a filter (throttle with action: block): a promise while it wants inputs to wait. */
  pressure?(): Promise<void> | undefined;
}

export interface Output extends Lifecycle {
  /** Take a batch. Must not throw and must not mutate the records (they are shared by fan-out). */
  write(batch: OutputBatch): void;
  /** Optional connectivity/auth check (`shiplog validate --healthcheck`); throws with a fix-it message. */
  healthcheck?(): Promise<void>;
}

export interface BaseContext {
  /** Component id (unique in the pipeline). */
  id: string;
  type: string;
  log: Logger;
  metrics: Metrics;
  /** service.data_dir, created at start-up. */
  dataDir: string;
  /** Aborted when the component is being stopped. */
  signal: AbortSignal;
}

export interface InputContext extends BaseContext {
  /** The routing tag configured for this input (may be a template for inputs that support one). */
  tag: string;
  /**
   * Hand a batch to the pipeline. Returns a promise when outputs are full: the input must wait for
   * it before reading more (that is the backpressure). Records of one batch share its tag.
   */
  emit(batch: InputBatch): Promise<void> | undefined;
  /**
   * A checkpoint tracker for one source (a file identity, a journald stream). `key` is unique within
   * the input; the committed position is persisted under `<input id>/<key>`.
   */
  source(key: string): SourceTracker;
  /** Forget a source's checkpoint (its file is gone and fully drained). */
  forget(key: string): void;
  /** Keys of checkpoints this input saved in earlier runs. */
  savedSources(): string[];
  checkpoints: CheckpointStore;
  /** True in `shiplog backfill`: read to the end, then finish. */
  oneShot: boolean;
  /**
   * The shortest Filter.holdTimeoutMs in the pipeline, if any: an input that defers reads of a
   * growing source (the file input's read coalescing) defers them well below it.
   */
  holdTimeoutMs?: number;
}

export interface FilterContext extends BaseContext {
  deadLetter: DeadLetterWriter;
  /**
   * For a holding filter: pass records it releases on its own (a timer flush, stop) through the
   * filters after it and on to the outputs. `carried` are tokens it retained for them, released
   * once every output acknowledged the records (or they were dropped).
   */
  inject?(tag: string, records: LogRecord[], carried: AckToken[]): void;
}

/** What a holding filter (Filter.holds) gets with each batch. */
export interface HoldContext {
  /** Checkpoint token of the batch (undefined: no checkpoint). `retain()` it while holding its records. */
  readonly token: AckToken | undefined;
  /** A token retained earlier for records returned now: released once they are acknowledged. */
  carry(token: AckToken): void;
}

export interface OutputContext extends BaseContext {
  deadLetter: DeadLetterWriter;
  /**
   * This output's byte budget in the pipeline (buffer.max_bytes, or memory_limit / outputs). An
   * output that holds batches until some threshold (an S3 object) must acknowledge before it.
   */
  bufferLimit: number;
  /**
   * The output's disk queue (buffer.type: disk), for an output whose core Sender stores its sealed
   * chunks (`ownsQueue`); undefined in memory mode. Resolves to undefined when the queue could not
   * be opened and the type was defaulted (the output then runs with a memory buffer).
   */
  queue?: () => Promise<DiskQueue | undefined>;
}

export interface ComponentDef<S extends z.ZodObject = z.ZodObject> {
  kind: Kind;
  type: string;
  /** One line for the docs and `shiplog schema`. */
  description: string;
  /** Component-specific options (the common keys are added by the registry). Strictness is added too. */
  options: S;
}

export interface InputDef<S extends z.ZodObject = z.ZodObject> extends ComponentDef<S> {
  kind: 'input';
  create(config: z.output<S> & CommonInput, ctx: InputContext): Input;
}
export interface FilterDef<S extends z.ZodObject = z.ZodObject> extends ComponentDef<S> {
  kind: 'filter';
  create(config: z.output<S> & CommonFilter, ctx: FilterContext): Filter;
}
export interface OutputDef<S extends z.ZodObject = z.ZodObject> extends ComponentDef<S> {
  kind: 'output';
  /**
   * True when the output hands `ctx.queue` to its Sender (sealed chunks are queued as encoded).
   * Otherwise, in disk mode, the pipeline queues records in front of the output.
   */
  ownsQueue?: boolean;
  /** Buffer type when the config does not say (default disk). */
  defaultBuffer?: 'disk' | 'memory';
  create(config: z.output<S> & CommonOutput, ctx: OutputContext): Output;
  /** `validate --healthcheck`: reach the backend on a client of its own; resolves with what was checked, throws with the fix. */
  healthcheck?(config: z.output<S> & CommonOutput): Promise<string>;
}

export type AnyDef = InputDef | FilterDef | OutputDef;

export interface CommonInput {
  type: string;
  id: string;
  tag: string;
}
export interface CommonFilter {
  type: string;
  id: string;
  match: string | string[];
}
export interface RetryConfig {
  initial: number;
  max: number;
  max_elapsed?: number;
}
export interface CommonOutput {
  type: string;
  id: string;
  match: string | string[];
  buffer: {
    type?: 'disk' | 'memory';
    max_size: number;
    max_bytes?: number;
    when_full: 'block' | 'drop_newest';
  };
  retry: RetryConfig;
}

export function defineInput<S extends z.ZodObject>(def: InputDef<S>): InputDef<S> {
  return def;
}
export function defineFilter<S extends z.ZodObject>(def: FilterDef<S>): FilterDef<S> {
  return def;
}
export function defineOutput<S extends z.ZodObject>(def: OutputDef<S>): OutputDef<S> {
  return def;
}
