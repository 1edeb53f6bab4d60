// Per-result record counts for a filter (`shiplog_filter_records_total{component,result}`). Filters
// count into plain numbers while walking a batch and flush once per batch: a metric update per
// record would cost more than most filters themselves.

import type { Counter } from 'prom-client';
import type { Metrics } from '../../../telemetry/metrics.js';

type Child = ReturnType<Counter<'component' | 'result'>['labels']>;

export class Results {
  private readonly children = new Map<string, Child>();

  constructor(
    private readonly metrics: Metrics,
    private readonly component: string,
  ) {}

  /** Add `n` records with `result`; no-op for n = 0. */
  add(result: string, n: number): void {
    if (n <= 0) return;
    let c = this.children.get(result);
    if (!c) {
      c = this.metrics.filterRecords.labels({ component: this.component, result });
      this.children.set(result, c);
    }
    c.inc(n);
  }

  /** Count records dropped by this filter under `shiplog_dropped_records_total{reason}` too. */
  dropped(reason: string, n: number): void {
    if (n <= 0) return;
    this.metrics.droppedRecords.inc({ component: this.component, reason }, n);
  }
}
