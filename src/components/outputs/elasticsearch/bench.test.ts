// Throughput of demo(format: line) → elasticsearch into a discarding (count-only) receiver that
// runs in a child process, so the CPU measured here is shiplog's alone. A baseline run into a
// discarding output gives the cost of generating the records, which is subtracted.
// Run: SHIPLOG_BENCH=1 npx vitest run src/components/outputs/elasticsearch/bench.test.ts
// (SHIPLOG_BENCH_RECORDS to change the count, default 1,000,000).

import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startPipeline, tempDir } from '../../../../test/helpers/harness.js';
import { defineOutput } from '../../../core/component.js';
import { register } from '../../registry.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.SHIPLOG_BENCH_RECORDS ?? 1_000_000);

register(
  defineOutput({
    kind: 'output',
    type: 'es_bench_null',
    description: 'Bench baseline: acknowledges and discards.',
    options: z.object({}),
    create() {
      return {
        async start() {},
        write(batch) {
          batch.ack();
        },
        async stop() {},
      };
    },
  }) as never,
);

interface ChildStats {
  counted: number;
  bulks: number;
  bytes: number;
  cpuMs: number;
}

async function startReceiverProcess(): Promise<{
  url: string;
  child: ChildProcess;
  stats(): Promise<ChildStats>;
}> {
  const dir = tempDir('es-bench-');
  const entry = path.join(dir, 'entry.ts');
  writeFileSync(
    entry,
    `import { EsReceiver } from ${JSON.stringify(path.resolve(here, '../../../../test/receivers/elasticsearch.ts'))};
const r = await EsReceiver.start({ countOnly: true });
process.send!({ url: r.url });
process.on('message', () => {
  const u = process.cpuUsage();
  process.send!({ counted: r.stats.counted, bulks: r.stats.bulkRequests, bytes: r.stats.bytes, cpuMs: (u.user + u.system) / 1000 });
});
process.on('disconnect', () => void r.close());
`,
  );
  const out = path.join(dir, 'receiver.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: out,
  });
  const child = fork(out, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve) =>
    child.once('message', (m) => resolve((m as { url: string }).url)),
  );
  return {
    url,
    child,
    stats: () =>
      new Promise<ChildStats>((resolve) => {
        child.once('message', (m) => resolve(m as ChildStats));
        child.send('stats');
      }),
  };
}

async function run(
  output: Record<string, unknown>,
): Promise<{ wall: number; cpu: number; rss: number }> {
  let rss = 0;
  const sample = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const h = await startPipeline({
    service: { memory_limit: '128MiB' },
    pipeline: {
      inputs: [{ type: 'demo', rate: 0, count: N, batch_size: 4096, format: 'line' }],
      outputs: [output],
    },
  });
  await h.pipeline.drained();
  await h.pipeline.idle();
  await h.stop();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  clearInterval(sample);
  return { wall, cpu: (c.user + c.system) / 1e6, rss };
}

describe.skipIf(!process.env.SHIPLOG_BENCH)('bench: demo(line) → elasticsearch', () => {
  it(`${N} records`, async () => {
    const rcv = await startReceiverProcess();
    try {
      const base = await run({ type: 'es_bench_null' });
      const es = await run({ type: 'elasticsearch', url: rcv.url });
      const gz = await run({ type: 'elasticsearch', url: rcv.url, compression: 'gzip' });
      const s = await rcv.stats();
      expect(s.counted).toBe(2 * N);
      const perM = (cpu: number) => ((cpu - base.cpu) / N) * 1e6;
      const line = (name: string, r: { wall: number; cpu: number; rss: number }) =>
        `${name}: ${Math.round(N / r.wall).toLocaleString('en')} records/s, ${r.wall.toFixed(2)}s wall, ` +
        `CPU ${r.cpu.toFixed(2)}s (output share ${perM(r.cpu).toFixed(2)}s per million), peak RSS ${Math.round(r.rss / 2 ** 20)} MiB`;
      console.log(
        [
          `baseline demo → null: ${Math.round(N / base.wall).toLocaleString('en')} records/s, CPU ${base.cpu.toFixed(2)}s`,
          line('elasticsearch', es),
          line('elasticsearch gzip', gz),
          `receiver (child): ${s.bulks} bulks, ${(s.bytes / 2 ** 20).toFixed(0)} MiB on the wire, CPU ${(s.cpuMs / 1000).toFixed(2)}s`,
        ].join('\n'),
      );
    } finally {
      rcv.child.disconnect();
    }
  }, 600_000);
});
