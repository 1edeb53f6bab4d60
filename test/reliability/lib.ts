// Shared machinery of the reliability suite: shiplog as a real process (with RSS sampling and
// its /metrics), a writer process appending sequence-numbered JSON lines, a tally that counts
// what a Loki receiver got (delivered, duplicated, lost), and the results table.
//
// The Loki receiver runs in the test process: nothing here may block the event loop (no
// spawnSync, no long synchronous file work while a receiver is serving).

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import type { LokiReceiver } from '../receivers/loki.js';
import { tempDir } from '../helpers/harness.js';
import { BIN, ROOT, getText, metricValue, rssKiB } from '../helpers/proc.js';

export const LONG = Boolean(process.env.SHIPLOG_LONG_TESTS);
export const KNOWN_BUGS = Boolean(process.env.SHIPLOG_KNOWN_BUGS);
export const IS_ROOT = process.getuid?.() === 0;
export const WRITER = path.join(ROOT, 'test/reliability/fixtures/writer.mjs');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The CI value, or the full-size one under SHIPLOG_LONG_TESTS=1. */
export function scale<T>(ci: T, long: T): T {
  return LONG ? long : ci;
}

export { tempDir };

// ---------------------------------------------------------------------------------------------
// Results table

export interface Row {
  scenario: string;
  written: number;
  delivered: number;
  lost: number;
  duplicated: number;
  peakRssMiB: number;
  note?: string;
}

