// Test support for filters: a FilterContext with a private metrics registry, a log that keeps
// what it was told, and a dead-letter writer that keeps what it was given.

import type { FilterContext } from '../../../core/component.js';
import type { DeadLetter } from '../../../core/dead-letter.js';
import { newRecord, type Fields, type LogRecord } from '../../../core/record.js';
import type { Logger } from '../../../telemetry/logger.js';
import { Metrics } from '../../../telemetry/metrics.js';

export interface TestContext extends FilterContext {
  logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>;
  deadLetters: DeadLetter[];
  /** Value of shiplog_filter_records_total{component=id,result}. */
  count(result: string): Promise<number>;
}

export function testContext(id = 'f1', type = 'test'): TestContext {
  const logs: TestContext['logs'] = [];
  const log: Logger = {
    debug: (msg, fields) => logs.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => logs.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => logs.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => logs.push({ level: 'error', msg, fields }),
    child: () => log,
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const deadLetters: DeadLetter[] = [];
  return {
    id,
    type,
    log,
    metrics,
    dataDir: '/nonexistent',
    signal: new AbortController().signal,
    logs,
    deadLetters,
    deadLetter: {
      file: '/nonexistent/dead_letter.ndjson',
      write(items) {
        deadLetters.push(...items);
        return Promise.resolve();
      },
    },
    async count(result) {
      const m = await metrics.filterRecords.get();
      return (
        m.values.find((v) => v.labels.component === id && v.labels.result === result)?.value ?? 0
      );
    },
  };
}

/** A record as an input would emit a raw line. */
export function lineRecord(line: string, extra: Fields = {}): LogRecord {
  return newRecord({ ...extra, message: line }, 1_700_000_000_000, 0);
}
