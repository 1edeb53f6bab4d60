// Helpers of the convert tests: run `shiplog convert`, and run Fluent Bit (the anchor binary)
// and shiplog on the same input until a condition holds.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BIN, ROOT, runShiplog } from '../helpers/proc.js';

export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'convert');

/** Fluent Bit 5.1.1 from shared/anchors (CI has ../shared beside the repo); FLUENT_BIT overrides. */
export const FLUENT_BIT = process.env.FLUENT_BIT
  ? path.resolve(process.env.FLUENT_BIT)
  : [path.resolve(ROOT, '../shared/anchors/fluent-bit')].find((p) => existsSync(p));

export function fluentBitRuns(): boolean {
  if (!FLUENT_BIT) return false;
  return spawnSync(FLUENT_BIT, ['--version'], { encoding: 'utf8' }).status === 0;
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** Convert a fixture into `dir`; returns the config path and the JSON report. */
export function convertFixture(
  fixture: string,
  dir: string,
): { config: string; report: ConvertReport } {
  return convertFile(path.join(FIXTURES, fixture), dir);
}

export function convertFile(file: string, dir: string): { config: string; report: ConvertReport } {
  const config = path.join(dir, 'shiplog.yaml');
  const r = cli(['convert', file, '-o', config, '--json']);
  if (r.status !== 0) throw new Error(`convert exited ${r.status}: ${r.stderr}`);
  return { config, report: JSON.parse(r.stderr) as ConvertReport };
}

export interface ConvertReport {
  file: string;
  converted: { inputs: number; filters: number; outputs: number };
  errors: number;
  warnings: number;
  info: number;
  findings: Array<{
    file: string;
    line: number;
    severity: string;
    directive: string;
    why: string;
    action: string;
  }>;
}

async function until(cond: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopped(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

/** Run Fluent Bit on a config until `done()` holds; returns its stdout. */
export async function runFluentBit(
  config: string,
  env: NodeJS.ProcessEnv,
  done: (stdout: string) => boolean,
  timeoutMs = 60_000,
): Promise<string> {
  const child = spawn(FLUENT_BIT!, ['-c', config], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  try {
    await until(
      () => done(out) || child.exitCode !== null,
      () => `Fluent Bit; stderr:\n${err.slice(-2000)}`,
      timeoutMs,
    );
    if (!done(out))
      throw new Error(`Fluent Bit exited ${child.exitCode}; stderr:\n${err.slice(-2000)}`);
  } finally {
    child.kill('SIGTERM');
    await stopped(child);
  }
  return out;
}

/** Run shiplog on a config until `done()` holds; returns its stdout. */
export async function runShiplogUntil(
  config: string,
  env: NodeJS.ProcessEnv,
  done: (stdout: string) => boolean,
  timeoutMs = 60_000,
): Promise<string> {
  const p = runShiplog(['run', '-c', config], { env });
  try {
    await until(
      () => done(p.stdout) || p.child.exitCode !== null,
      () => `shiplog; stderr:\n${p.stderr.slice(-2000)}`,
      timeoutMs,
    );
    if (!done(p.stdout))
      throw new Error(`shiplog exited ${p.child.exitCode}; stderr:\n${p.stderr.slice(-2000)}`);
  } finally {
    p.kill('SIGTERM');
    await p.exited;
  }
  return p.stdout;
}

export function writeLines(file: string, lines: string[]): void {
  writeFileSync(file, lines.join('\n') + '\n');
}

export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Order-insensitive comparison key of a record. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
