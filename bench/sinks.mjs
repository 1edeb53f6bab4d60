// Where the tools under test deliver: the protocol-faithful receivers from test/receivers (Loki
// protobuf or JSON, Elasticsearch _bulk) in count-only mode, or the tool's stdout counted line by
// line. Each sink gives the shiplog output config, the Fluent Bit environment and a delivered
// count, so both tools are measured against the same receiver type.

import { build } from 'esbuild';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const loaded = new Map();

/** Load a TypeScript module from test/ (the protocol-faithful receivers) by bundling it with esbuild. */
export async function loadTs(rel) {
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

/** `buffer: { type }` for shiplog outputs when --buffer was given (absent otherwise). */
const bufferKey = (ctx) => (ctx.buffer ? `      buffer: { type: ${ctx.buffer} }\n` : '');

function hostPort(url) {
  const u = new URL(url);
  return { host: u.hostname, port: u.port };
}

/** A count-only Loki receiver (protobuf from shiplog, JSON from Fluent Bit). */
export async function lokiSink(ctx, { labels, extra = '', port } = {}) {
  const { LokiReceiver } = await loadTs('test/receivers/loki.ts');
  const r = await LokiReceiver.start({ countOnly: true, port });
  ctx.receivers.push(r);
  const { host, port: p } = hostPort(r.url);
  return {
    receiver: r,
    delivered: () => r.stats.accepted,
    shiplog: `    - type: loki\n      url: ${r.url}\n      labels: ${labels}\n${extra}${bufferKey(ctx)}`,
    fluentbit: { LOKI_HOST: host, LOKI_PORT: p },
  };
}

/** A count-only Elasticsearch _bulk receiver. */
export async function esSink(ctx) {
  const { EsReceiver } = await loadTs('test/receivers/elasticsearch.ts');
  const r = await EsReceiver.start({ countOnly: true });
  ctx.receivers.push(r);
  const { host, port } = hostPort(r.url);
  return {
    receiver: r,
    delivered: () => r.count(),
    shiplog: `    - type: elasticsearch\n      url: ${r.url}\n      index: bench-%Y.%m.%d\n${bufferKey(ctx)}`,
    fluentbit: { ES_HOST: host, ES_PORT: port },
  };
}

/** The tool's stdout, piped to the harness and counted by newlines (JSON lines from both tools). */
export function stdoutSink(ctx) {
  let lines = 0;
  return {
    delivered: () => lines,
    stdout: 'pipe',
    onSpawn(child) {
      child.stdout.on('data', (buf) => {
        for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines++;
      });
    },
    shiplog: `    - type: stdout\n      format: json\n${bufferKey(ctx)}`,
    fluentbit: {},
  };
}
