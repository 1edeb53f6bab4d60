// The pipeline: inputs → router (tag/match) → filters (sync, per batch) → fan-out → outputs.
// Every output has a byte budget; a batch counts against it until that output acknowledges it.
// When a budget (or service.memory_limit) is exhausted, emit() hands the input a promise and the
// input stops reading until there is room: files and the journal are the buffer.
//
// This file: the Pipeline's lifecycle (start, drain, stop with its deadline) and its reports
// (/readyz problems, /status output state, output health). Building the components:
// pipeline-build.ts; the data path (routing, filters, fan-out, budgets): pipeline-flow.ts;
// the types: pipeline-types.ts.

import type { Logger } from '../telemetry/logger.js';
import type { Lifecycle } from './component.js';
import { buildFilters, buildInputs, buildOutputs } from './pipeline-build.js';
import { Flow, outputHealth } from './pipeline-flow.js';
import type {
  FilterSlot,
  InputSlot,
  OutputSlot,
  OutputState,
  PipelineConfig,
  PipelineDeps,
} from './pipeline-types.js';
import { QueueBudget } from './queue.js';

export type {
  ComponentSource,
  OutputState,
  PipelineConfig,
  PipelineDeps,
} from './pipeline-types.js';

export class Pipeline {
  private readonly inputs: InputSlot[];
  private readonly filters: FilterSlot[];
  private readonly outputs: OutputSlot[];
  private readonly flow: Flow;
  private readonly outputAbort = new AbortController();
  private readonly unsync: Array<() => void> = [];
  private state: 'built' | 'started' | 'stopping' | 'stopped' = 'built';
  private stopPromise: Promise<void> | undefined;

  constructor(
    readonly config: PipelineConfig,
    private readonly deps: PipelineDeps,
  ) {
    const signal = this.outputAbort.signal;
    const budget = new QueueBudget(config.service.queue_max_size);
    this.outputs = buildOutputs(config, deps, signal, {
      config,
      deps,
      budget,
      unsync: this.unsync,
    });
    this.filters = buildFilters(config, deps, signal, (id, tag, records, carried) =>
      this.flow.inject(id, tag, records, carried),
    );
    this.flow = new Flow(
      this.outputs,
      this.filters,
      config.service.memory_limit,
      deps,
      () => this.state === 'stopping',
    );
    let holdMs: number | undefined;
    for (const s of this.filters)
      if (s.filter.holdTimeoutMs !== undefined)
        holdMs = Math.min(holdMs ?? Infinity, s.filter.holdTimeoutMs);
    this.inputs = buildInputs(config, deps, (id, batch) => this.flow.emit(id, batch), holdMs);
    this.flow.updateBufferGauges();
  }

  /** Records dropped because no output matched their tag. */
  get unrouted(): number {
    return this.flow.unrouted;
  }

  /** Records skipped by the `keep` predicate (backfill time window). */
  get skipped(): number {
    return this.flow.skipped;
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
    return outputHealth(this.outputs);
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
      this.flow.releaseWaiters();
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

  /** Give up on in-flight deliveries now: retries stop, unacknowledged records stay uncommitted. */
  abortOutputs(reason = 'aborted'): void {
    this.outputAbort.abort(new Error(reason));
  }
}

async function safeStop(id: string, c: Lifecycle, log: Logger): Promise<void> {
  try {
    await c.stop();
  } catch (e) {
    log.error('component failed to stop cleanly', { component: id, error: (e as Error).message });
  }
}
