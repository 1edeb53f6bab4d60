// The pipeline: inputs → router (tag/match) → filters (sync, per batch) → fan-out → outputs.
// Every output has a byte budget; a batch counts against it until that output acknowledges it.
// When a budget (or service.memory_limit) is exhausted, emit() hands the input a promise and the
// input stops reading until there is room: files and the journal are the buffer.

import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { ledgerLogger, type Ledger, type LedgerRow } from '../telemetry/ledger.js';
import type { TapHub } from '../telemetry/tap.js';
import { SourceTracker, type AckToken } from './acks.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type {
  CommonFilter,
  CommonInput,
  CommonOutput,
  Filter,
  FilterDef,
  HoldContext,
  Input,
  InputDef,
  Lifecycle,
  Output,
  OutputDef,
} from './component.js';
import { createDeadLetterWriter } from './dead-letter.js';
import { compileMatch, type TagMatcher } from './glob.js';
import { estimateBytes, newRecord, type InputBatch, type LogRecord } from './record.js';
import { ConfigError } from './errors.js';
import { DiskQueue, QueueBudget } from './queue.js';
import { QueuedOutput } from './queued-output.js';
import * as path from 'node:path';

interface OutputSlot {
  id: string;
  type: string;
  output: Output;
  /** Disk queue of this output, once opened. */
  queue: DiskQueue | undefined;
  match: TagMatcher;
  limit: number;
  bytes: number;
  dropWhenFull: boolean;
}

interface FilterSlot {
  id: string;
  filter: Filter;
  match: TagMatcher;
  /** The filter keeps records across batches (Filter.holds). */
  holds: boolean;
}

interface Route {
  filters: FilterSlot[];
  outputs: OutputSlot[];
  /** Output ids, for the tap (made on first use). */
  outputIds?: string[];
  /** Some filter of the route holds records: batches take the hold path (emitHolding). */
  holds: boolean;
}

interface Waiter {
  outputs: OutputSlot[];
  resolve: () => void;
}

/** What the pipeline reads of a parsed config (config/schema.ts's ShiplogConfig is one). */
export interface PipelineConfig {
  service: {
    data_dir: string;
    memory_limit: number;
    queue_max_size: number;
    checkpoint_interval: number;
    dead_letter?: { max_size: number };
  };
  pipeline: {
    inputs: Array<CommonInput & Record<string, unknown>>;
    filters: Array<CommonFilter & Record<string, unknown>>;
    outputs: Array<CommonOutput & Record<string, unknown>>;
  };
}

/**
 * The component types a pipeline is built from, given by the caller (the registry in
 * src/components, through config/load.ts's `pipelineComponents()`): the core imports no
 * component and no config module.
 */
export interface ComponentSource {
  /** The definition of a type (throws for an unknown type). */
  getDef(kind: 'input', type: string): InputDef;
  getDef(kind: 'filter', type: string): FilterDef;
  getDef(kind: 'output', type: string): OutputDef;
  /** Give a factory's ConfigError the component's place in the config file. */
  locate?(e: ConfigError, config: object, id: string): Error;
}

export interface PipelineDeps {
  components: ComponentSource;
  log: Logger;
  metrics: Metrics;
  checkpoints: CheckpointStore;
  /** `shiplog backfill`: inputs read to the end and finish. */
  oneShot?: boolean;
  /** Applied after the filters (backfill --since/--until); rejected records are counted as skipped. */
  keep?: (record: LogRecord) => boolean;
  /** The loss ledger of `/status` (counted per batch). */
  ledger?: Ledger;
  /** `/tap` readers: records after the filters. */
  tap?: TapHub;
}

export interface OutputState {
  id: string;
  type: string;
  bufferBytes: number;
  bufferLimit: number;
  queue?: {
    records: number;
    bytes: number;
    oldestTime: number | undefined;
    full: boolean;
    writeError: string | undefined;
  };
}

export class Pipeline {
  private inputs: Array<{ id: string; input: Input; abort: AbortController }> = [];
  private filters: FilterSlot[] = [];
  private outputs: OutputSlot[] = [];
  private routes = new Map<string, Route>();
  private waiters: Waiter[] = [];
  private globalBytes = 0;
  private readonly memoryLimit: number;
  private readonly outputAbort = new AbortController();
  private readonly queueBudget: QueueBudget;
  private readonly unsync: Array<() => void> = [];
  private state: 'built' | 'started' | 'stopping' | 'stopped' = 'built';
  private stopPromise: Promise<void> | undefined;
  /** Records dropped because no output matched their tag. */
  unrouted = 0;

