// Run shiplog as a real process (bin/shiplog.js → dist/), the way a user or systemd does.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'shiplog.js');

export interface Proc {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stderr JSON log line whose msg matches. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(sig?: NodeJS.Signals): void;
}

export function runShiplog(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; captureStdout?: boolean; stdin?: 'pipe' | 'ignore' } = {},
): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const p: Proc = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    ),
    waitForLog(msg, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (const line of p.stderr.split('\n')) {
            if (!line.startsWith('{')) continue;
            try {
              const o = JSON.parse(line) as Record<string, unknown>;
              if (
                typeof o.msg === 'string' &&
                (typeof msg === 'string' ? o.msg === msg : msg.test(o.msg))
              ) {
                resolve(o);
                return true;
              }
            } catch {
              /* partial line */
            }
          }
          return false;
        };
        if (check()) return;
        const onData = (): void => {
          if (check()) cleanup();
        };
        const t = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `timeout waiting for log "${String(msg)}"; stderr:\n${p.stderr.slice(-2000)}`,
            ),
          );
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(t);
          child.stderr!.off('data', onData);
        };
        child.stderr!.on('data', onData);
      });
    },
    kill(sig = 'SIGTERM') {
      child.kill(sig);
    },
  };
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (p.stderr += d));
  if (opts.captureStdout !== false)
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (p.stdout += d));
  return p;
}

export function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Value of a Prometheus sample, summing series that match all given labels. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
