#!/usr/bin/env node
// shiplog benchmark harness. Runs shiplog as a separate process per workload, measures it from
// outside (/proc: user+sys CPU, peak RSS), and counts delivery through its own /metrics.
// Usage: npm run bench [-- --quick] [-- --only W0,W1]
// Writes a table to stdout and JSON to bench/results/<date>.json.

import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
  rmSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { topSelf } from './profile.mjs';
import { workloads } from './workloads.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'shiplog.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg =
  args.find((a) => a.startsWith('--only='))?.slice(7) ??
  (args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined);
const only = onlyArg ? new Set(onlyArg.split(',')) : undefined;
const cpuProf = args.includes('--cpu-prof');
const TICK = 100; // USER_HZ on Linux

function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpu: (Number(fields[11]) + Number(fields[12])) / TICK,
      rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0),
      hwmKiB: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0),
    };
  } catch {
    return undefined;
  }
}

async function metrics(base) {
  try {
    const res = await fetch(`${base}/metrics`);
    return await res.text();
  } catch {
    return '';
  }
}

export function metricSum(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`)))
      sum += Number(m[3]);
  }
  return sum;
}

async function runWorkload(w, dir) {
  const ctx = { dir, quick, receivers: [] };
  const prepared = await w.prepare(ctx);
  const cfgFile = path.join(dir, 'shiplog.yaml');
  writeFileSync(cfgFile, prepared.config);
  const profDir = path.join(ROOT, 'bench/results/profiles', w.id);
  if (cpuProf) rmSync(profDir, { recursive: true, force: true });
  const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'run', '-c', cfgFile], {
    stdio: ['ignore', prepared.stdout ?? 'ignore', 'pipe'],
    env: { ...process.env, ...(prepared.env ?? {}) },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const base = await new Promise((resolve, reject) => {
    child.once('error', reject);
    const t = setTimeout(() => reject(new Error(`shiplog did not start:\n${stderr}`)), 20_000);
    const onData = () => {
      const m = /"msg":"shiplog started".*?"http":"([^"]+)"/.exec(stderr);
      if (m) {
        clearTimeout(t);
        child.stderr.off('data', onData);
        resolve(`http://${m[1]}`);
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', () => reject(new Error(`shiplog exited:\n${stderr}`)));
  }).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  const t0 = performance.now();
  const startStat = procStat(child.pid);
  let peakKiB = 0;
  const samples = [];
  const running = prepared.start ? prepared.start(ctx) : undefined;
  let delivered = 0;
  const deadline = t0 + (prepared.timeoutMs ?? 600_000);
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, prepared.pollMs ?? 100));
    const st = procStat(child.pid);
    if (st) {
      peakKiB = Math.max(peakKiB, st.hwmKiB, st.rssKiB);
      samples.push({ t: (performance.now() - t0) / 1000, cpu: st.cpu, rssKiB: st.rssKiB });
    }
    delivered = prepared.delivered
      ? await prepared.delivered(ctx)
      : metricSum(await metrics(base), 'shiplog_output_records_total', { result: 'sent' });
    if (delivered >= prepared.expect) break;
  }
  const wall = (performance.now() - t0) / 1000;
  const endStat = procStat(child.pid);
  await running;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  for (const r of ctx.receivers) await r.close?.();
  const cpu = endStat && startStat ? endStat.cpu - startStat.cpu : NaN;
  const result = {
    workload: w.id,
    description: w.description,
    lines: delivered,
    expected: prepared.expect,
    wall_s: +wall.toFixed(3),
    lines_per_s: Math.round(delivered / wall),
    mb_per_s: prepared.bytes ? +(prepared.bytes / 1e6 / wall).toFixed(1) : undefined,
    cpu_s: +cpu.toFixed(2),
    cpu_s_per_million: +((cpu / Math.max(1, delivered)) * 1e6).toFixed(2),
    peak_rss_mb: +(peakKiB / 1024).toFixed(1),
    ...(prepared.summarise ? prepared.summarise(samples, ctx) : {}),
  };
  if (delivered < prepared.expect)
    result.error = `only ${delivered}/${prepared.expect} delivered before timeout`;
  if (cpuProf) {
    const prof = existsSync(profDir)
      ? readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
      : undefined;
    // Main-thread self time; "(idle)" is time the event loop waited, "(garbage collector)" GC.
    if (prof) result.profile_top5 = topSelf(path.join(profDir, prof), 5);
  }
  return result;
}

const results = [];
for (const w of workloads) {
  if (only && !only.has(w.id)) continue;
  if (w.available && !(await w.available())) {
    console.error(`skip ${w.id}: ${w.description} (component not available)`);
    continue;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), `shiplog-bench-${w.id}-`));
  try {
    console.error(`running ${w.id}: ${w.description}${quick ? ' (quick)' : ''}`);
    results.push(await runWorkload(w, dir));
  } catch (e) {
    results.push({
      workload: w.id,
      description: w.description,
      error: String(e.message ?? e).slice(0, 500),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const cols = [
  'workload',
  'lines',
  'lines_per_s',
  'mb_per_s',
  'cpu_s_per_million',
  'peak_rss_mb',
  'wall_s',
];
console.log(`\n| ${cols.join(' | ')} | notes |\n|${cols.map(() => '---').join('|')}|---|`);
for (const r of results) {
  const extra = Object.entries(r)
    .filter(
      ([k]) =>
        !cols.includes(k) && !['description', 'expected', 'cpu_s', 'profile_top5'].includes(k),
    )
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(
    `| ${cols.map((c) => r[c] ?? '').join(' | ')} | ${r.description}${extra ? '; ' + extra : ''} |`,
  );
}
const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  cpu_model: os.cpus()[0]?.model,
  quick,
  cpu_prof: cpuProf,
};
mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
const out = path.join(
  ROOT,
  'bench/results',
  // Profiled runs are slower: their figures (and top-5 self time) go to a file of their own.
  `${meta.date.slice(0, 10)}${quick ? '-quick' : ''}${cpuProf ? '-profile' : ''}.json`,
);
// --only: replace those workloads' entries in today's file, keep the others.
let merged = results;
if (only && existsSync(out)) {
  try {
    const prev = JSON.parse(readFileSync(out, 'utf8')).results ?? [];
    merged = [...prev.filter((r) => !results.some((x) => x.workload === r.workload)), ...results];
  } catch {
    merged = results;
  }
}
writeFileSync(out, JSON.stringify({ meta, results: merged }, null, 2) + '\n');
for (const r of results) {
  if (!r.profile_top5) continue;
  console.log(`\n${r.workload} top 5 self time (main thread):`);
  for (const t of r.profile_top5)
    console.log(`  ${String(t.pct).padStart(5)}%  ${t.self_s.toFixed(2)} s  ${t.fn} ${t.where}`);
}
console.log(`\nresults: ${path.relative(ROOT, out)}`);
if (results.some((r) => r.error)) process.exitCode = 1;