  constructor(
    readonly config: PipelineConfig,
    private readonly deps: PipelineDeps,
  ) {
    this.memoryLimit = config.service.memory_limit;
    const { log, metrics } = deps;
    const dataDir = config.service.data_dir;
    const outCount = Math.max(1, config.pipeline.outputs.length);
    this.queueBudget = new QueueBudget(config.service.queue_max_size);

    const ledger = deps.ledger;
    const dlMax = config.service.dead_letter?.max_size;
    for (const oc of config.pipeline.outputs) {
      const def = deps.components.getDef('output', oc.type);
      let clog = log.child({ component: oc.id, type: oc.type });
      if (ledger) clog = ledgerLogger(clog, oc.id, ledger);
      const limit = oc.buffer.max_bytes ?? Math.floor(this.memoryLimit / outCount);
      const deadLetter = createDeadLetterWriter(
        dataDir,
        oc.id,
        clog,
        metrics,
        (tag, n) => ledger?.deadLettered(tag, n, 'output'),
        dlMax,
      );
      // backfill waits for delivery and keeps its own checkpoints: it never uses the daemon's queues.
      const type = deps.oneShot ? 'memory' : (oc.buffer.type ?? def.defaultBuffer ?? 'disk');
      const slot = { queue: undefined as DiskQueue | undefined };
      const queue =
        type === 'disk'
          ? async () =>
              (slot.queue = await this.openQueue(oc, oc.buffer.type === 'disk', clog, deadLetter))
          : undefined;
      let output: Output = located(deps.components, oc, () =>
        def.create(oc as never, {
          bufferLimit: limit,
          id: oc.id,
          type: oc.type,
          log: clog,
          metrics,
          dataDir,
          signal: this.outputAbort.signal,
          deadLetter,
          queue: def.ownsQueue ? queue : undefined,
        }),
      );
      if (queue && !def.ownsQueue)
        output = new QueuedOutput(output, queue, limit, clog, deadLetter, this.outputAbort.signal);
      this.outputs.push({
        id: oc.id,
        type: oc.type,
        output,
        get queue() {
          return slot.queue;
        },
        match: compileMatch(oc.match),
        limit,
        bytes: 0,
        dropWhenFull: oc.buffer.when_full === 'drop_newest',
      });
    }
    for (const fc of config.pipeline.filters) {
      const def = deps.components.getDef('filter', fc.type);
      const clog = log.child({ component: fc.id, type: fc.type });
      const id = fc.id;
      const filter = located(deps.components, fc, () =>
        def.create(fc as never, {
          id,
          type: fc.type,
          log: clog,
          metrics,
          dataDir,
          signal: this.outputAbort.signal,
          deadLetter: createDeadLetterWriter(
            dataDir,
            fc.id,
            clog,
            metrics,
            (tag, n) => ledger?.deadLettered(tag, n, 'filter'),
            dlMax,
          ),
          inject: (tag, records, carried) => this.inject(id, tag, records, carried),
        }),
      );
      this.filters.push({
        id,
        filter,
        match: compileMatch(fc.match),
        holds: filter.holds === true,
      });
    }
    for (const ic of config.pipeline.inputs) {
      const def = deps.components.getDef('input', ic.type);
      const abort = new AbortController();
      const id = ic.id;
      ledger?.inputType(id, ic.type);
      const prefix = `${id}/`;
      const store = deps.checkpoints;
      const input = located(deps.components, ic, () =>
        def.create(ic as never, {
          id,
          type: ic.type,
          tag: ic.tag,
          log: log.child({ component: id, type: ic.type }),
          metrics,
          dataDir,
          signal: abort.signal,
          checkpoints: store,
          oneShot: deps.oneShot ?? false,
          emit: (batch) => this.emit(id, batch),
          source: (key) => new SourceTracker(prefix + key, store, store.get(prefix + key)),
          forget: (key) => store.delete(prefix + key),
          savedSources: () =>
            [...store.keys()]
              .filter((k) => k.startsWith(prefix))
              .map((k) => k.slice(prefix.length)),
        }),
      );
      this.inputs.push({ id, input, abort });
    }
    this.updateBufferGauges();
  }

