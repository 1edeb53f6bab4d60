// Benchmark workloads. Each prepares its inputs deterministically in a temp dir, returns the
// shiplog config, how many records must arrive, and optionally its own receiver/delivery count.

const service = (dir, extra = '') =>
  `service:\n  data_dir: ${dir}/data\n  http: { listen: "127.0.0.1:0" }\n  log_level: info\n  memory_limit: ${process.env.BENCH_MEMORY_LIMIT ?? '64MiB'}\n${extra}`;

import { build } from 'esbuild';
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

async function lokiReceiver(ctx) {
  const { LokiReceiver } = await loadTs('test/receivers/loki.ts', ctx.dir);
  const r = await LokiReceiver.start({ countOnly: true });
  ctx.receivers.push(r);
  return r;
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
];
