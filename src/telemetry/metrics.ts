// shiplog's own metrics (prom-client), one registry per process so that a config reload keeps
// the counters. Names are the contract in DESIGN.md; every series is labelled by component id.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the queue gauges read from a disk queue. */
export interface QueueStats {
  readonly bytes: number;
  readonly records: number;
  oldestTime(): Promise<number | undefined>;
}

const build = { version: 'unknown' };

/** The version shiplog_build_info reports (the CLI sets it from package.json). */
export function setBuildVersion(version: string): void {
  build.version = version;
}

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
  readonly deadLetterBytes: Gauge<'component'>;
  readonly deadLetterDiscarded: Counter<'component'>;
  readonly queueBytes: Gauge<'component'>;
  readonly queueRecords: Gauge<'component'>;
  readonly queueOldestAge: Gauge<'component'>;
  readonly queueCorrupt: Counter<'component'>;
  /** Disk queues by output id, read when /metrics is scraped. */
  readonly queues = new Map<string, QueueStats>();
  /** Bytes buffered (not yet acknowledged) per output id, read when /metrics is scraped. */
  readonly buffers = new Map<string, () => number>();
  /** Whether an output delivers (backend reachable, queue not full), read at scrape time. */
  readonly outputHealth = new Map<string, () => boolean>();
  readonly outputHealthy: Gauge<'component'>;
  readonly buildInfo: Gauge<'version' | 'node'>;

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
    const buffers = this.buffers;
    this.bufferBytes = new Gauge({
      name: `${p}buffer_bytes`,
      help: 'Bytes buffered for an output and not yet acknowledged (0 once everything is delivered).',
      labelNames: ['component'],
      registers: [r],
      collect() {
        for (const [id, bytes] of buffers) this.set({ component: id }, bytes());
      },
    });
    const health = this.outputHealth;
    this.outputHealthy = new Gauge({
      name: `${p}output_healthy`,
      help: '1 while an output delivers (backend answering, queue not full), 0 while it does not. Details: GET /health/outputs.',
      labelNames: ['component'],
      registers: [r],
      collect() {
        for (const [id, ok] of health) this.set({ component: id }, ok() ? 1 : 0);
      },
    });
    this.buildInfo = new Gauge({
      name: `${p}build_info`,
      help: 'Always 1; the labels say which shiplog and which Node.js run.',
      labelNames: ['version', 'node'],
      registers: [r],
    });
    this.filterRecords = new Counter({
      name: `${p}filter_records_total`,
      help: 'Records seen by a filter, by result: passed, modified, dropped, error, time_error (time field unparsable), dead_lettered, overflow (label limit), throttled, summary (throttle summaries added), joined (lines joined into a multiline record), records (multiline records emitted).',
      labelNames: ['component', 'result'],
      registers: [r],
    });
    this.droppedRecords = new Counter({
      name: `${p}dropped_records_total`,
      help: 'Records dropped, by reason: no_route, buffer_full, grep, throttled, parse_error, malformed (journal), oversized (journal entry over max_entry_bytes), journal_gone (entries vacuumed while stopped), excluded (kubernetes), redact_failed (redact threw: dropped, never passed on unredacted).',
      labelNames: ['component', 'reason'],
      registers: [r],
    });
    this.fileLagBytes = new Gauge({
      name: `${p}file_lag_bytes`,
      help: 'Bytes written to sources but not yet committed (acknowledged by every output), per input.',
      labelNames: ['component'],
      registers: [r],
    });
    this.deadLetterBytes = new Gauge({
      name: `${p}dead_letter_bytes`,
      help: "Bytes in a component's dead-letter files (data_dir/dead_letter/<id>.ndjson and rotated).",
      labelNames: ['component'],
      registers: [r],
    });
    this.deadLetterDiscarded = new Counter({
      name: `${p}dead_letter_discarded_total`,
      help: 'Dead letters discarded: the oldest rotated file removed to stay under service.dead_letter.max_size.',
      labelNames: ['component'],
      registers: [r],
    });
    this.checkpointWriteFailures = new Counter({
      name: `${p}checkpoint_write_failures_total`,
      help: 'Failed checkpoint file writes.',
      registers: [r],
    });
    const queues = this.queues;
    this.queueBytes = new Gauge({
      name: `${p}queue_bytes`,
      help: "Bytes in an output's disk queue (segment files).",
      labelNames: ['component'],
      registers: [r],
      collect() {
        for (const [id, q] of queues) this.set({ component: id }, q.bytes);
      },
    });
    this.queueRecords = new Gauge({
      name: `${p}queue_records`,
      help: "Records in an output's disk queue not yet delivered.",
      labelNames: ['component'],
      registers: [r],
      collect() {
        for (const [id, q] of queues) this.set({ component: id }, q.records);
      },
    });
    this.queueOldestAge = new Gauge({
      name: `${p}queue_oldest_age_seconds`,
      help: "Age of the oldest undelivered chunk in an output's disk queue (0 when empty).",
      labelNames: ['component'],
      registers: [r],
      async collect() {
        const now = Date.now();
        for (const [id, q] of queues) {
          const t = await q.oldestTime();
          this.set({ component: id }, t === undefined ? 0 : Math.max(0, (now - t) / 1000));
        }
      },
    });
    this.queueCorrupt = new Counter({
      name: `${p}queue_corrupt_frames_total`,
      help: 'Disk-queue frames that failed their checks (skipped and dead-lettered).',
      labelNames: ['component'],
      registers: [r],
    });
    this.buildInfo.set({ version: build.version, node: process.versions.node }, 1);
    // Unprefixed (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_heap_*,
    // nodejs_eventloop_lag_*): the names generic Node.js dashboards and alerts query.
    // The event-loop-delay histogram samples at 100 ms instead of prom-client's 10 ms: its timer
    // woke the process 100 times a second, about half of W5's idle CPU (issue #22); lags that
    // matter (a blocked loop) last longer than that.
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: 100 });
  }
}
