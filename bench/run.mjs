#!/usr/bin/env node
// shiplog benchmark harness: each workload's tool runs as a separate process, measured from
// outside (/proc: user+sys CPU, peak RSS, bytes written), delivery counted by a receiver. With
// FLUENT_BIT set, every comparable workload runs for both tools on the same file and receiver
// type, alternating (shiplog, Fluent Bit, shiplog, …), and the table gives shiplog / FB ratios.
//
//   npm run bench [-- --quick] [-- --only=W1,W2] [-- --runs=N] [-- --data=agent|flat|all]
//                 [-- --buffer=disk|memory] [-- --quiet=S] [-- --retry-noisy=N] [-- --nice=N]
//                 [-- --cpu-prof]
//   FLUENT_BIT=../shared/anchors/fluent-bit npm run bench
//
// Writes a table to stdout and JSON to bench/results/<date>[-quick][-profile].json.
// See bench/README.md.

import { mkdtempSync, mkdirSync, existsSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { datasets } from './gen.mjs';
import { measure, shiplogSent } from './measure.mjs';
import { waitQuiet } from './proc.mjs';
import { topSelf } from './profile.mjs';
import { compare, printTable, summarise, writeResults } from './report.mjs';
import { fluentBit, shiplog } from './tools.mjs';
import { workloads } from './workloads.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const value = (name) => {
    const eq = argv.find((a) => a.startsWith(`--${name}=`));
    if (eq) return eq.slice(name.length + 3);
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[i + 1] : undefined;
  };
  const fb = fluentBit();
  const data = value('data') ?? 'agent';
  const opts = {
    quick: argv.includes('--quick'),
    cpuProf: argv.includes('--cpu-prof'),
    only: value('only') ? new Set(value('only').split(',')) : undefined,
    runs: Number(value('runs') ?? (fb ? 2 : 1)),
    data: data === 'all' ? Object.keys(datasets) : data.split(','),
    buffer: value('buffer'),
    // Before each run, wait up to this many seconds for the host to be quiet (0: do not wait).
    quietS: Number(value('quiet') ?? 30),
    // On a shared host: run the harness, and so both tools it spawns, at this nice value.
    nice: value('nice') === undefined ? undefined : Number(value('nice')),
    // Take a run again up to this many times when other processes disturbed it.
    retryNoisy: Number(value('retry-noisy') ?? 2),
    fb,
  };
  for (const d of opts.data) if (!datasets[d]) throw new Error(`--data: unknown data set ${d}`);
  if (opts.buffer && !['disk', 'memory'].includes(opts.buffer))
    throw new Error(`--buffer: disk or memory, not ${opts.buffer}`);
  if (!(opts.runs >= 1)) throw new Error('--runs: a positive integer');
  return opts;
}

/** The tools that run workload `w`, in the order they alternate. */
const toolsFor = (w, opts) => (opts.fb && w.fluentbit ? [shiplog, opts.fb] : [shiplog]);

