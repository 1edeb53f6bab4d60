// The pipeline's data path: a batch an input emits is routed by its tag (filters and outputs
// matching it), filtered (synchronously; holding filters such as multiline retain the batch's
// checkpoint token and carry it to the records they release later), then fanned out to every
// output, each counting the batch against its byte budget until it acknowledges it. A full
// budget (or service.memory_limit) hands the input a promise: backpressure.

import type { LedgerRow } from '../telemetry/ledger.js';
import type { AckToken } from './acks.js';
import type { HoldContext } from './component.js';
import type { FilterSlot, OutputSlot, PipelineDeps, Route, Waiter } from './pipeline-types.js';
import { estimateBytes, type InputBatch, type LogRecord } from './record.js';

/** Each output's delivery health (its backend, its queue), for /health/outputs and metrics. */
export function outputHealth(
  outputs: OutputSlot[],
): Array<{ id: string; type: string; ok: boolean; reason?: string }> {
  return outputs.map((o) => {
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

export class Flow {
  private readonly routes = new Map<string, Route>();
  private waiters: Waiter[] = [];
  private globalBytes = 0;
  /** Records dropped because no output matched their tag. */
  unrouted = 0;

  constructor(
    private readonly outputs: OutputSlot[],
    private readonly filters: FilterSlot[],
    private readonly memoryLimit: number,
    private readonly deps: PipelineDeps,
    /** The pipeline is stopping: inputs no longer wait for room. */
    private readonly stopping: () => boolean,
  ) {}

  /** Let every input waiting for room go on (stop: so they can observe their abort). */
  releaseWaiters(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
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

  emit(inputId: string, batch: InputBatch): Promise<void> | undefined {
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
  inject(filterId: string, tag: string, records: LogRecord[], carried: AckToken[]): void {
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
      !this.stopping() &&
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

  updateBufferGauges(now = Date.now()): void {
    this.lastGaugeUpdate = now;
    for (const o of this.outputs) {
      this.deps.metrics.bufferBytes.set({ component: o.id }, o.bytes);
      // Read again at every scrape (0 once delivered, even with no new activity), and health.
      this.deps.metrics.buffers.set(o.id, () => o.bytes);
      this.deps.metrics.outputHealth.set(
        o.id,
        () => outputHealth(this.outputs).find((h) => h.id === o.id)?.ok ?? true,
      );
    }
  }
}
