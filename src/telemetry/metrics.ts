// shiplog's own metrics (prom-client), one registry per process so that a config reload keeps
// the counters. Names are the contract in DESIGN.md; every series is labelled by component id.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly inputRecords: Counter<'component'>;
  readonly inputBytes: Counter<'component'>;
  readonly outputRecords: Counter<'component' | 'result'>;
  readonly outputRequests: Counter<'component' | 'status'>;
  readonly outputLatency: Histogram<'component'>;
  readonly bufferBytes: Gauge<'component'>;
  readonly filterRecords: Counter<'component' | 'result'>;
  readonly droppedRecords: Counter<'component' | 'reason'>;
  readonly fileLagBytes: Gauge<'component'>;
  readonly checkpointWriteFailures: Counter;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    const p = 'shiplog_';
    this.inputRecords = new Counter({
      name: `${p}input_records_total`,
      help: 'Records read by an input.',
      labelNames: ['component'],
      registers: [r],
    });
    this.inputBytes = new Counter({
      name: `${p}input_bytes_total`,
      help: 'Bytes read by an input.',
      labelNames: ['component'],
      registers: [r],
    });
    this.outputRecords = new Counter({
      name: `${p}output_records_total`,
      help: 'Records handled by an output, by result: sent, retried, dead_lettered, dropped.',
      labelNames: ['component', 'result'],
      registers: [r],
    });
    this.outputRequests = new Counter({
      name: `${p}output_requests_total`,
      help: 'Requests made by an output, by status (HTTP code, "ok", or an error class).',
      labelNames: ['component', 'status'],
      registers: [r],
    });
    this.outputLatency = new Histogram({
      name: `${p}output_latency_seconds`,
      help: 'Duration of one output request.',
      labelNames: ['component'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [r],
    });
    this.bufferBytes = new Gauge({
      name: `${p}buffer_bytes`,
      help: 'Bytes buffered for an output and not yet acknowledged.',
      labelNames: ['component'],
      registers: [r],
    });
    this.filterRecords = new Counter({
      name: `${p}filter_records_total`,
      help: 'Records seen by a filter, by result: passed, modified, dropped, error.',
      labelNames: ['component', 'result'],
      registers: [r],
    });
    this.droppedRecords = new Counter({
      name: `${p}dropped_records_total`,
      help: 'Records dropped, by reason.',
      labelNames: ['component', 'reason'],
      registers: [r],
    });
    this.fileLagBytes = new Gauge({
      name: `${p}file_lag_bytes`,
      help: 'Bytes written to sources but not yet committed (acknowledged by every output), per input.',
      labelNames: ['component'],
      registers: [r],
    });
    this.checkpointWriteFailures = new Counter({
      name: `${p}checkpoint_write_failures_total`,
      help: 'Failed checkpoint file writes.',
      registers: [r],
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, prefix: p });
  }
}
