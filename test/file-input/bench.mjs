#!/usr/bin/env node
// Throughput of the file input (not part of the test suite): a 2M-line file of ~280-byte JSON
// lines tailed by `shiplog backfill`-style one-shot reading into a discarding output, in this
// process. Prints lines/s, CPU seconds per million lines and peak RSS.
// Usage: npx tsc -p tsconfig.build.json && node test/file-input/bench.mjs [lines]

import { mkdtempSync, writeFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const imp = (p) => import(pathToFileURL(path.join(ROOT, 'dist', p.replace(/^src\//, ''))).href);
const { Pipeline } = await imp('src/core/pipeline.js');
const { CheckpointStore } = await imp('src/core/checkpoint-store.js');
const { parseConfig } = await imp('src/config/load.js');
const { register } = await imp('src/core/registry.js');
const { nullLogger } = await imp('src/telemetry/logger.js');
const { Metrics } = await imp('src/telemetry/metrics.js');
const { z } = await import('zod');

const N = Number(process.argv[2] ?? 2_000_000);
const dir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-file-bench-'));
const file = path.join(dir, 'app.log');
{
  const fd = openSync(file, 'w');
  let chunk = '';
  for (let i = 0; i < N; i++) {
    let l = `{"time":"2026-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z","level":"info","component":"api","correlation_id":"c-${i}","msg":"request served","path":"/v1/items/${i}","status":200,"latency_ms":${i % 97}`;
    l += `,"pad":"${'x'.repeat(Math.max(0, 277 - l.length - 9))}"}`;
    chunk += l + '\n';
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
}

let received = 0;
register({
  kind: 'output',
  type: 'discard',
  description: 'bench',
  options: z.object({}),
  create() {
    return {
      async start() {},
      write(b) {
        received += b.records.length;
        b.ack();
      },
      async stop() {},
    };
  },
});
const yaml = `service:\n  data_dir: ${dir}/data\npipeline:\n  inputs:\n    - type: file\n      id: f\n      paths: ["${file}"]\n  outputs:\n    - type: discard\n      id: d\n`;
const cfg = parseConfig(yaml, 'bench.yaml', { env: process.env });
const store = new CheckpointStore(path.join(dir, 'data', 'checkpoints.json'), nullLogger);
await store.load();
const p = new Pipeline(cfg, {
  log: nullLogger,
  metrics: new Metrics({ defaultMetrics: false }),
  checkpoints: store,
  oneShot: true,
});
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await p.start();
await p.drained();
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
await p.stop(Date.now() + 1000);
const cpuS = (cpu.user + cpu.system) / 1e6;
console.log(
  JSON.stringify({
    lines: received,
    seconds: +secs.toFixed(3),
    lines_per_s: Math.round(received / secs),
    cpu_s_per_million: +(cpuS / (received / 1e6)).toFixed(3),
    peak_rss_mib: Math.round(peak / 2 ** 20),
  }),
);
rmSync(dir, { recursive: true, force: true });
if (received !== N) process.exitCode = 1;
