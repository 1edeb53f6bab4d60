// Benchmark workloads. Each prepares its inputs deterministically in a temp dir, returns the
// shiplog config, how many records must arrive, and optionally its own receiver/delivery count.

const service = (dir, extra = '') =>
  `service:\n  data_dir: ${dir}/data\n  http: { listen: "127.0.0.1:0" }\n  log_level: info\n  memory_limit: ${process.env.BENCH_MEMORY_LIMIT ?? '64MiB'}\n${extra}`;

import { build } from 'esbuild';
import { openSync, writeSync, closeSync, appendFileSync, renameSync } from 'node:fs';
import { line, lines } from './gen.mjs';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const loaded = new Map();

/** Load a TypeScript module from test/ (the protocol-faithful receivers) by bundling it with esbuild. */
export async function loadTs(rel, dir) {
  if (loaded.has(rel)) return loaded.get(rel);
  const outfile = path.join(ROOT, 'bench', '.cache', `${path.basename(rel, '.ts')}.mjs`);
  await build({
    entryPoints: [path.join(ROOT, rel)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'error',
  });
  const mod = await import(outfile);
  loaded.set(rel, mod);
  return mod;
}

async function lokiReceiver(ctx, opts = {}) {
  const { LokiReceiver } = await loadTs('test/receivers/loki.ts', ctx.dir);
  const r = await LokiReceiver.start({ countOnly: true, ...opts });
  ctx.receivers.push(r);
  return r;
}

async function esReceiver(ctx) {
  const { EsReceiver } = await loadTs('test/receivers/elasticsearch.ts', ctx.dir);
  const r = await EsReceiver.start({ countOnly: true });
  ctx.receivers.push(r);
  return r;
}

/** Write `n` 280-byte JSON lines to `file` in 64k-line blocks. */
function writeFile(file, n) {
  const fd = openSync(file, 'w');
  const ts = new Date().toISOString();
  for (let i = 0; i < n; i += 65536) writeSync(fd, lines(i, Math.min(65536, n - i), 280, ts));
  closeSync(fd);
  return n * 280;
}

/** Append at `rate` lines/s for `seconds` (in 50 ms ticks); resolves when done. */
async function steadyWriter(file, rate, seconds, from = 0) {
  const perTick = Math.round(rate / 20);
  const t0 = performance.now();
  let written = 0;
  const total = rate * seconds;
  while (written < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    if (due > written) {
      appendFileSync(file, lines(from + written, due - written, 280, new Date().toISOString()));
      written = due;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return written;
}

const fileInput = (file) =>
  `    - type: file\n      id: app\n      paths: [${file}]\n      read_from: head\n`;
const parseJson = `  filters:\n    - type: parse_json\n      time_field: timestamp\n`;

function steadySummary(from) {
  return (samples) => {
    const s = samples.filter((x) => x.t >= from);
    if (s.length < 2) return {};
    const cpu = (s.at(-1).cpu - s[0].cpu) / (s.at(-1).t - s[0].t);
    return {
      steady_cpu_pct: +(cpu * 100).toFixed(1),
      steady_rss_mb: +(Math.max(...s.map((x) => x.rssKiB)) / 1024).toFixed(1),
    };
  };
}

export const workloads = [
  {
    id: 'W0',
    description:
      'demo (rate 0, structured agent records) → stdout json → /dev/null: the engine alone',
    async prepare({ dir, quick }) {
      const n = quick ? 500_000 : 2_000_000;
      return {
        expect: n,
        config: `${service(dir)}pipeline:\n  inputs:\n    - type: demo\n      rate: 0\n      count: ${n}\n  outputs:\n    - type: stdout\n      format: json\n`,
      };
    },
  },
  {
    id: 'W2d',
    description:
      'demo (rate 0, JSON lines) → loki (protobuf+snappy, 2 labels) into a count-only receiver',
    async prepare(ctx) {
      const n = ctx.quick ? 300_000 : 1_000_000;
      const r = await lokiReceiver(ctx);
      return {
        expect: n,
        delivered: async () => r.stats.accepted,
        config: `${service(ctx.dir)}pipeline:\n  inputs:\n    - type: demo\n      rate: 0\n      count: ${n}\n      format: line\n  outputs:\n    - type: loki\n      url: ${r.url}\n      labels: { job: bench, host: node1 }\n`,
      };
    },
  },
  {
    id: 'W1',
    description: 'file (2M lines × 280 B JSON) → stdout → /dev/null',
    async prepare(ctx) {
      const n = ctx.quick ? 500_000 : 2_000_000;
      const file = path.join(ctx.dir, 'app.log');
      const bytes = writeFile(file, n);
      return {
        expect: n,
        bytes,
        config: `${service(ctx.dir)}pipeline:\n  inputs:\n${fileInput(file)}  outputs:\n    - type: stdout\n`,
      };
    },
  },
  {
    id: 'W2',
    description:
      'file (2M × 280 B) → parse_json → loki (labels level, component) into a count-only receiver',
    async prepare(ctx) {
      const n = ctx.quick ? 500_000 : 2_000_000;
      const file = path.join(ctx.dir, 'app.log');
      const bytes = writeFile(file, n);
      const r = await lokiReceiver(ctx);
      return {
        expect: n,
        bytes,
        delivered: async () => r.stats.accepted,
        config: `${service(ctx.dir)}pipeline:\n  inputs:\n${fileInput(file)}${parseJson}  outputs:\n    - type: loki\n      url: ${r.url}\n      labels: { job: bench, level: "{level}", component: "{component}" }\n${process.env.BENCH_LOKI_EXTRA ?? ''}`,
      };
    },
  },
  {
    id: 'W4',
    description: 'file (2M × 280 B) → parse_json → elasticsearch into a count-only receiver',
    async prepare(ctx) {
      const n = ctx.quick ? 500_000 : 2_000_000;
      const file = path.join(ctx.dir, 'app.log');
      const bytes = writeFile(file, n);
      const r = await esReceiver(ctx);
      return {
        expect: n,
        bytes,
        delivered: async () => r.count(),
        config: `${service(ctx.dir)}pipeline:\n  inputs:\n${fileInput(file)}${parseJson}  outputs:\n    - type: elasticsearch\n      url: ${r.url}\n      index: bench-%Y.%m.%d\n`,
      };
    },
  },
  {
    id: 'W5',
    description:
      'steady 20,000 lines/s for 60 s: file → parse_json → loki; CPU and RSS at steady state',
    async prepare(ctx) {
      const seconds = ctx.quick ? 20 : 60;
      const file = path.join(ctx.dir, 'app.log');
      writeFile(file, 0);
      const r = await lokiReceiver(ctx);
      return {
        expect: 20_000 * seconds,
        pollMs: 500,
        delivered: async () => r.stats.accepted,
        start: () => steadyWriter(file, 20_000, seconds),
        summarise: steadySummary(5),
        config: `${service(ctx.dir)}pipeline:\n  inputs:\n${fileInput(file)}${parseJson}  outputs:\n    - type: loki\n      url: ${r.url}\n      labels: { job: bench, level: "{level}", component: "{component}" }\n${process.env.BENCH_LOKI_EXTRA ?? ''}`,
      };
    },
  },
  {
    id: 'W6',
    description:
      'backlog: loki down 30 s under 20,000 lines/s, then up; time to catch up, peak RSS',
    async prepare(ctx) {
      const down = ctx.quick ? 10 : 30;
      const seconds = down + 15;
      const file = path.join(ctx.dir, 'app.log');
      writeFile(file, 0);
      const first = await lokiReceiver(ctx);
      const port = Number(new URL(first.url).port);
      await first.close();
      ctx.receivers.length = 0;
      let r;
      let upAt = 0;
      return {
        expect: 20_000 * seconds,
        pollMs: 250,
        delivered: async () => r?.stats.accepted ?? 0,
        start: async () => {
          const writing = steadyWriter(file, 20_000, seconds);
          await new Promise((res) => setTimeout(res, down * 1000));
          r = await lokiReceiver(ctx, { port });
          upAt = performance.now();
          await writing;
        },
        summarise: (samples) => ({
          rss_during_outage_mb: +(
            Math.max(0, ...samples.filter((x) => x.t <= down).map((x) => x.rssKiB)) / 1024
          ).toFixed(1),
          down_s: down,
          catch_up_s: +((performance.now() - upAt) / 1000).toFixed(1),
          memory_limit_mb: 64,
          peak_rss_during_mb: +(Math.max(...samples.map((x) => x.rssKiB)) / 1024).toFixed(1),
        }),
        config: `${service(ctx.dir)}pipeline:\n  inputs:\n${fileInput(file)}${parseJson}  outputs:\n    - type: loki\n      url: http://127.0.0.1:${port}\n      labels: { job: bench, level: "{level}", component: "{component}" }\n      retry: { initial: 500ms, max: 2s }\n`,
      };
    },
  },
  {
    id: 'W3',
    description: 'kubernetes tree (50 pods, CRI, 10% partial lines) → parse_json → loki',
    async prepare(ctx) {
      const n = ctx.quick ? 500_000 : 2_000_000;
      const pods = 50;
      const root = path.join(ctx.dir, 'pods');
      const ts = new Date()
        .toISOString()
        .replace('Z', '123Z')
        .replace(/\.(\d{3})123Z/, '.$1456789Z');
      let bytes = 0;
      for (let p = 0; p < pods; p++) {
        const dir = path.join(root, `bench_pod-${p}_0000-${p}`, 'app');
        mkdirSync(dir, { recursive: true });
        const fd = openSync(path.join(dir, '0.log'), 'w');
        let buf = '';
        for (let i = p; i < n; i += pods) {
          const l = line(i, 280, new Date().toISOString()).slice(0, -1);
          // Every tenth record arrives as two P chunks and an F, like a runtime splitting a long line.
          if (i % 10 === 0)
            buf += `${ts} stdout P ${l.slice(0, 100)}\n${ts} stdout P ${l.slice(100, 200)}\n${ts} stdout F ${l.slice(200)}\n`;
          else buf += `${ts} stdout F ${l}\n`;
          if (buf.length > 1 << 20) {
            bytes += writeSync(fd, buf);
            buf = '';
          }
        }
        bytes += writeSync(fd, buf);
        closeSync(fd);
      }
      const r = await lokiReceiver(ctx);
      return {
        expect: n,
        bytes,
        delivered: async () => r.stats.accepted,
        config: `${service(ctx.dir)}pipeline:\n  inputs:\n    - type: kubernetes\n      paths: [${root}/*/*/*.log]\n      read_from: head\n${parseJson}  outputs:\n    - type: loki\n      url: ${r.url}\n      labels: { job: bench, namespace: "{kubernetes.namespace_name}", level: "{level}" }\n`,
      };
    },
  },
];