  get started(): boolean {
    return this.state === 'started';
  }

  /**
   * Why shiplog itself is not ready, for /readyz: not started, checkpoints or a disk queue not
   * being written, an input or filter unhealthy. A backend that is down is not among them: in a
   * DaemonSet a Loki outage would mark every pod NotReady (outputHealth() is for that).
   */
  problems(): string[] {
    const out: string[] = [];
    if (this.state !== 'started') out.push(`pipeline ${this.state}`);
    if (!this.deps.checkpoints.healthy)
      out.push(`checkpoint writes failing: ${this.deps.checkpoints.lastError ?? ''}`);
    for (const o of this.outputs) {
      const q = o.queue;
      if (q?.writeError !== undefined) out.push(`${o.id}: queue writes failing: ${q.writeError}`);
      // A request that never settles is shiplog broken, not the backend down (#17.1): readiness.
      const h = o.output.health?.();
      if (h && !h.ok && h.stuck === true) out.push(`${o.id}: ${h.reason ?? 'stuck'}`);
    }
    const all: Array<[string, Lifecycle]> = [
      ...this.inputs.map((i): [string, Lifecycle] => [i.id, i.input]),
      ...this.filters.map((f): [string, Lifecycle] => [f.id, f.filter]),
    ];
    for (const [id, c] of all) {
      const h = c.health?.();
      if (h && !h.ok) out.push(`${id}: ${h.reason ?? 'unhealthy'}`);
    }
    return out;
  }

  /** Per output, for /status: the memory buffer and the disk queue. */
  async outputState(): Promise<OutputState[]> {
    const out: OutputState[] = [];
    for (let i = 0; i < this.outputs.length; i++) {
      const o = this.outputs[i];
      const q = o.queue;
      const oldest = q ? await q.oldestTime() : undefined;
      out.push({
        id: o.id,
        type: this.config.pipeline.outputs[i]?.type ?? '',
        bufferBytes: o.bytes,
        bufferLimit: o.limit,
        queue: q && {
          records: q.records,
          bytes: q.bytes,
          oldestTime: oldest,
          full: q.full,
          writeError: q.writeError,
        },
      });
    }
    return out;
  }

  /** Each output's delivery health (its backend, its queue), for /health/outputs and metrics. */
  outputHealth(): Array<{ id: string; type: string; ok: boolean; reason?: string }> {
    return this.outputs.map((o) => {
      const h = o.output.health?.();
      const q = o.queue;
      const type = o.type;
      if (h && !h.ok) return { id: o.id, type, ok: false, reason: h.reason ?? 'unhealthy' };
      if (q?.full)
        return {
          id: o.id,
          type,
          ok: false,
          reason: `queue full (${q.bytes} bytes, ${q.records} records)`,
        };
      return { id: o.id, type, ok: true };
    });
  }

  async start(): Promise<void> {
    if (this.state !== 'built') return;
    // Outputs first so nothing is emitted into a component that is not ready.
    for (const o of this.outputs) await o.output.start();
    for (const f of this.filters) await f.filter.start();
    for (const i of this.inputs) await i.input.start();
    this.state = 'started';
  }

  /** Run every output's optional healthcheck (validate --healthcheck). */
  async healthcheck(): Promise<string[]> {
    const failures: string[] = [];
    for (const o of this.outputs) {
      try {
        await o.output.healthcheck?.();
      } catch (e) {
        failures.push(`${o.id}: ${(e as Error).message}`);
      }
    }
    return failures;
  }

  /** Resolves when every input that can finish has finished (backfill, stdin). */
  async drained(): Promise<void> {
    await Promise.all(this.inputs.map((i) => i.input.drained?.()));
  }

