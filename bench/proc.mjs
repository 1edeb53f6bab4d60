// A process under test, measured from outside through /proc: user+sys CPU of all its threads,
// resident memory (current and high-water mark), bytes it caused to be written to storage.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ on Linux

/** { cpu (s, user+sys), rssKiB, hwmKiB } of a live process, or undefined. */
export function procStat(pid) {
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

/** Bytes the process caused to be sent to storage (/proc/<pid>/io write_bytes), or undefined. */
export function procWriteBytes(pid) {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const m = /^write_bytes:\s+(\d+)/m.exec(io);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Spawn a tool. Returns { child, t0 (performance.now() at spawn), stderr(), exited (a promise of
 * the exit code) }; stderr is kept (the last 64 KiB) for error reports and start-up detection.
 */
export function startProcess(cmd, args, { env, stdout = 'ignore' } = {}) {
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    stdio: ['ignore', stdout, 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    err += d;
    if (err.length > 65536) err = err.slice(-65536);
  });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal));
    child.once('error', (e) => resolve(`spawn error: ${e.message}`));
  });
  return { child, t0, stderr: () => err, exited };
}

/** Resolves with `match`'s first group once stderr matches it; rejects on exit or timeout. */
export function waitForStderr(proc, re, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(proc.stderr());
      if (!m) return;
      done();
      resolve(m[1]);
    };
    const t = setTimeout(() => {
      done();
      reject(new Error(`not started after ${timeoutMs} ms:\n${proc.stderr()}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(t);
      proc.child.stderr.off('data', check);
    };
    proc.child.stderr.on('data', check);
    void proc.exited.then((code) => {
      done();
      reject(new Error(`exited (${code}) before starting:\n${proc.stderr()}`));
    });
    check();
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
export async function stopProcess(proc, graceMs = 10_000) {
  proc.child.kill('SIGTERM');
  const t = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  const code = await proc.exited;
  clearTimeout(t);
  return code;
}

/** CPU seconds the whole machine spent busy (all cores, everything but idle and iowait). */
export function machineBusy() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number);
  return (user + nice + system + irq + softirq + steal) / TICK;
}

/**
 * Wait (up to `maxS` seconds) for a second in which other processes used less than `cores` of
 * the machine: the bench shares its host, and a busy neighbour skews both tools. Returns the
 * busy cores of the last second looked at.
 */
export async function waitQuiet(maxS = 60, cores = 0.15) {
  const until = performance.now() + maxS * 1000;
  for (;;) {
    const own0 = process.cpuUsage();
    const b0 = machineBusy();
    await new Promise((r) => setTimeout(r, 1000));
    const own = process.cpuUsage(own0);
    const busy = machineBusy() - b0 - (own.user + own.system) / 1e6;
    if (busy < cores || performance.now() > until) return +busy.toFixed(2);
  }
}

/** CPU seconds (user+sys) per thread name of a live process: where its CPU goes. */
export function procThreadsCpu(pid) {
  const out = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '#');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out[name] = +((out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / TICK).toFixed(2);
      } catch {
        // The thread exited meanwhile.
      }
    }
  } catch {
    return undefined;
  }
  return out;
}
