// One measured run of one tool on one workload. The clock starts when the process is spawned and
// stops when the receiver has counted every record (the same for both tools); CPU (user+sys of
// all threads), peak RSS (VmHWM) and bytes written to storage are read from /proc at that moment,
// before the process is stopped.

import { machineBusy, procStat, procThreadsCpu, procWriteBytes, stopProcess } from './proc.mjs';

/** Records shiplog reports as sent, from its /metrics (for workloads without a receiver). */
export async function shiplogSent(base) {
  try {
    const text = await (await fetch(`${base}/metrics`)).text();
    return metricSum(text, 'shiplog_output_records_total', { result: 'sent' });
  } catch {
    return 0;
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

/**
 * Poll until `run.expect` records are delivered, the process exits, or the deadline passes. With
 * `run.windowFrom` (s after the writer started), snapshot the per-thread CPU when it passes.
 */
async function pollDelivery(run, proc, startT) {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  const samples = [];
  const since = () => (performance.now() - proc.t0) / 1000;
  const deadline = performance.now() + (run.timeoutMs ?? 600_000);
  let delivered = 0;
  let windowThreads;
  while (!exited && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, run.pollMs ?? 50));
    const st = procStat(proc.child.pid);
    if (st) samples.push({ t: since(), cpu: st.cpu, rssKiB: st.rssKiB });
    if (run.windowFrom !== undefined && !windowThreads && since() >= startT + run.windowFrom)
      windowThreads = procThreadsCpu(proc.child.pid);
    delivered = await run.delivered();
    if (delivered >= run.expect) break;
  }
  return { delivered, samples, wall: since(), exited, windowThreads };
}

/** Measure `tool` on one run of workload `w` (its data already prepared). */
export async function measure(tool, w, ctx, data) {
  const harness0 = process.cpuUsage();
  const busy0 = machineBusy();
  let launched, outcome, end, written, extra, threads;
  try {
    const run = await w.run(ctx, data);
    launched = await tool.launch(run, ctx);
    const { proc } = launched;
    try {
      const startT = (performance.now() - proc.t0) / 1000;
      const writing = run.start?.(ctx);
      outcome = await pollDelivery(run, proc, startT);
      end = procStat(proc.child.pid);
      written = procWriteBytes(proc.child.pid);
      threads = procThreadsCpu(proc.child.pid);
      outcome.busy = machineBusy() - busy0;
      outcome.harness = process.cpuUsage(harness0);
      extra = run.summarise?.(outcome.samples, startT);
      await writing;
    } finally {
      await stopProcess(proc);
    }
    return report(tool, run, launched, outcome, { end, written, extra, threads });
  } finally {
    for (const r of ctx.receivers) await r.close?.();
    ctx.receivers.length = 0;
  }
}

function report(tool, run, launched, outcome, { end, written, extra, threads }) {
  const harnessCpu = (outcome.harness.user + outcome.harness.system) / 1e6;
  const { delivered, wall } = outcome;
  const cpu = end?.cpu ?? NaN;
  const result = {
    tool: tool.name,
    at: new Date().toISOString(),
    lines: delivered,
    expected: run.expect,
    wall_s: +wall.toFixed(3),
    // A steady workload's rate is set by its writer: its figures are the steady ones (summarise).
    ...(run.steady
      ? {}
      : {
          lines_per_s: Math.round(delivered / wall),
          mb_per_s: run.bytes ? +(run.bytes / 1e6 / wall).toFixed(1) : undefined,
          cpu_s_per_million: +((cpu / Math.max(1, delivered)) * 1e6).toFixed(2),
        }),
    cpu_s: +cpu.toFixed(2),
    peak_rss_mb: end ? +(end.hwmKiB / 1024).toFixed(1) : undefined,
    disk_write_bytes_per_line:
      written === undefined ? undefined : +(written / Math.max(1, delivered)).toFixed(1),
    // The harness (receiver + polling) shares the machine with the tool: its CPU in the run, and
    // what every other process on the host used meanwhile (noise: high means rerun).
    harness_cpu_s: +harnessCpu.toFixed(2),
    others_cpu_s: +Math.max(0, outcome.busy - cpu - harnessCpu).toFixed(2),
    ...(launched.startup_s !== undefined ? { startup_s: launched.startup_s } : {}),
    ...extra,
    // CPU seconds per thread name (threads that exited before the end are not listed).
    cpu_threads: threads,
    ...(outcome.windowThreads
      ? { cpu_threads_window: threadDelta(threads, outcome.windowThreads) }
      : {}),
  };
  if (delivered < run.expect)
    result.error = `only ${delivered}/${run.expect} delivered${outcome.exited ? ` (exited: ${launched.proc.stderr().slice(-300)})` : ' before timeout'}`;
  // More records than lines: resent (duplicates) or a line split in two (a partial CRI line
  // flushed before its last chunk); either way not what was written.
  else if (delivered > run.expect) result.extra_records = delivered - run.expect;
  return result;
}

/** Per-thread CPU spent between two snapshots. */
function threadDelta(now = {}, before = {}) {
  const out = {};
  for (const [k, v] of Object.entries(now)) out[k] = +(v - (before[k] ?? 0)).toFixed(2);
  return out;
}
