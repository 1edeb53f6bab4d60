// In-process pipeline harness: build a pipeline from a config object (as YAML would give it),
// with a `capture` output that records what it receives and whose acknowledgements a test can
// hold back, release, or fail.

import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { stringify } from 'yaml';
import { CheckpointStore } from '../../src/core/checkpoint-store.js';
import { defineInput, defineOutput, type Input, type Output } from '../../src/core/component.js';
import { Pipeline } from '../../src/core/pipeline.js';
import type { LogRecord, OutputBatch } from '../../src/core/record.js';
import { register } from '../../src/components/registry.js';
import { parseConfig, pipelineComponents } from '../../src/config/load.js';
import { createLogger, nullLogger, type Logger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';

export interface Capture {
  /** Every batch received, in order. */
  batches: OutputBatch[];
  records: Array<{ tag: string; record: LogRecord }>;
  /** When false, batches are held unacknowledged until release(). */
  autoAck: boolean;
  held: OutputBatch[];
  release(n?: number): void;
  /** Resolves when at least `n` records were received. */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
}

const captures = new Map<string, Capture>();

export function capture(id: string): Capture {
  const c = captures.get(id);
  if (!c) throw new Error(`no capture output ${id}`);
  return c;
}

register(
  defineOutput({
    kind: 'output',
    type: 'capture',
    // Tests hold and release acks by hand: a disk queue in front would acknowledge on its own.
    defaultBuffer: 'memory',
    description: 'Test output: records what it receives.',
    options: z.object({ auto_ack: z.boolean().default(true) }),
    create(config, ctx): Output {
      const waiters: Array<{ n: number; resolve: () => void }> = [];
      const c: Capture = {
        batches: [],
        records: [],
        autoAck: config.auto_ack,
        held: [],
        release(n = Infinity) {
          while (n-- > 0 && this.held.length) this.held.shift()!.ack();
        },
        waitFor(n, timeoutMs = 20_000) {
          if (this.records.length >= n) return Promise.resolve();
          return new Promise((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`timeout: ${this.records.length}/${n} records`)),
              timeoutMs,
            );
            waiters.push({
              n,
              resolve: () => {
                clearTimeout(t);
                resolve();
              },
            });
          });
        },
      };
      captures.set(ctx.id, c);
      return {
        async start() {},
        write(batch) {
          c.batches.push(batch);
          for (const record of batch.records) c.records.push({ tag: batch.tag, record });
          if (c.autoAck) batch.ack();
          else c.held.push(batch);
          for (let i = waiters.length - 1; i >= 0; i--) {
            if (c.records.length >= waiters[i].n) {
              waiters[i].resolve();
              waiters.splice(i, 1);
            }
          }
        },
        async stop() {},
      };
    },
  }),
);

export interface Harness {
  pipeline: Pipeline;
  store: CheckpointStore;
  metrics: Metrics;
  dataDir: string;
  log: Logger;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'shiplog-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Build and start a pipeline from a config object. `service.data_dir` defaults to a fresh temp
 * dir; pass `dataDir` to reuse one (restart scenarios).
 */
export async function startPipeline(
  config: Record<string, unknown>,
  opts: { dataDir?: string; verbose?: boolean; oneShot?: boolean } = {},
): Promise<Harness> {
  const dataDir = opts.dataDir ?? tempDir();
  const service = { ...((config.service as Record<string, unknown>) ?? {}), data_dir: dataDir };
  const parsed = parseConfig(stringify({ ...config, service }), 'test.yaml', { env: process.env });
  const log = opts.verbose ? createLogger({ level: 'debug' }) : nullLogger;
  const metrics = new Metrics({ defaultMetrics: false });
  const store = new CheckpointStore(
    path.join(dataDir, 'checkpoints.json'),
    log,
    parsed.service.checkpoint_interval,
  );
  await store.load();
  const pipeline = new Pipeline(parsed, {
    components: pipelineComponents(),
    log,
    metrics,
    checkpoints: store,
    oneShot: opts.oneShot,
  });
  await pipeline.start();
  store.start();
  return {
    pipeline,
    store,
    metrics,
    dataDir,
    log,
    async stop() {
      await pipeline.stop(Date.now() + 5000);
      await store.stop();
    },
  };
}

export interface SourceControl {
  /**
   * Emit a batch of `n` records ending at `position` (stamped `timeMs`, default now); returns
   * the pipeline's backpressure promise.
   */
  emit(n: number, position: number, timeMs?: number): Promise<void> | undefined;
  committed(): unknown;
}

const sources = new Map<string, SourceControl>();

export function source(id: string): SourceControl {
  const s = sources.get(id);
  if (!s) throw new Error(`no test_source input ${id}`);
  return s;
}

// A test input driven by the test: emits batches tied to checkpoint positions of one source.
register(
  defineInput({
    kind: 'input',
    type: 'test_source',
    description: 'Test input: emits batches on demand with checkpoint positions.',
    options: z.object({ key: z.string().default('s') }),
    create(config, ctx): Input {
      const key = config.key;
      const tracker = ctx.source(key);
      let seq = 0;
      sources.set(ctx.id, {
        emit(n, position, timeMs) {
          const records: LogRecord[] = [];
          for (let i = 0; i < n; i++)
            records.push({
              fields: { message: `line ${seq++}` },
              timeMs: timeMs ?? Date.now(),
              timeNs: 0,
            });
          return ctx.emit({
            tag: ctx.tag,
            records,
            bytes: n * 100,
            token: tracker.track(position),
          });
        },
        committed: () => tracker.committed,
      });
      return { async start() {}, async stop() {} };
    },
  }),
);
