// `demo`: generates realistic agent-log records at a set rate (or as fast as the pipeline takes
// them), for trying shiplog out and for benchmarks. Respects backpressure like any input.

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { defineInput, type Input } from '../../../core/component.js';
import type { LogRecord } from '../../../core/record.js';
import { abortableSleep } from '../../../core/retry.js';
import { options } from './config.js';
import { DemoGenerator } from './generate.js';

export default defineInput({
  kind: 'input',
  type: 'demo',
  description:
    'Generates realistic agent-log records at a set rate (for trying shiplog and for benchmarks).',
  options,
  create(config, ctx): Input {
    const gen = new DemoGenerator(config.seed);
    let loop: Promise<void> | undefined;
    let emitted = 0;
    const run = async (): Promise<void> => {
      const started = performance.now();
      const { rate, count, batch_size: batchSize } = config;
      while (!ctx.signal.aborted && (count === 0 || emitted < count)) {
        let n = batchSize;
        if (rate > 0) {
          const due = Math.floor(((performance.now() - started) / 1000) * rate) - emitted;
          if (due <= 0) {
            await abortableSleep(Math.max(1, Math.min(100, 1000 / rate)), ctx.signal).catch(
              () => undefined,
            );
            continue;
          }
          n = Math.min(n, due);
        }
        if (count > 0) n = Math.min(n, count - emitted);
        const now = Date.now();
        const ts = new Date(now).toISOString();
        const records: LogRecord[] = new Array(n);
        let bytes = 0;
        for (let i = 0; i < n; i++) {
          const fields = gen.record(ts);
          if (config.format === 'line') {
            const line = JSON.stringify(fields);
            bytes += line.length + 200;
            records[i] = { fields: { message: line }, timeMs: now, timeNs: 0 };
          } else {
            bytes += 800; // measured: ~1 KB of heap per structured record (fields, nested context)
            records[i] = { fields, timeMs: now, timeNs: 0 };
          }
        }
        emitted += n;
        ctx.metrics.inputBytes.inc({ component: ctx.id }, bytes);
        const wait = ctx.emit({ tag: ctx.tag, records, bytes });
        if (wait) await wait;
        else await yieldToLoop();
      }
    };
    return {
      async start() {
        loop ??= run().catch((e: Error) =>
          ctx.log.error('demo input failed', { error: e.message }),
        );
      },
      async stop() {
        await loop;
      },
      async drained() {
        await loop;
      },
    };
  },
});
