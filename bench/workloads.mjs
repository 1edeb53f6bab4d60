// Benchmark workloads. A workload's `prepare(ctx)` builds its input data once (deterministic, in
// ctx.dir, shared by every run and both tools); `run(ctx, data)` sets up one run: a fresh receiver
// (sink), the shiplog config, the Fluent Bit config and environment when the workload is
// comparable (`fluentbit`), how many records must arrive, and optionally a writer to start once
// the tool is up (`start`) and extra figures from the /proc samples (`summarise`).

import { openSync, writeSync, fsyncSync, closeSync, appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { datasets, lines } from './gen.mjs';
import { lokiSink, esSink, stdoutSink } from './sinks.mjs';

const LOKI_LABELS = '{ job: bench, level: "{level}", component: "{component}" }';

/** A complete shiplog config: service block (data_dir per run) + pipeline. */
function shiplogConfig(ctx, { inputs, filters = '', outputs }) {
  const service =
    `service:\n  data_dir: ${ctx.runDir}/data\n  http: { listen: "127.0.0.1:0" }\n  log_level: info\n` +
    `  memory_limit: ${process.env.BENCH_MEMORY_LIMIT ?? '64MiB'}\n`;
  return `${service}pipeline:\n  inputs:\n${inputs}${filters}  outputs:\n${outputs}`;
}

const fileInput = (file) =>
  `    - type: file\n      id: app\n      paths: [${file}]\n      read_from: head\n`;
const parseJson = `  filters:\n    - type: parse_json\n      time_field: timestamp\n`;

/** Write `n` lines of data set `set` to `file` in 64k-line blocks, 1 ms apart ending now; fsynced. */
function writeFile(file, set, n) {
  const fd = openSync(file, 'w');
  const base = Date.now() - n;
  let bytes = 0;
  for (let i = 0; i < n; i += 65536)
    bytes += writeSync(
      fd,
      lines(set, i, Math.min(65536, n - i), (k) => base + k),
    );
  fsyncSync(fd);
  closeSync(fd);
  return bytes;
}

/** A file of `n` lines (2M, 500k with --quick) of the run's data set. */
function fileData(ctx, full = 2_000_000, quick = 500_000) {
  const n = ctx.quick ? quick : full;
  const file = path.join(ctx.dir, 'app.log');
  return { file, n, bytes: writeFile(file, ctx.data, n) };
}

/** Append at `rate` lines/s for `seconds` (in 50 ms ticks); resolves with the lines written. */
async function steadyWriter(file, set, rate, seconds) {
  const t0 = performance.now();
  let written = 0;
  const total = rate * seconds;
  while (written < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    if (due > written) {
      appendFileSync(file, lines(set, written, due - written));
      written = due;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return written;
}

/**
 * Steady-state figures over [from, to] seconds after the writer started (at `rate` lines/s): CPU %
 * of one core, CPU seconds per million lines, and the largest RSS sampled in that window.
 */
function steadySummary(rate, from, to) {
  return (samples, startT) => {
    const s = samples.filter((x) => x.t >= startT + from && x.t <= startT + to);
    if (s.length < 2) return {};
    const cpu = (s.at(-1).cpu - s[0].cpu) / (s.at(-1).t - s[0].t);
    return {
      steady_cpu_pct: +(cpu * 100).toFixed(1),
      steady_cpu_s_per_million: +((cpu / rate) * 1e6).toFixed(2),
      steady_rss_mb: +(Math.max(...s.map((x) => x.rssKiB)) / 1024).toFixed(1),
    };
  };
}

/** What a run takes from its sink: the delivered count and, for stdout, the pipe. */
const fromSink = ({ delivered, stdout, onSpawn }) => ({ delivered, stdout, onSpawn });

/** A file-fed run into `sink`: the common shape of W1, W2 and W4. */
function fileRun(ctx, data, sink, { filters = '', fluentbit }) {
  return {
    expect: data.n,
    bytes: data.bytes,
    ...fromSink(sink),
    shiplog: shiplogConfig(ctx, { inputs: fileInput(data.file), filters, outputs: sink.shiplog }),
    fluentbit: { conf: fluentbit, env: { IN_PATH: data.file, ...sink.fluentbit } },
  };
}

export const workloads = [
  {
    id: 'W0',
    description: 'demo (rate 0, agent records) → stdout json → /dev/null: the engine alone',
    prepare: () => ({}),
    run(ctx) {
      const n = ctx.quick ? 500_000 : 2_000_000;
      return {
        expect: n,
        delivered: () => ctx.shiplogSent(),
        shiplog: shiplogConfig(ctx, {
          inputs: `    - type: demo\n      rate: 0\n      count: ${n}\n`,
          outputs: `    - type: stdout\n      format: json\n`,
        }),
      };
    },
  },
  {
    id: 'W2d',
    description:
      'demo (rate 0, JSON lines) → loki (protobuf+snappy, 2 labels), count-only receiver',
    prepare: () => ({}),
    async run(ctx) {
      const n = ctx.quick ? 300_000 : 1_000_000;
      const sink = await lokiSink(ctx, { labels: '{ job: bench, host: node1 }' });
      return {
        expect: n,
        ...fromSink(sink),
        shiplog: shiplogConfig(ctx, {
          inputs: `    - type: demo\n      rate: 0\n      count: ${n}\n      format: line\n`,
          outputs: sink.shiplog,
        }),
      };
    },
  },
  {
    id: 'W1',
    description: 'file → stdout (JSON lines, piped to the harness and counted)',
    fluentbit: 'w1.conf',
    prepare: (ctx) => fileData(ctx),
    run: (ctx, data) => fileRun(ctx, data, stdoutSink(ctx), { fluentbit: 'w1.conf' }),
  },
  {
    id: 'W2',
    description: 'file → parse_json → loki (labels job, level, component), count-only receiver',
    fluentbit: 'w2.conf',
    prepare: (ctx) => fileData(ctx),
    async run(ctx, data) {
      const extra = process.env.BENCH_LOKI_EXTRA ?? '';
      const sink = await lokiSink(ctx, { labels: LOKI_LABELS, extra });
      return fileRun(ctx, data, sink, { filters: parseJson, fluentbit: 'w2.conf' });
    },
  },
  {
    id: 'W4',
    description: 'file → parse_json → elasticsearch _bulk, count-only receiver',
    fluentbit: 'w4.conf',
    prepare: (ctx) => fileData(ctx),
    async run(ctx, data) {
      return fileRun(ctx, data, await esSink(ctx), { filters: parseJson, fluentbit: 'w4.conf' });
    },
  },
  {
    id: 'W5',
    description:
      'steady 2,000 lines/s written for 40 s: file → parse_json → loki (labels job, level); CPU and RSS over the second half',
    fluentbit: 'w5.conf',
    prepare: () => ({ rate: 2_000 }),
    async run(ctx, { rate }) {
      const seconds = ctx.quick ? 20 : 40;
      const file = path.join(ctx.runDir, 'app.log');
      closeSync(openSync(file, 'w'));
      const sink = await lokiSink(ctx, { labels: '{ job: bench, level: "{level}" }' });
      return {
        expect: rate * seconds,
        steady: true,
        windowFrom: seconds / 2,
        pollMs: 500,
        ...fromSink(sink),
        start: () => steadyWriter(file, ctx.data, rate, seconds),
        summarise: steadySummary(rate, seconds / 2, seconds),
        shiplog: shiplogConfig(ctx, {
          inputs: fileInput(file),
          filters: parseJson,
          outputs: sink.shiplog,
        }),
        fluentbit: { conf: 'w5.conf', env: { IN_PATH: file, ...sink.fluentbit } },
      };
    },
  },
  {
    id: 'W6',
    description:
      'backlog: loki down 30 s under 20,000 lines/s, then up; time to catch up, peak RSS',
    prepare: () => ({}),
    async run(ctx) {
      const down = ctx.quick ? 10 : 30;
      const seconds = down + 15;
      const file = path.join(ctx.runDir, 'app.log');
      closeSync(openSync(file, 'w'));
      // Take a free port, then close the receiver: Loki is down until `down` seconds in.
      const first = await lokiSink(ctx, { labels: LOKI_LABELS });
      const port = Number(new URL(first.receiver.url).port);
      await first.receiver.close();
      ctx.receivers.length = 0;
      let sink;
      let upAt = 0;
      return {
        expect: 20_000 * seconds,
        pollMs: 250,
        delivered: () => sink?.delivered() ?? 0,
        start: async () => {
          const writing = steadyWriter(file, ctx.data, 20_000, seconds);
          await new Promise((res) => setTimeout(res, down * 1000));
          sink = await lokiSink(ctx, { labels: LOKI_LABELS, port });
          upAt = performance.now();
          await writing;
        },
        summarise: (samples, startT) => ({
          rss_during_outage_mb: +(
            Math.max(0, ...samples.filter((x) => x.t <= startT + down).map((x) => x.rssKiB)) / 1024
          ).toFixed(1),
          down_s: down,
          catch_up_s: +((performance.now() - upAt) / 1000).toFixed(1),
          peak_rss_during_mb: +(Math.max(...samples.map((x) => x.rssKiB)) / 1024).toFixed(1),
        }),
        shiplog: shiplogConfig(ctx, {
          inputs: fileInput(file),
          filters: parseJson,
          outputs: first.shiplog.replace(/\n$/, `\n      retry: { initial: 500ms, max: 2s }\n`),
        }),
      };
    },
  },
  {
    id: 'W3',
    description:
      'kubernetes tree (50 pods, CRI, 10% partial lines), path metadata only → parse_json → loki (labels job, namespace, level)',
    fluentbit: 'w3.conf',
    prepare: (ctx) => podTree(ctx),
    async run(ctx, data) {
      const sink = await lokiSink(ctx, {
        labels: '{ job: bench, namespace: "{kubernetes.namespace_name}", level: "{level}" }',
      });
      return {
        expect: data.n,
        bytes: data.bytes,
        ...fromSink(sink),
        shiplog: shiplogConfig(ctx, {
          inputs: `    - type: kubernetes\n      paths: [${data.glob}]\n      read_from: head\n`,
          filters: parseJson,
          outputs: sink.shiplog,
        }),
        fluentbit: { conf: 'w3.conf', env: { IN_PATH: data.glob, ...sink.fluentbit } },
      };
    },
  },
];

/** /var/log/pods-shaped tree: 50 pods, CRI lines; every tenth record split as P, P, F chunks. */
function podTree(ctx) {
  const n = ctx.quick ? 500_000 : 2_000_000;
  const pods = 50;
  const root = path.join(ctx.dir, 'pods');
  const ts = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1456789Z');
  const base = Date.now() - n;
  const line = datasets[ctx.data].line;
  let bytes = 0;
  for (let p = 0; p < pods; p++) {
    const dir = path.join(root, `bench_pod-${p}_0000-${p}`, 'app');
    mkdirSync(dir, { recursive: true });
    const fd = openSync(path.join(dir, '0.log'), 'w');
    let buf = '';
    for (let i = p; i < n; i += pods) {
      const l = line(i, new Date(base + i).toISOString()).slice(0, -1);
      // Like a runtime splitting a long line: two P chunks, then the F.
      if (i % 10 === 0)
        buf += `${ts} stdout P ${l.slice(0, 100)}\n${ts} stdout P ${l.slice(100, 200)}\n${ts} stdout F ${l.slice(200)}\n`;
      else buf += `${ts} stdout F ${l}\n`;
      if (buf.length > 1 << 20) {
        bytes += writeSync(fd, buf);
        buf = '';
      }
    }
    bytes += writeSync(fd, buf);
    fsyncSync(fd);
    closeSync(fd);
  }
  return { n, bytes, glob: `${root}/*/*/*.log` };
}