/** All runs of one workload on one data set: data prepared once, tools alternating. */
async function benchWorkload(w, data, opts) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `shiplog-bench-${w.id}-`));
  const ctx = { dir, quick: opts.quick, data, buffer: opts.buffer, receivers: [] };
  ctx.shiplogSent = () => shiplogSent(ctx.metricsBase);
  const tools = toolsFor(w, opts);
  const runs = new Map(tools.map((t) => [t.name, []]));
  try {
    const prepared = await w.prepare(ctx);
    for (let i = 0; i < opts.runs; i++) {
      for (const tool of tools) {
        const r = await runQuietly(tool, w, ctx, prepared, i, opts);
        runs.get(tool.name).push({ run: i + 1, ...r });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tools.map((t) => summarise(w, data, t.name, runs.get(t.name)));
}

/** Other processes' average use (cores) above which a run is noise and is taken again. */
const NOISY_CORES = 0.3;

/**
 * Run `tool` once, after waiting for a quiet host; take it again (up to --retry-noisy times)
 * when other processes used more than NOISY_CORES during it. The last attempt is kept either way.
 */
async function runQuietly(tool, w, ctx, prepared, i, opts) {
  let r;
  for (let attempt = 0; attempt <= opts.retryNoisy; attempt++) {
    ctx.runDir = mkdtempSync(path.join(ctx.dir, `${tool.name}-${i}-`));
    ctx.profDir = opts.cpuProf && tool === shiplog ? profileDir(w, ctx.data, i) : undefined;
    const busy = opts.quietS > 0 ? await waitQuiet(opts.quietS) : undefined;
    console.error(
      `  ${w.id} ${ctx.data} run ${i + 1}/${opts.runs}: ${tool.name}${busy === undefined ? '' : ` (others busy before: ${busy} cores)`}`,
    );
    try {
      r = await measure(tool, w, ctx, prepared);
      if (busy !== undefined) r.others_busy_before = busy;
    } catch (e) {
      r = { tool: tool.name, error: String(e.message ?? e).slice(0, 500) };
    }
    if (ctx.profDir) r.profile_top5 = profileTop(ctx.profDir);
    rmSync(ctx.runDir, { recursive: true, force: true });
    const noise = r.others_cpu_s / r.wall_s;
    if (!(noise > NOISY_CORES)) break;
    r.noisy_attempts = attempt + 1;
    console.error(`    others used ${noise.toFixed(2)} cores during the run: noise`);
  }
  return r;
}

function profileDir(w, data, i) {
  const dir = path.join(ROOT, 'bench/results/profiles', `${w.id}-${data}-${i + 1}`);
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

/** Main-thread self time; "(idle)" is time the event loop waited, "(garbage collector)" GC. */
function profileTop(dir) {
  const prof = existsSync(dir)
    ? readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
    : undefined;
  return prof ? topSelf(path.join(dir, prof), 5) : undefined;
}

function printProfiles(summaries) {
  for (const s of summaries) {
    for (const r of s.per_run) {
      if (!r.profile_top5) continue;
      console.log(`\n${s.workload} ${s.data} run ${r.run} top 5 self time (main thread):`);
      for (const t of r.profile_top5)
        console.log(
          `  ${String(t.pct).padStart(5)}%  ${t.self_s.toFixed(2)} s  ${t.fn} ${t.where}`,
        );
    }
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.nice !== undefined) os.setPriority(opts.nice);
  const summaries = [];
  const comparisons = [];
  for (const data of opts.data) {
    for (const w of workloads) {
      if (opts.only && !opts.only.has(w.id)) continue;
      const names = toolsFor(w, opts)
        .map((t) => t.name)
        .join(' vs ');
      console.error(
        `running ${w.id} (${names}, ${data}): ${w.description}${opts.quick ? ' (quick)' : ''}`,
      );
      const [s, fb] = await benchWorkload(w, data, opts);
      summaries.push(s);
      if (fb) {
        summaries.push(fb);
        comparisons.push(compare(s, fb));
      }
    }
  }
  printTable(summaries, comparisons);
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    quick: opts.quick,
    only: opts.only ? [...opts.only] : undefined,
    cpu_prof: opts.cpuProf,
    runs: opts.runs,
    data: opts.data,
    buffer: opts.buffer ?? '(shiplog default)',
    memory_limit: process.env.BENCH_MEMORY_LIMIT ?? '64MiB',
    nice: opts.nice,
    shiplog: shiplog.version(),
    fluent_bit: opts.fb ? opts.fb.version() : undefined,
    timing: 'process spawn → receiver counted every record; CPU = user+sys of the process',
  };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  // Profiled runs are slower: their figures (and top-5 self time) go to a file of their own.
  const name = `${meta.date.slice(0, 10)}${opts.quick ? '-quick' : ''}${opts.cpuProf ? '-profile' : ''}.json`;
  const out = path.join(ROOT, 'bench/results', name);
  writeResults(out, meta, summaries, comparisons, Boolean(opts.only));
  printProfiles(summaries);
  console.log(`\nresults: ${path.relative(ROOT, out)}`);
  if (summaries.some((s) => s.errors)) process.exitCode = 1;
}

try {
  await main();
} catch (e) {
  console.error(`bench: ${e.message}`);
  process.exitCode = 2;
}
