// Building a pipeline's components from its config: each output (with its dead-letter writer,
// memory budget and, for buffer.type disk, its disk queue — owned by the output or put in front
// of it as a QueuedOutput), each filter and each input (with its checkpoint sources), through
// the component definitions the caller gave (PipelineDeps.components).

import * as path from 'node:path';
import { ledgerLogger } from '../telemetry/ledger.js';
import type { Logger } from '../telemetry/logger.js';
import { SourceTracker, type AckToken } from './acks.js';
import type { Output } from './component.js';
import { createDeadLetterWriter } from './dead-letter.js';
import { ConfigError } from './errors.js';
import { compileMatch } from './glob.js';
import type {
  ComponentSource,
  FilterSlot,
  InputSlot,
  OutputSlot,
  PipelineConfig,
  PipelineDeps,
} from './pipeline-types.js';
import { DiskQueue, type QueueBudget } from './queue.js';
import { QueuedOutput } from './queued-output.js';
import { newRecord, type InputBatch, type LogRecord } from './record.js';

type DeadLetter = ReturnType<typeof createDeadLetterWriter>;
type OutputConfig = PipelineConfig['pipeline']['outputs'][number];

/** What opening the disk queues needs from the pipeline. */
export interface QueueContext {
  config: PipelineConfig;
  deps: PipelineDeps;
  budget: QueueBudget;
  /** Unsubscribe functions of the checkpoint-store syncs, called at stop. */
  unsync: Array<() => void>;
}

export function buildOutputs(
  config: PipelineConfig,
  deps: PipelineDeps,
  signal: AbortSignal,
  queues: QueueContext,
): OutputSlot[] {
  const { log, metrics, ledger } = deps;
  const dataDir = config.service.data_dir;
  const dlMax = config.service.dead_letter?.max_size;
  const outCount = Math.max(1, config.pipeline.outputs.length);
  const memoryLimit = config.service.memory_limit;
  const out: OutputSlot[] = [];
  for (const oc of config.pipeline.outputs) {
    const def = deps.components.getDef('output', oc.type);
    let clog = log.child({ component: oc.id, type: oc.type });
    if (ledger) clog = ledgerLogger(clog, oc.id, ledger);
    const limit = oc.buffer.max_bytes ?? Math.floor(memoryLimit / outCount);
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
            (slot.queue = await openQueue(queues, oc, oc.buffer.type === 'disk', clog, deadLetter))
        : undefined;
    let output: Output = located(deps.components, oc, () =>
      def.create(oc as never, {
        bufferLimit: limit,
        id: oc.id,
        type: oc.type,
        log: clog,
        metrics,
        dataDir,
        signal,
        deadLetter,
        queue: def.ownsQueue ? queue : undefined,
      }),
    );
    if (queue && !def.ownsQueue)
      output = new QueuedOutput(output, queue, limit, clog, deadLetter, signal);
    out.push({
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
  return out;
}

export function buildFilters(
  config: PipelineConfig,
  deps: PipelineDeps,
  signal: AbortSignal,
  inject: (filterId: string, tag: string, records: LogRecord[], carried: AckToken[]) => void,
): FilterSlot[] {
  const { log, metrics, ledger } = deps;
  const dataDir = config.service.data_dir;
  const dlMax = config.service.dead_letter?.max_size;
  const out: FilterSlot[] = [];
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
        signal,
        deadLetter: createDeadLetterWriter(
          dataDir,
          fc.id,
          clog,
          metrics,
          (tag, n) => ledger?.deadLettered(tag, n, 'filter'),
          dlMax,
        ),
        inject: (tag, records, carried) => inject(id, tag, records, carried),
      }),
    );
    out.push({
      id,
      filter,
      match: compileMatch(fc.match),
      holds: filter.holds === true,
    });
  }
  return out;
}

export function buildInputs(
  config: PipelineConfig,
  deps: PipelineDeps,
  emit: (inputId: string, batch: InputBatch) => Promise<void> | undefined,
  holdTimeoutMs?: number,
): InputSlot[] {
  const { log, metrics, ledger } = deps;
  const dataDir = config.service.data_dir;
  const out: InputSlot[] = [];
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
        holdTimeoutMs,
        emit: (batch) => emit(id, batch),
        source: (key) => new SourceTracker(prefix + key, store, store.get(prefix + key)),
        forget: (key) => store.delete(prefix + key),
        savedSources: () =>
          [...store.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
      }),
    );
    out.push({ id, input, abort });
  }
  return out;
}

/** Open an output's disk queue; in a defaulted disk mode a failure falls back to memory. */
async function openQueue(
  ctx: QueueContext,
  oc: Pick<OutputConfig, 'id'> & { buffer: { max_size: number } },
  explicit: boolean,
  log: Logger,
  deadLetter: DeadLetter,
): Promise<DiskQueue | undefined> {
  const { metrics, checkpoints } = ctx.deps;
  const dir = path.join(ctx.config.service.data_dir, 'queue', oc.id);
  let q: DiskQueue;
  try {
    q = await DiskQueue.open({
      dir,
      maxBytes: oc.buffer.max_size,
      budget: ctx.budget,
      // Delivered chunks are resent after a crash since the last save: as often as checkpoints.
      pointerIntervalMs: ctx.config.service.checkpoint_interval,
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
  ctx.unsync.push(checkpoints.addSync(() => q.sync()));
  return q;
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