/** Print a row; under the reliability config also append it for results.md (see global-setup). */
export function report(row: Row): void {
  const r = { ...row, peakRssMiB: Math.round(row.peakRssMiB * 10) / 10, long: LONG };
  console.log(
    `[reliability] ${r.scenario}: written ${r.written}, delivered ${r.delivered}, lost ${r.lost}, ` +
      `duplicated ${r.duplicated}, peak RSS ${r.peakRssMiB} MiB${r.note ? ` (${r.note})` : ''}`,
  );
  const rows = process.env.SHIPLOG_RELIABILITY_ROWS;
  if (rows) appendFileSync(rows, JSON.stringify(r) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Config

export interface ConfigOptions {
  dataDir: string;
  inputs: Array<Record<string, unknown>>;
  filters?: Array<Record<string, unknown>>;
  lokiUrl: string;
  loki?: Record<string, unknown>;
  service?: Record<string, unknown>;
}

/** Write a shiplog config (file → loki) and return its path. */
export function writeConfig(dir: string, o: ConfigOptions, name = 'shiplog.yaml'): string {
  const cfg = {
    service: {
      data_dir: o.dataDir,
      http: { listen: '127.0.0.1:0' },
      log_level: 'info',
      checkpoint_interval: '200ms',
      shutdown_timeout: '5s',
      ...o.service,
    },
    pipeline: {
      inputs: o.inputs,
      filters: o.filters ?? [],
      outputs: [
        {
          type: 'loki',
          id: 'loki',
          url: o.lokiUrl,
          labels: { job: 'reliability' },
          line_format: 'message',
          batch: { max_bytes: '1MiB', max_wait: '200ms' },
          retry: { initial: '200ms', max: '2s' },
          ...o.loki,
        },
      ],
    },
  };
  const file = path.join(dir, name);
  writeFileSync(file, stringify(cfg));
  return file;
}

export function fileInput(paths: string[], extra: Record<string, unknown> = {}) {
  return {
    type: 'file',
    id: 'app',
    paths,
    scan_interval: '200ms',
    rotate_wait: '1s',
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// shiplog as a process

export class Shiplog {
  child: ChildProcess | undefined;
  stderr = '';
  /** host:port of /metrics, /readyz. */
  http = '';
  peakRssKiB = 0;
  /** [ms since the first start, RSS KiB], every 200 ms while running. */
  readonly rss: Array<[number, number]> = [];
  starts = 0;
  private t0 = 0;
  private sampler: NodeJS.Timeout | undefined;
  private exitP: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(
    readonly config: string,
    private readonly opts: { ulimitN?: number } = {},
  ) {}

  /** Start and wait for "shiplog started" (its log line carries the telemetry address). */
  async start(timeoutMs = 20_000): Promise<void> {
    const args = [BIN, 'run', '-c', this.config];
    const child = this.opts.ulimitN
      ? spawn(
          'sh',
          ['-c', `ulimit -n ${this.opts.ulimitN} && exec "$0" "$@"`, process.execPath, ...args],
          {
            cwd: ROOT,
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        )
      : spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.starts++;
    const mark = this.stderr.length;
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      // Bounded: keep the tail only.
      if (this.stderr.length > 4_000_000) this.stderr = this.stderr.slice(-2_000_000);
    });
    this.exitP = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const end = Date.now() + timeoutMs;
    for (;;) {
      const at = this.stderr.indexOf('"shiplog started"', Math.max(0, mark - 1));
      if (at !== -1) {
        const lineEnd = this.stderr.indexOf('\n', at);
        const lineStart = this.stderr.lastIndexOf('\n', at) + 1;
        if (lineEnd !== -1) {
          const o = JSON.parse(this.stderr.slice(lineStart, lineEnd)) as { http?: string };
          this.http = o.http ?? '';
          break;
        }
      }
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > end)
        throw new Error(`shiplog did not start; stderr:\n${this.stderr.slice(-3000)}`);
      await sleep(20);
    }
    this.sampler ??= setInterval(() => this.sample(), 200);
  }

  sample(): void {
    if (this.child?.pid && this.child.exitCode === null && this.child.signalCode === null) {
      const kib = rssKiB(this.child.pid);
      if (kib === 0) return;
      this.t0 ||= Date.now();
      this.peakRssKiB = Math.max(this.peakRssKiB, kib);
      if (this.rss.length < 100_000) this.rss.push([Date.now() - this.t0, kib]);
    }
  }

  get peakRssMiB(): number {
    return this.peakRssKiB / 1024;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(
    sig: NodeJS.Signals = 'SIGKILL',
  ): Promise<{ code: number | null; signal: string | null }> {
    this.sample();
    this.child?.kill(sig);
    const r = await this.exitP!;
    return r;
  }

  /** SIGTERM (deliver, persist, exit 0) and wait. */
  async stop(): Promise<{ code: number | null; signal: string | null }> {
    const r = await this.kill('SIGTERM');
    this.dispose();
    return r;
  }

  dispose(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
    if (this.alive) this.child!.kill('SIGKILL');
  }

  async metrics(): Promise<string> {
    return (await getText(`http://${this.http}/metrics`)).body;
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await this.metrics(), name, labels);
  }

  async readyz(): Promise<{ status: number; body: string }> {
    return getText(`http://${this.http}/readyz`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writer process

export interface WriterOptions {
  files: Array<{ path: string; id: string }>;
  rate: number;
  durationMs?: number;
  rotateEvery?: number;
  rotate?: 'rename' | 'copytruncate';
  pad?: number;
}

export class Writer {
  readonly child: ChildProcess;
  private out = '';
  readonly done: Promise<{ written: Record<string, number>; rotations: number }>;
  readonly ready: Promise<void>;

  constructor(o: WriterOptions) {
    this.child = spawn(process.execPath, [WRITER, JSON.stringify(o)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.ready = new Promise((resolve) => this.child.stdout!.once('data', () => resolve()));
    this.done = new Promise((resolve, reject) =>
      this.child.once('exit', (code) => {
        const last = this.out.trim().split('\n').at(-1) ?? '';
        try {
          const r = JSON.parse(last) as { written: Record<string, number>; rotations: number };
          if (!r.written) throw new Error('no result');
          resolve(r);
        } catch {
          reject(new Error(`writer exited ${code} without a result: ${this.out}`));
        }
      }),
    );
  }

  stop(): Promise<{ written: Record<string, number>; rotations: number }> {
    this.child.kill('SIGTERM');
    return this.done;
  }
}

// ---------------------------------------------------------------------------------------------
// Counting what Loki got

// Tolerates JSON-escaped quotes: a line can arrive inside a `message` string (line_format json).
const KEY_W = /\\?"w\\?":\\?"([a-z0-9]+)\\?"/;
const KEY_SEQ = /\\?"seq\\?":(\d+)/;

export class Tally {
  private readonly seen = new Map<string, Uint16Array>();
  /** Entries received (with duplicates). */
  received = 0;
  /** Entries that carry no writer key (bad input, foreign lines). */
  foreign = 0;
  readonly foreignLines: string[] = [];

  constructor(private receiver: LokiReceiver) {}

  /** Switch to a new receiver (after a simulated outage) after draining the old one. */
  use(receiver: LokiReceiver): void {
    this.drain();
    this.receiver = receiver;
  }

  /** Take what the receiver stored so far (its memory stays flat on long runs). */
  drain(): void {
    const batch = this.receiver.entries.splice(0);
    for (const e of batch) this.addLine(e.line);
  }

  addLine(line: string): void {
    this.received++;
    const w = KEY_W.exec(line);
    const q = w && KEY_SEQ.exec(line);
    if (!w || !q) {
      this.foreign++;
      if (this.foreignLines.length < 1000) this.foreignLines.push(line.slice(0, 200));
      return;
    }
    this.mark(w[1], Number(q[1]));
  }

  mark(id: string, seq: number): void {
    let a = this.seen.get(id);
    if (!a || a.length <= seq) {
      const b = new Uint16Array(Math.max(1024, (seq + 1) * 2));
      if (a) b.set(a);
      this.seen.set(id, b);
      a = b;
    }
    if (a[seq] < 65535) a[seq]++;
  }

  count(id: string, seq: number): number {
    const a = this.seen.get(id);
    return a && seq < a.length ? a[seq] : 0;
  }

  /** Distinct keys delivered among the written ones. */
  unique(written: Record<string, number>): number {
    let n = 0;
    for (const [id, count] of Object.entries(written)) {
      const a = this.seen.get(id);
      if (!a) continue;
      for (let i = 0; i < count && i < a.length; i++) if (a[i] > 0) n++;
    }
    return n;
  }

  summary(written: Record<string, number>): {
    written: number;
    delivered: number;
    lost: number;
    duplicated: number;
    missing: string[];
  } {
    this.drain();
    let total = 0;
    let delivered = 0;
    let duplicated = 0;
    const missing: string[] = [];
    for (const [id, count] of Object.entries(written)) {
      total += count;
      const a = this.seen.get(id);
      for (let i = 0; i < count; i++) {
        const c = a && i < a.length ? a[i] : 0;
        if (c === 0) {
          if (missing.length < 20) missing.push(`${id}:${i}`);
        } else {
          delivered++;
          duplicated += c - 1;
        }
      }
    }
    return { written: total, delivered, lost: total - delivered, duplicated, missing };
  }

  /** Poll until every written line arrived (or the timeout). */
  async waitAll(written: Record<string, number>, timeoutMs: number): Promise<void> {
    let total = 0;
    for (const c of Object.values(written)) total += c;
    const end = Date.now() + timeoutMs;
    for (;;) {
      this.drain();
      if (this.unique(written) >= total || Date.now() > end) return;
      await sleep(250);
    }
  }

  /** Poll until at least `n` entries were received. */
  async waitReceived(n: number, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      this.drain();
      if (this.received >= n || Date.now() > end) return;
      await sleep(100);
    }
  }
}

/** Sum of counts. */
export function total(written: Record<string, number>): number {
  let n = 0;
  for (const c of Object.values(written)) n += c;
  return n;
}

/** A scenario directory with data/ and logs/ inside. */
export function scenarioDir(name: string): { dir: string; data: string; logs: string } {
  const dir = tempDir(`shiplog-rel-${name.replace(/[^a-zA-Z0-9]+/g, '-')}-`);
  const data = path.join(dir, 'data');
  const logs = path.join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  return { dir, data, logs };
}

/** `n` writer-format lines of writer `id` starting at sequence `from`. */
export function lines(id: string, from: number, n: number, pad = 60): string {
  const p = 'x'.repeat(pad);
  let s = '';
  for (let i = 0; i < n; i++) s += `{"w":"${id}","seq":${from + i},"level":"info","pad":"${p}"}\n`;
  return s;
}