  /** Resolves once nothing is buffered in any output. */
  async idle(): Promise<void> {
    while (this.outputs.some((o) => o.bytes > 0)) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Stop reading, deliver what is buffered until `deadline`, then abort. Idempotent.
   * Inputs stop first, then filters, then outputs flush.
   */
  stop(deadline: number): Promise<void> {
    this.stopPromise ??= (async () => {
      this.state = 'stopping';
      for (const i of this.inputs) i.abort.abort(new Error('stopping'));
      // Unblock inputs waiting for buffer room so they can observe the abort.
      for (const w of this.waiters.splice(0)) w.resolve();
      await Promise.all(this.inputs.map((i) => safeStop(i.id, i.input, this.deps.log)));
      await Promise.all(this.filters.map((f) => safeStop(f.id, f.filter, this.deps.log)));
      await Promise.all(
        this.outputs.map(async (o) => {
          // deadline = Infinity (backfill): wait for every acknowledgement, abortOutputs() to give up.
          const t = Number.isFinite(deadline)
            ? setTimeout(
                () => this.outputAbort.abort(new Error('shutdown timeout')),
                Math.max(0, deadline - Date.now()),
              )
            : undefined;
          try {
            await safeStop(o.id, o.output, this.deps.log);
          } finally {
            clearTimeout(t);
          }
        }),
      );
      for (const fn of this.unsync.splice(0)) fn();
      for (const o of this.outputs) this.deps.metrics.queues.delete(o.id);
      this.state = 'stopped';
    })();
    return this.stopPromise;
  }

  /** Open an output's disk queue; in a defaulted disk mode a failure falls back to memory. */
  private async openQueue(
    oc: { id: string; buffer: { max_size: number } },
    explicit: boolean,
    log: Logger,
    deadLetter: ReturnType<typeof createDeadLetterWriter>,
  ): Promise<DiskQueue | undefined> {
    const { metrics, checkpoints } = this.deps;
    const dir = path.join(this.config.service.data_dir, 'queue', oc.id);
    let q: DiskQueue;
    try {
      q = await DiskQueue.open({
        dir,
        maxBytes: oc.buffer.max_size,
        budget: this.queueBudget,
        // Delivered chunks are resent after a crash since the last save: as often as checkpoints.
        pointerIntervalMs: this.config.service.checkpoint_interval,
        log,
        onCorrupt: (f) => {
          metrics.queueCorrupt.inc({ component: oc.id });
          void deadLetter.write([
            {
              record: newRecord({ queue_frame: { dir, ...f } }),
              reason: `queue frame corrupt (${f.reason}): up to ${f.records} records lost`,
            },
          ]);
        },
      });
    } catch (e) {
      const msg = `cannot open the disk queue ${dir}: ${(e as Error).message}`;
      if (explicit) throw new Error(`${oc.id}: ${msg} (buffer.type: disk)`);
      log.warn(`${msg}; running with a memory buffer (set buffer.type: memory to silence)`);
      return undefined;
    }
    metrics.queues.set(oc.id, q);
    this.unsync.push(checkpoints.addSync(() => q.sync()));
    return q;
  }

  /** Give up on in-flight deliveries now: retries stop, unacknowledged records stay uncommitted. */
  abortOutputs(reason = 'aborted'): void {
    this.outputAbort.abort(new Error(reason));
  }

  /** Records skipped by the `keep` predicate (backfill time window). */
  skipped = 0;

  private route(tag: string): Route {
    let r = this.routes.get(tag);
    if (!r) {
      const filters = this.filters.filter((f) => f.match(tag));
      r = {
        filters,
        outputs: this.outputs.filter((o) => o.match(tag)),
        holds: filters.some((f) => f.holds),
      };
      if (this.routes.size > 50_000) this.routes.clear();
      this.routes.set(tag, r);
    }
    return r;
  }

  private emit(inputId: string, batch: InputBatch): Promise<void> | undefined {
    const { metrics } = this.deps;
    const token = batch.token;
    const inCount = batch.records.length;
    metrics.inputRecords.inc({ component: inputId }, inCount);
    const route = this.route(batch.tag);
    const row = this.deps.ledger?.row(inputId, batch.tag);
    if (route.holds) return this.emitHolding(inputId, batch, route, row);
    let records: LogRecord[] = batch.records;
    for (const f of route.filters) {
      if (records.length === 0) break;
      try {
        records = f.filter.process(records, batch.tag);
      } catch (e) {
        records = this.filterThrew(f, e, records);
      }
    }
    const keep = this.deps.keep;
    if (keep && records.length > 0) {
      const kept = records.filter(keep);
      this.skipped += records.length - kept.length;
      records = kept;
    }
    if (row) {
      row.read += inCount;
      row.filtered += inCount - records.length;
      row.lastRead = Date.now();
    }
    this.publishTap(inputId, batch.tag, route, records);
    let bytes =
      records.length === inCount
        ? batch.bytes
        : Math.ceil((batch.bytes * records.length) / Math.max(1, inCount));
    if (route.filters.length > 0) {
      // Parsing makes records several times larger than the lines they came from: account for
      // what they hold now, so the budget bounds real memory. Never less than the input counted
      // (it knows what it attached, e.g. kubernetes metadata, which the estimate does not see).
      let est = 0;
      for (let i = 0; i < records.length; i++) est += estimateBytes(records[i]);
      if (est > bytes) bytes = est;
    }
    this.dispatch(inputId, batch.tag, route, records, bytes, token, undefined, row);
    return this.backpressure(route);
  }

  /** `/tap` readers get the records leaving the filters (made cheap when nobody reads). */
  private publishTap(source: string, tag: string, route: Route, records: LogRecord[]): void {
    const tap = this.deps.tap;
    if (tap !== undefined && tap.active && records.length > 0)
      tap.publish(source, tag, records, (route.outputIds ??= route.outputs.map((o) => o.id)));
  }

  private filterThrew(f: FilterSlot, e: unknown, records: LogRecord[]): LogRecord[] {
    // A filter bug must not lose records: pass the batch on unfiltered and say so.
    this.deps.log.error('filter threw; batch passed on unfiltered', {
      component: f.id,
      error: (e as Error).message,
    });
    this.deps.metrics.filterRecords.inc({ component: f.id, result: 'error' }, records.length);
    return records;
  }

  /**
   * The emit path of a route with a holding filter (multiline): the filters get the batch's
   * token to retain while they hold its records, and tokens they carry back with released
   * records are released only when those records are acknowledged. Bytes are counted per record.
   */
  private emitHolding(
    inputId: string,
    batch: InputBatch,
    route: Route,
    row: LedgerRow | undefined,
  ): Promise<void> | undefined {
    const token = batch.token;
    const carried: AckToken[] = [];
    const hold: HoldContext = { token, carry: (t) => void carried.push(t) };
    const inCount = batch.records.length;
    const records = this.runFilters(route, 0, batch.tag, batch.records, hold);
    let bytes = 0;
    for (let i = 0; i < records.length; i++) bytes += estimateBytes(records[i]);
    const scaled = Math.ceil((batch.bytes * records.length) / Math.max(1, inCount));
    if (scaled > bytes) bytes = scaled;
    // Ledger: lines a holding filter joined into a record (or still holds) count as filtered;
    // records it releases later (inject) are delivered without being read again.
    if (row) {
      row.read += inCount;
      row.filtered += inCount - records.length;
      row.lastRead = Date.now();
    }
    this.publishTap(inputId, batch.tag, route, records);
    this.dispatch(inputId, batch.tag, route, records, bytes, token, carried, row);
    return this.backpressure(route);
  }

  /** Filters `from..` of a route over records; holding filters get `hold`. */
  private runFilters(
    route: Route,
    from: number,
    tag: string,
    input: LogRecord[],
    hold: HoldContext,
  ): LogRecord[] {
    let records = input;
    const keep = this.deps.keep;
    for (let i = from; i < route.filters.length; i++) {
      const f = route.filters[i];
      if (records.length === 0) break;
      try {
        records = f.holds ? f.filter.process(records, tag, hold) : f.filter.process(records, tag);
      } catch (e) {
        records = this.filterThrew(f, e, records);
      }
    }
    if (keep && records.length > 0) {
      const kept = records.filter(keep);
      this.skipped += records.length - kept.length;
      records = kept;
    }
    return records;
  }

  /** Records a holding filter released on its own (timer flush, stop): the filters after it, then the outputs. */
  private inject(filterId: string, tag: string, records: LogRecord[], carried: AckToken[]): void {
    const route = this.route(tag);
    const at = route.filters.findIndex((f) => f.id === filterId);
    const more: AckToken[] = carried.slice();
    const hold: HoldContext = { token: undefined, carry: (t) => void more.push(t) };
    const out = this.runFilters(route, at + 1, tag, records, hold);
    this.publishTap(filterId, tag, route, out);
    this.dispatch(undefined, tag, route, out, -1, undefined, more, undefined);
  }

  /**
   * Hand records to the outputs of a route. `bytes` < 0: estimate per record. `token` is the
   * emitting input's reference (released here); `carried` are references a holding filter
   * passed on (each released here too, and retained per output until its ack).
   */
  private dispatch(
    inputId: string | undefined,
    tag: string,
    route: Route,
    records: LogRecord[],
    bytesIn: number,
    token: AckToken | undefined,
    carried: AckToken[] | undefined,
    row: LedgerRow | undefined,
  ): void {
    const { metrics } = this.deps;
    let bytes = bytesIn;
    if (bytes < 0) {
      bytes = 0;
      for (let i = 0; i < records.length; i++) bytes += estimateBytes(records[i]);
    }
    const hasCarried = carried !== undefined && carried.length > 0;
    const targets: OutputSlot[] = [];
    if (records.length > 0) {
      if (route.outputs.length === 0) {
        this.unrouted += records.length;
        metrics.droppedRecords.inc(
          { component: inputId ?? 'filter', reason: 'no_route' },
          records.length,
        );
      }
      for (const o of route.outputs) {
        if (o.dropWhenFull && o.bytes >= o.limit) {
          metrics.droppedRecords.inc({ component: o.id, reason: 'buffer_full' }, records.length);
          metrics.outputRecords.inc({ component: o.id, result: 'dropped' }, records.length);
          continue;
        }
        targets.push(o);
      }
    }
    if (targets.length > 0) {
      this.globalBytes += bytes;
      const shared = { left: targets.length };
      const n = records.length;
      if (row) row.inFlight += n;
      for (const o of targets) {
        token?.retain();
        if (hasCarried) for (const t of carried) t.retain();
        o.bytes += bytes;
        let acked = false;
        o.output.write({
          tag,
          records,
          bytes,
          ack: () => {
            if (acked) return;
            acked = true;
            o.bytes -= bytes;
            if (--shared.left === 0) {
              this.globalBytes -= bytes;
              if (row) row.inFlight -= n;
            }
            token?.release();
            if (hasCarried) for (const t of carried) t.release();
            this.wake();
          },
        });
      }
      this.updateBufferGauges();
    } else if (row) row.dropped += records.length;
    token?.release();
    if (hasCarried) for (const t of carried) t.release();
  }

  /** Backpressure: wait while any output this tag feeds, or the global budget, is full. */
  private backpressure(route: Route): Promise<void> | undefined {
    let pressure: Promise<void> | undefined;
    for (const f of route.filters) {
      const p = f.filter.pressure?.();
      if (p) pressure = pressure ? Promise.all([pressure, p]).then(() => undefined) : p;
    }
    const blocking = route.outputs.filter((o) => !o.dropWhenFull);
    if (
      this.state !== 'stopping' &&
      (this.globalBytes >= this.memoryLimit || blocking.some((o) => o.bytes >= o.limit))
    ) {
      const room = new Promise<void>((resolve) =>
        this.waiters.push({ outputs: blocking, resolve }),
      );
      return pressure ? Promise.all([pressure, room]).then(() => undefined) : room;
    }
    return pressure;
  }

  private lastGaugeUpdate = 0;
  private wake(): void {
    const now = Date.now();
    if (now - this.lastGaugeUpdate > 250) this.updateBufferGauges(now);
    if (this.waiters.length === 0) return;
    if (this.globalBytes >= this.memoryLimit) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.outputs.some((o) => o.bytes >= o.limit)) still.push(w);
      else w.resolve();
    }
    this.waiters = still;
  }

  private updateBufferGauges(now = Date.now()): void {
    this.lastGaugeUpdate = now;
    for (const o of this.outputs) {
      this.deps.metrics.bufferBytes.set({ component: o.id }, o.bytes);
      // Read again at every scrape (0 once delivered, even with no new activity), and health.
      this.deps.metrics.buffers.set(o.id, () => o.bytes);
      this.deps.metrics.outputHealth.set(
        o.id,
        () => this.outputHealth().find((h) => h.id === o.id)?.ok ?? true,
      );
    }
  }
}

/** Run a component factory; a ConfigError it throws gets the component's location. */
function located<T>(source: ComponentSource, config: { id: string }, create: () => T): T {
  try {
    return create();
  } catch (e) {
    if (e instanceof ConfigError && source.locate) throw source.locate(e, config, config.id);
    throw e;
  }
}

async function safeStop(id: string, c: Lifecycle, log: Logger): Promise<void> {
  try {
    await c.stop();
  } catch (e) {
    log.error('component failed to stop cleanly', { component: id, error: (e as Error).message });
  }
}
