// Durable disk queue (issue #16, "Done when") against real processes: shiplog SIGKILLed every
// 2 s while a writer appends 20,000 lines/s and rotates logrotate-style (`rotate 2`: older
// generations deleted) and the backend is first unreachable, then answers 429 without
// Retry-After (Loki, create and copytruncate rotation; Elasticsearch); one dead output beside a
// healthy one (stdout); a kubelet-rotated /var/log/pods tree (gzip, at most 5 files) while Loki is
// down; the queue's data_dir on a full tmpfs. Every line written must arrive: the default
// buffer (disk) lets the sources commit and rotate away while the backend cannot take them.
//
// On a failure the scenario directory is kept (its path is in the assertion message) with
// shiplog.stderr.log, and the lost lines are traced to their file generation and its history.

import { exec, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { getText, metricValue, rssKiB, runShiplog, type Proc } from '../helpers/proc.js';
import { EsReceiver, type ItemContext } from '../receivers/elasticsearch.js';
import { LokiReceiver } from '../receivers/loki.js';
import {
  IS_ROOT,
  Shiplog,
  Tally,
  fileInput,
  lines,
  report,
  scale,
  scenarioDir,
  sleep,
  total,
} from './lib.js';

const sh = promisify(exec);
const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// ---------------------------------------------------------------------------------------------
// Helpers

interface RotatingWriterOptions {
  files: Array<{ path: string; id: string }>;
  /** Lines per second over all files. */
  rate: number;
  /** Rotate a file after this many of its lines. */
  rotateEvery: number;
  /**
   * rename: logrotate `create` (app.log → app.log.1 → … → app.log.<keep>, older deleted);
   * copytruncate: the same shift, then app.log copied to app.log.1 and truncated;
   * kubelet: 0.log → 0.log.<YYYYMMDD-HHMMSS>, older rotated files gzipped, at most `keep` files.
   */
  rotate: 'rename' | 'copytruncate' | 'kubelet';
  /** rename/copytruncate: rotated files kept (default 2); kubelet: files per container (5). */
  keep?: number;
  /** json: `{"w","seq","level","pad"}` lines; cri: the same as the content of CRI `F` lines. */
  format?: 'json' | 'cri';
  /** Padding characters per line (default: ~200-byte lines). */
  pad?: number;
}

/** The lines of one file generation (what one inode held, or one copy) and what became of it. */
interface Generation {
  id: string;
  /** First sequence number and one past the last. */
  from: number;
  to: number;
  /** [ms since the writer started, what happened] */
  events: Array<[number, string]>;
}

interface RotatingResult {
  written: Record<string, number>;
  rotations: number;
  elapsedMs: number;
  generations: Generation[];
}

const ROTATING_WRITER = String.raw`
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

const o = JSON.parse(process.argv[2]);
const keep = o.keep ?? (o.rotate === 'kubelet' ? 5 : 2);
const pad = 'x'.repeat(o.pad ?? (o.format === 'cri' ? 106 : 153));
const t0 = Date.now();
const gens = [];
const newGen = (f, from) => {
  const g = { id: f.id, from, to: -1, events: [] };
  gens.push(g);
  return g;
};
const ev = (g, what) => g.events.push([Date.now() - t0, what]);
const files = o.files.map((f) => {
  const s = { ...f, fd: fs.openSync(f.path, 'a'), seq: 0, since: 0, rotated: [] };
  s.gen = newGen(s, 0);
  return s;
});
let rotations = 0;
let stopping = false;

function stamp() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, '0');
  return d.getUTCFullYear() + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + '-' +
    p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds());
}

// logrotate rotate N: app.log.N deleted, app.log.i → app.log.(i+1), then app.log → app.log.1.
function shift(f) {
  // f.rotated[i] is the generation at <path>.(i+1)
  if (f.rotated.length >= keep) {
    const g = f.rotated.pop();
    fs.unlinkSync(f.path + '.' + keep);
    ev(g, 'deleted ' + path.basename(f.path) + '.' + keep);
  }
  for (let i = f.rotated.length; i >= 1; i--) {
    fs.renameSync(f.path + '.' + i, f.path + '.' + (i + 1));
    ev(f.rotated[i - 1], 'renamed to ' + path.basename(f.path) + '.' + (i + 1));
  }
}

// kubelet: remove excess rotated files (keep-2 of them), gzip the rotated ones, then rename
// the live file to <path>.<time> and reopen (the runtime's ReopenContainerLog).
function kubelet(f) {
  while (f.rotated.length > keep - 2) {
    const r = f.rotated.shift();
    fs.unlinkSync(r.name);
    ev(r.gen, 'deleted ' + path.basename(r.name));
  }
  for (const r of f.rotated) {
    if (r.name.endsWith('.gz')) continue;
    const gz = r.name + '.gz';
    fs.writeFileSync(gz + '.tmp', gzipSync(fs.readFileSync(r.name)));
    fs.renameSync(gz + '.tmp', gz);
    fs.unlinkSync(r.name);
    ev(r.gen, 'gzipped to ' + path.basename(gz) + ' (original deleted)');
    r.name = gz;
  }
  let name = f.path + '.' + stamp();
  for (let i = 1; fs.existsSync(name) || fs.existsSync(name + '.gz'); i++)
    name = f.path + '.' + stamp() + '-' + i;
  fs.renameSync(f.path, name);
  fs.closeSync(f.fd);
  f.fd = fs.openSync(f.path, 'a');
  ev(f.gen, 'renamed to ' + path.basename(name));
  f.rotated.push({ name, gen: f.gen });
}

function rotate(f) {
  rotations++;
  f.gen.to = f.seq;
  if (o.rotate === 'kubelet') kubelet(f);
  else {
    shift(f);
    if (o.rotate === 'rename') {
      fs.renameSync(f.path, f.path + '.1');
      fs.closeSync(f.fd);
      f.fd = fs.openSync(f.path, 'a');
      ev(f.gen, 'renamed to ' + path.basename(f.path) + '.1');
    } else {
      fs.copyFileSync(f.path, f.path + '.1');
      fs.ftruncateSync(f.fd, 0);
      ev(f.gen, 'copied to ' + path.basename(f.path) + '.1, original truncated');
    }
    f.rotated.unshift(f.gen);
  }
  f.gen = newGen(f, f.seq);
  f.since = 0;
}

function writeLines(f, n) {
  let s = '';
  const prefix = o.format === 'cri' ? new Date().toISOString().slice(0, 23) + '000000Z stdout F ' : '';
  for (let i = 0; i < n; i++)
    s += prefix + '{"w":"' + f.id + '","seq":' + (f.seq + i) + ',"level":"info","pad":"' + pad + '"}\n';
  const buf = Buffer.from(s);
  let off = 0;
  while (off < buf.length) off += fs.writeSync(f.fd, buf, off);
  f.seq += n;
  f.since += n;
  if (f.since >= o.rotateEvery) rotate(f);
}

function finish() {
  const written = {};
  for (const f of files) {
    written[f.id] = f.seq;
    f.gen.to = f.seq;
    fs.closeSync(f.fd);
  }
  process.stdout.write(
    JSON.stringify({ written, rotations, elapsedMs: Date.now() - t0, generations: gens }) + '\n',
  );
  process.exit(0);
}
process.on('SIGTERM', () => (stopping = true));

let total = 0;
let next = 0;
const perTick = Math.max(1, Math.round(o.rate / 100));
function tick() {
  if (stopping) return finish();
  const due = Math.min(Math.floor(((Date.now() - t0) / 1000) * o.rate) - total, perTick * 20);
  let left = due;
  while (left > 0) {
    const f = files[next];
    next = (next + 1) % files.length;
    const n = Math.min(left, Math.max(1, Math.ceil(perTick / files.length)));
    writeLines(f, n);
    left -= n;
    total += n;
  }
  setTimeout(tick, 10);
}
process.stdout.write('{"ready":true}\n');
tick();
`;

/** A writer process (see RotatingWriterOptions); its script is written into `dir`. */
class RotatingWriter {
  readonly child: ChildProcess;
  private out = '';
  readonly done: Promise<RotatingResult>;
  readonly ready: Promise<void>;

  constructor(dir: string, o: RotatingWriterOptions) {
    const script = path.join(dir, 'rotating-writer.mjs');
    writeFileSync(script, ROTATING_WRITER);
    this.child = spawn(process.execPath, [script, JSON.stringify(o)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.ready = new Promise((resolve) => this.child.stdout!.once('data', () => resolve()));
    this.done = new Promise((resolve, reject) =>
      this.child.once('exit', (code) => {
        const last = this.out.trim().split('\n').at(-1) ?? '';
        try {
          const r = JSON.parse(last) as RotatingResult;
          if (!r.written) throw new Error('no result');
          resolve(r);
        } catch {
          reject(new Error(`writer exited ${code} without a result: ${this.out.slice(-2000)}`));
        }
      }),
    );
  }

  stop(): Promise<RotatingResult> {
    this.child.kill('SIGTERM');
    return this.done;
  }
}

/** A tally fed with addLine() (stdout lines, Elasticsearch documents) rather than a receiver. */
function detachedTally(): Tally {
  return new Tally({ entries: [] } as unknown as LokiReceiver);
}

/**
 * For each file generation with undelivered lines: how many, which, and its history (renamed,
 * copied, gzipped, deleted, with times since the writer started). Empty when nothing is lost.
 */
function explainLoss(tally: Tally, r: RotatingResult, max = 20): string[] {
  const out: string[] = [];
  for (const g of r.generations) {
    let n = 0;
    let first = -1;
    let last = -1;
    for (let s = g.from; s < g.to; s++) {
      if (tally.count(g.id, s) > 0) continue;
      n++;
      if (first < 0) first = s;
      last = s;
    }
    if (n === 0) continue;
    if (out.length >= max) {
      out.push('…');
      break;
    }
    const hist = g.events.map(([t, what]) => `${(t / 1000).toFixed(2)}s ${what}`).join('; ');
    out.push(
      `${g.id} lines ${g.from}-${g.to - 1}: ${n} lost (seq ${first}…${last}); ` +
        `history: ${hist || 'live file at the end'}`,
    );
  }
  return out;
}

/** Runs of consecutive sequence numbers delivered more than once: [id, first seq, length]. */
function duplicateRuns(
  tally: Tally,
  written: Record<string, number>,
): Array<[string, number, number]> {
  const runs: Array<[string, number, number]> = [];
  for (const [id, count] of Object.entries(written)) {
    let start = -1;
    for (let s = 0; s <= count; s++) {
      const dup = s < count && tally.count(id, s) > 1;
      if (dup && start < 0) start = s;
      if (!dup && start >= 0) {
        runs.push([id, start, s - start]);
        start = -1;
      }
    }
  }
  return runs;
}

/**
 * Poll until every written line arrived, or nothing new arrived for `idleMs`. `poll` takes what
 * arrived (e.g. tally.drain()) and returns the distinct lines delivered so far.
 */
async function waitDelivered(poll: () => number, expected: number, idleMs: number): Promise<void> {
  let best = -1;
  let since = Date.now();
  for (;;) {
    const n = poll();
    if (n >= expected) return;
    if (n > best) {
      best = n;
      since = Date.now();
    } else if (Date.now() - since > idleMs) return;
    await sleep(250);
  }
}

/**
 * Answer every request of `server` with `status` (no Retry-After) until `ms` from now, then
 * hand requests to its own handlers again. Returns the count of throttled requests.
 */
function throttle(server: Server, ms: number, status: number, body: string): { throttled: number } {
  const until = Date.now() + ms;
  const handlers = server.listeners('request') as Array<(...a: unknown[]) => void>;
  server.removeAllListeners('request');
  const stats = { throttled: 0 };
  server.on('request', (req: IncomingMessage, res) => {
    if (Date.now() >= until) {
      for (const h of handlers) h.call(server, req, res);
      return;
    }
    stats.throttled++;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  return stats;
}

/** shiplog as a process with its stdout read line by line (Shiplog discards stdout). */
class StdoutShiplog {
  proc: Proc | undefined;
  http = '';
  peakRssKiB = 0;
  private sampler: NodeJS.Timeout | undefined;
  private rest = '';

  constructor(
    readonly config: string,
    private readonly onLine: (line: string) => void,
  ) {}

  async start(timeoutMs = 20_000): Promise<void> {
    const p = runShiplog(['run', '-c', this.config], { captureStdout: false });
    this.proc = p;
    p.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const text = this.rest + d;
      const end = text.lastIndexOf('\n');
      this.rest = text.slice(end + 1);
      if (end < 0) return;
      for (const line of text.slice(0, end).split('\n')) if (line) this.onLine(line);
    });
    const started = await p.waitForLog('shiplog started', timeoutMs);
    this.http = String(started.http ?? '');
    this.sampler = setInterval(() => {
      if (p.child.pid && p.child.exitCode === null)
        this.peakRssKiB = Math.max(this.peakRssKiB, rssKiB(p.child.pid));
    }, 200);
  }

  get stderr(): string {
    return this.proc?.stderr ?? '';
  }

  get peakRssMiB(): number {
    return this.peakRssKiB / 1024;
  }

  get alive(): boolean {
    const c = this.proc?.child;
    return !!c && c.exitCode === null && c.signalCode === null;
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

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<{ code: number | null; signal: string | null }> {
    if (this.sampler) clearInterval(this.sampler);
    const p = this.proc!;
    if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
    p.kill('SIGTERM');
    return p.exited;
  }

  dispose(): void {
    if (this.sampler) clearInterval(this.sampler);
    if (this.alive) this.proc!.kill('SIGKILL');
  }
}

const CHECKPOINT_MS = 200;
const RATE = 20_000;
const NO_PROGRESS_MS = 90_000;

/** A shiplog config with these inputs and outputs (service settings as lib.ts writeConfig). */
function writeCfg(
  dir: string,
  data: string,
  inputs: Array<Record<string, unknown>>,
  outputs: Array<Record<string, unknown>>,
): string {
  const cfg = {
    service: {
      data_dir: data,
      http: { listen: '127.0.0.1:0' },
      log_level: 'info',
      checkpoint_interval: `${CHECKPOINT_MS}ms`,
      shutdown_timeout: '5s',
    },
    pipeline: { inputs, filters: [], outputs },
  };
  const file = path.join(dir, 'shiplog.yaml');
  writeFileSync(file, stringify(cfg));
  return file;
}

const lokiOutput = (url: string): Record<string, unknown> => ({
  type: 'loki',
  id: 'loki',
  url,
  labels: { job: 'reliability' },
  line_format: 'message',
  batch: { max_bytes: '1MiB', max_wait: '200ms' },
  retry: { initial: '200ms', max: '2s' },
});

const esOutput = (url: string): Record<string, unknown> => ({
  type: 'elasticsearch',
  id: 'es',
  url,
  index: 'reliability',
  batch: { max_bytes: '1MiB', max_wait: '200ms' },
  retry: { initial: '200ms', max: '2s' },
});

/** Keep shiplog's stderr beside the scenario; drop the bulky logs and data when it passed. */
function keepEvidence(dir: string, stderr: () => string): void {
  cleanups.push(() => writeFileSync(path.join(dir, 'shiplog.stderr.log'), stderr()));
}
function dropBulk(dir: string): void {
  for (const d of ['logs', 'data']) rmSync(path.join(dir, d), { recursive: true, force: true });
}

/**
 * The checkpoint file, `ls -li` of the logs and the queue's segments and pointer, into `file`
 * (after a kill, before the restart).
 */
async function snapshot(file: string, data: string, logs: string, t: number): Promise<void> {
  let cp = '';
  try {
    cp = await fsp.readFile(path.join(data, 'checkpoints.json'), 'utf8');
  } catch (e) {
    cp = String(e);
  }
  const { stdout } = await sh(
    `ls -li --time-style=+%T.%N '${logs}'; for d in '${data}'/queue/*; do ls -l "$d"; for p in "$d"/pointer.json "$d"/pointer.live.*; do echo "$p:"; cat "$p"; echo; done; done; for c in '${data}'/checkpoints.json.live.*; do echo "$c:"; head -c 300 "$c"; echo; done`,
  );
  await fsp.writeFile(file, `t=${t} ms\n${stdout}\n${cp}\n`);
}

/**
 * When each line was read, from the record time the backend got (the file input stamps a line
 * with the time it read it): a line that arrives twice with the same time is one record sent
 * twice (replayed from the queue), with two times it was read twice (after a kill).
 */
class ReadTimes {
  private first = new Float64Array(1 << 16);
  /** [seq, first read time, second read time] of every extra copy (capped). */
  readonly extra: Array<[number, number, number]> = [];

  see(line: string, timeMs: number): void {
    const m = /"seq":(\d+)/.exec(line);
    if (!m) return;
    const seq = Number(m[1]);
    if (seq >= this.first.length) {
      const b = new Float64Array(Math.max(seq + 1, this.first.length * 2));
      b.set(this.first);
      this.first = b;
    }
    if (this.first[seq] === 0) this.first[seq] = timeMs;
    else if (this.extra.length < 500_000) this.extra.push([seq, this.first[seq], timeMs]);
  }

  /** Runs of consecutive extra copies: first/last seq, how many were one record sent twice. */
  runs(t0: number): string[] {
    const sorted = [...this.extra].sort((a, b) => a[0] - b[0]);
    const out: string[] = [];
    let i = 0;
    const s = (t: number): string => ((t - t0) / 1000).toFixed(2);
    while (i < sorted.length) {
      let j = i;
      while (j + 1 < sorted.length && sorted[j + 1][0] - sorted[j][0] <= 1) j++;
      const run = sorted.slice(i, j + 1);
      const same = run.filter(([, a, b]) => a === b).length;
      // A loop, not Math.min(...xs): a run of 150,000 duplicates overflows the call stack.
      const reads = (k: 1 | 2): string => {
        let lo = Infinity;
        let hi = -Infinity;
        for (const r of run) {
          lo = Math.min(lo, r[k]);
          hi = Math.max(hi, r[k]);
        }
        return `${s(lo)}…${s(hi)} s`;
      };
      out.push(
        `${run[0][0]}…${run.at(-1)![0]} (${run.length}): ` +
          (same === run.length
            ? `one record sent twice (read at ${reads(1)})`
            : `${run.length - same} read twice (first at ${reads(1)}, again at ${reads(2)})` +
              (same > 0 ? `, ${same} sent twice` : '')),
      );
      i = j + 1;
    }
    return out;
  }

  /** Extra copies that were one record sent twice (same read time). */
  get resent(): number {
    return this.extra.filter(([, a, b]) => a === b).length;
  }
}

/** A backend that can go away (connection refused) and come back throttling, on its port. */
interface Sink {
  id: string;
  output: Record<string, unknown>;
  tally: Tally;
  reads: ReadTimes;
  /** Take what arrived into the tally. */
  poll(): void;
  down(): Promise<void>;
  /** Listen again on the same port, answering 429 without Retry-After for `throttleMs`. */
  up(throttleMs: number): Promise<void>;
  throttled(): number;
  close(): Promise<void>;
  /** Backend-specific numbers for the report. */
  note(written: Record<string, number>): string;
  /** Copies stored more than once (Elasticsearch: distinct documents of one line). */
  storedDuplicates(written: Record<string, number>): number;
}

async function lokiSink(): Promise<Sink> {
  let r = await LokiReceiver.start();
  const port = Number(new URL(r.url).port);
  const tally = new Tally(r);
  const reads = new ReadTimes();
  const poll = (): void => {
    for (const e of r.entries) reads.see(e.line, Number(e.ts / 1_000_000n));
    tally.drain();
  };
  let open = true;
  return {
    id: 'loki',
    output: lokiOutput(r.url),
    tally,
    reads,
    poll,
    async down() {
      poll();
      open = false;
      await r.close();
    },
    async up(ms) {
      const back = await LokiReceiver.start({ port });
      back.failFor(ms, { status: 429, body: 'Ingestion rate limit exceeded' });
      poll();
      tally.use(back);
      r = back;
      open = true;
    },
    throttled: () => r.requests.filter((q) => q.status === 429).length,
    async close() {
      if (open) await r.close();
      open = false;
    },
    note: () => '',
    storedDuplicates: (written) => tally.summary(written).duplicated,
  };
}

const ES_429 = JSON.stringify({
  error: {
    root_cause: [{ type: 'es_rejected_execution_exception', reason: 'rejected execution' }],
    type: 'es_rejected_execution_exception',
    reason: 'rejected execution of coordinating operation',
  },
  status: 429,
});

/**
 * Elasticsearch: the tally counts every document that reached the store (a replay of a document
 * already there, answered 409, counts as a duplicate sent); what a user would see twice is
 * `storedDuplicates` (distinct documents of one line). The documents survive the outage.
 */
async function esSink(): Promise<Sink> {
  let r = await EsReceiver.start();
  const port = Number(new URL(r.url).port);
  const tally = detachedTally();
  const reads = new ReadTimes();
  const hook = (item: ItemContext): undefined => {
    const line = String(item.doc.message);
    tally.addLine(line);
    reads.see(line, Date.parse(String(item.doc['@timestamp'])));
    return undefined;
  };
  r.itemFault = hook;
  let open = true;
  let conflicts = 0;
  let th = { throttled: 0 };
  return {
    id: 'es',
    output: esOutput(r.url),
    tally,
    reads,
    poll: () => undefined,
    async down() {
      open = false;
      conflicts += r.stats.conflicts;
      await r.close();
    },
    async up(ms) {
      const back = await EsReceiver.start({ port });
      for (const [name, docs] of r.indices) back.indices.set(name, docs);
      back.itemFault = hook;
      th = throttle(back.server, ms, 429, ES_429);
      r = back;
      open = true;
    },
    throttled: () => th.throttled,
    async close() {
      if (open) await r.close();
      open = false;
    },
    note: () => `${conflicts + r.stats.conflicts} × 409 for documents already stored`,
    storedDuplicates(written) {
      const stored = detachedTally();
      for (const d of r.docs()) stored.addLine(String(d.message));
      return stored.summary(written).duplicated;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 1. Outage + rotation + SIGKILL loop

async function outageLoop(kind: 'loki' | 'elasticsearch', rotate: 'rename' | 'copytruncate') {
  const label = `${kind === 'loki' ? 'Loki' : 'Elasticsearch'}, ${rotate === 'rename' ? 'create' : 'copytruncate'}`;
  const { dir, data, logs } = scenarioDir(`durable-outage-${kind}-${rotate}`);
  const sink = kind === 'loki' ? await lokiSink() : await esSink();
  cleanups.push(() => sink.close());
  const log = path.join(logs, 'app.log');
  await fsp.writeFile(log, '');
  // `app.log*`, as crash.test.ts has it for rotation while stopped: under this load a restart can
  // take longer than a rotation period (2.5 s), so a generation can be born and rotated away
  // while shiplog is down; only a glob that matches the rotated names finds it (file input
  // README, Limits). Rotated names are the same identities: never read twice.
  const cfg = writeCfg(dir, data, [fileInput([`${log}*`])], [sink.output]);
  const ship = new Shiplog(cfg);
  cleanups.push(() => ship.dispose());
  keepEvidence(dir, () => ship.stderr);
  await ship.start();

  const kills = 10;
  const runMs = 2_000;
  const downAtMs = 6_000;
  const downForMs = 10_000;
  const throttleMs = scale(10_000, 20_000);
  const healthyAtMs = downAtMs + downForMs + throttleMs;
  const writeForMs = healthyAtMs + 2_000;

  const writer = new RotatingWriter(dir, {
    files: [{ path: log, id: 'a' }],
    rate: RATE,
    rotateEvery: 50_000,
    rotate,
    keep: 2,
  });
  cleanups.push(() => void writer.child.kill('SIGKILL'));
  await writer.ready;
  const t0 = Date.now();
  const at = (ms: number): Promise<void> => sleep(Math.max(0, t0 + ms - Date.now()));

  const killTimes: number[] = [];
  // Each run lasts `runMs` after "shiplog started", then SIGKILL and an immediate restart; the
  // checkpoints and the log directory at each kill are kept as evidence.
  const evidence = path.join(dir, 'at-kill');
  await fsp.mkdir(evidence);
  const starts: number[] = [0];
  const killing = (async () => {
    for (let k = 1; k <= kills; k++) {
      await sleep(runMs);
      killTimes.push(Date.now() - t0);
      await ship.kill('SIGKILL');
      sink.poll();
      await snapshot(path.join(evidence, `${k}.txt`), data, logs, Date.now() - t0);
      await ship.start();
      starts.push(Date.now() - t0);
    }
  })();
  let peakQueued = 0;
  let peakQueueBytes = 0;
  let outageOver = false;
  const outage = (async () => {
    await at(downAtMs);
    await sink.down();
    await at(downAtMs + downForMs);
    await sink.up(throttleMs);
    await at(healthyAtMs);
    outageOver = true;
  })();
  // While the backend takes nothing: the queue holds what was read (sampled between kills).
  const sampling = (async () => {
    await at(downAtMs + 1_000);
    while (!outageOver) {
      try {
        const m = await ship.metrics();
        peakQueued = Math.max(peakQueued, metricValue(m, 'shiplog_queue_records'));
        peakQueueBytes = Math.max(peakQueueBytes, metricValue(m, 'shiplog_queue_bytes'));
      } catch {
        // killed meanwhile
      }
      await sleep(500);
    }
  })();
  await Promise.all([killing, outage, sampling]);
  await at(Math.max(writeForMs, Date.now() - t0 + 2_000));
  const result = await writer.stop();
  await waitDelivered(
    () => {
      sink.poll();
      return sink.tally.unique(result.written);
    },
    total(result.written),
    NO_PROGRESS_MS,
  );
  sink.poll();
  const s = sink.tally.summary(result.written);
  ship.sample();
  const stopped = await ship.stop();
  const lossTrace = explainLoss(sink.tally, result);
  const runs = duplicateRuns(sink.tally, result.written);
  const stored = sink.storedDuplicates(result.written);
  const largest = runs.reduce((m, r) => Math.max(m, r[2]), 0);
  const perInterval = (RATE * CHECKPOINT_MS) / 1000;
  const perKill = (RATE * (CHECKPOINT_MS + 50)) / 1000;
  // One record sent twice (same read time: replayed from the queue) or a line read twice.
  const resent = sink.reads.resent;
  const reread = sink.reads.extra.length - resent;
  const killSeqs = killTimes.map((t) => Math.round((t * RATE) / 1000));
  const deleted = result.generations.filter((g) =>
    g.events.some(([, e]) => e.startsWith('deleted')),
  ).length;
  report({
    scenario: `outage + rotate 2 + SIGKILL ×${kills} (${label}, default disk buffer)`,
    written: s.written,
    delivered: s.delivered,
    lost: s.lost,
    duplicated: kind === 'loki' ? s.duplicated : stored,
    peakRssMiB: ship.peakRssMiB,
    note:
      `${result.rotations} rotations (${deleted} generations deleted), down ${downForMs / 1000} s ` +
      `then ${sink.throttled()} × 429 over ${throttleMs / 1000} s; queue peak ${peakQueued} records ` +
      `/ ${(peakQueueBytes / 1048576).toFixed(1)} MiB; ${s.duplicated} sent twice in ${runs.length} ` +
      `runs (largest ${largest}): ${reread} read twice, ${resent} one record sent twice; ` +
      `one checkpoint interval of input = ` +
      `${perInterval} lines` +
      (kind === 'loki' ? '' : `; ${sink.note(result.written)}; ${stored} stored twice`),
  });
  const secs = (ts: number[]): string => ts.map((t) => (t / 1000).toFixed(2)).join(', ');
  console.log(
    `[reliability] ${label}: started at ${secs(starts)} s; killed at ${secs(killTimes)} s ` +
      `(writer at line ${killSeqs.join(', ')})`,
  );
  for (const l of lossTrace) console.log(`[reliability] ${label}: lost: ${l}`);
  for (const r of sink.reads.runs(t0).slice(0, 40))
    console.log(`[reliability] ${label}: sent twice: ${r}`);
  expect(lossTrace, `${dir}\n${lossTrace.join('\n')}`).toEqual([]);
  expect(s.lost, dir).toBe(0);
  expect(sink.tally.foreign).toBe(0);
  expect(stopped.code).toBe(0);
  expect(peakQueued, 'the disk queue held the backlog while the backend was down').toBeGreaterThan(
    0,
  );
  // The logrotate `rotate 2` deleted generations during the run: the queue, not the files, held them.
  expect(deleted).toBeGreaterThan(0);
  if (kind === 'loki') {
    // Lines read twice (a copytruncate copy is held while cp writes it, see the file input
    // README) and chunks resent from the queue after a kill (the pointer lists acknowledged
    // frames beyond the prefix and is saved after every ack). Issue #16 asks for one checkpoint
    // interval of input per kill (200 ms at 20,000 lines/s, plus the ~50 ms a checkpoint write
    // takes). Before the live checkpoint (written within ~10 ms of every commit) a kill re-read
    // what was read since the last interval write, at catch-up speed after a restart: CI gave
    // up to 50,239 (create) and 42,257 (copytruncate) against this 50,000.
    const bound = kills * perKill;
    expect(
      s.duplicated,
      `${runs.length} runs, largest ${largest}; ${reread} read twice, ${resent} sent twice ` +
        `(replayed from the queue)`,
    ).toBeLessThanOrEqual(bound);
  } else {
    // Deterministic document ids: a replay is a 409, never a second document. What is resent
    // stays far below a re-read of the files (as in crash.test.ts).
    expect(stored).toBe(0);
    expect(s.duplicated).toBeLessThan(kills * 25_000);
  }
  dropBulk(dir);
}

describe('durable queue: outage + rotation + SIGKILL every 2 s', () => {
  it('Loki, create rotation (rotate 2): nothing lost', () => outageLoop('loki', 'rename'), 300_000);
  it(
    'Loki, copytruncate rotation (rotate 2): nothing lost',
    () => outageLoop('loki', 'copytruncate'),
    300_000,
  );
  it(
    'Elasticsearch, create rotation (rotate 2): nothing lost',
    () => outageLoop('elasticsearch', 'rename'),
    300_000,
  );
});

// ---------------------------------------------------------------------------------------------
// 1b. The copytruncate loss of the crash loop, made deterministic: records read from the original
// and not yet acknowledged when the truncation is seen must stay uncommitted in the copy too.

describe('durable queue: copytruncate with records in flight', () => {
  it('SIGKILL after a copytruncate while the queue is full: the copy commits only what was acknowledged', async () => {
    const { dir, data, logs } = scenarioDir('durable-copytruncate-inflight');
    let receiver = await LokiReceiver.start();
    const port = Number(new URL(receiver.url).port);
    const tally = new Tally(receiver);
    await receiver.close(); // down from the start: nothing is delivered, the queue fills
    let lokiOpen = false;
    cleanups.push(() => (lokiOpen ? receiver.close() : undefined));
    const log = path.join(logs, 'app.log');
    const n = scale(20_000, 100_000);
    await fsp.writeFile(log, lines('a', 0, n, 140));
    const cfg = writeCfg(
      dir,
      data,
      [fileInput([log])],
      // A small queue: full after a few chunks, so what the input read after them waits for room
      // (unacknowledged) instead of being committed within milliseconds.
      [{ ...lokiOutput(receiver.url), buffer: { max_size: '64KiB' } }],
    );
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    keepEvidence(dir, () => ship.stderr);
    await ship.start();
    const readAll = async (): Promise<boolean> => {
      const end = Date.now() + 20_000;
      while (Date.now() < end) {
        if ((await ship.metric('shiplog_input_records_total', { component: 'app' })) >= n)
          return true;
        await sleep(100);
      }
      return false;
    };
    expect(await readAll(), 'every line read before the rotation').toBe(true);
    await sleep(3 * CHECKPOINT_MS);
    const evidence = path.join(dir, 'at-kill');
    await fsp.mkdir(evidence);
    await snapshot(path.join(evidence, 'before-rotation.txt'), data, logs, 0);
    // logrotate copytruncate
    await fsp.copyFile(log, `${log}.1`);
    await fsp.truncate(log, 0);
    const end = Date.now() + 10_000;
    while (!ship.stderr.includes('reading the rest from the copy') && Date.now() < end)
      await sleep(50);
    await sleep(3 * CHECKPOINT_MS); // a checkpoint write or two
    await ship.kill('SIGKILL');
    await snapshot(path.join(evidence, 'at-kill.txt'), data, logs, 0);
    receiver = await LokiReceiver.start({ port });
    lokiOpen = true;
    tally.use(receiver);
    await ship.start();
    const written = { a: n };
    await waitDelivered(() => (tally.drain(), tally.unique(written)), n, 20_000);
    const s = tally.summary(written);
    const stopped = await ship.stop();
    report({
      scenario:
        'copytruncate, queue full (max_size 64KiB, Loki down), SIGKILL after the truncation',
      ...s,
      peakRssMiB: ship.peakRssMiB,
    });
    expect(s.missing, `${dir} (see at-kill/)`).toEqual([]);
    expect(s.lost).toBe(0);
    expect(stopped.code).toBe(0);
    dropBulk(dir);
  }, 120_000);
});

describe('durable queue: SIGKILL during a fast backlog drain', () => {
  it('a kill while the backlog drains resends only the chunks in flight, not an interval of the drain', async () => {
    const { dir, data, logs } = scenarioDir('durable-drain-kill');
    let receiver = await LokiReceiver.start();
    const port = Number(new URL(receiver.url).port);
    const tally = new Tally(receiver);
    await receiver.close(); // down: everything is queued first
    let lokiOpen = false;
    cleanups.push(() => (lokiOpen ? receiver.close() : undefined));
    const log = path.join(logs, 'app.log');
    const n = scale(200_000, 600_000);
    const pad = 140;
    await fsp.writeFile(log, lines('a', 0, n, pad));
    const workers = 4;
    const chunkBytes = 256 << 10;
    const cfg = writeCfg(
      dir,
      data,
      [fileInput([log])],
      [
        {
          ...lokiOutput(receiver.url),
          workers,
          batch: { max_bytes: '256KiB', max_wait: '200ms' },
          retry: { initial: '100ms', max: '500ms' },
        },
      ],
    );
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    keepEvidence(dir, () => ship.stderr);
    await ship.start();
    const end = Date.now() + 60_000;
    let queued = 0;
    while (Date.now() < end) {
      queued = await ship.metric('shiplog_queue_records', { component: 'loki' });
      if (queued >= n) break;
      await sleep(100);
    }
    expect(queued, 'the whole file queued while Loki is down').toBe(n);
    receiver = await LokiReceiver.start({ port });
    lokiOpen = true;
    tally.use(receiver);
    // Kill a third of the way through the drain.
    const killEnd = Date.now() + 60_000;
    while (Date.now() < killEnd) {
      tally.drain();
      if (tally.received >= n / 3) break;
      await sleep(5);
    }
    await ship.kill('SIGKILL');
    tally.drain();
    const atKill = tally.received;
    await snapshot(path.join(dir, 'at-kill.txt'), data, logs, 0);
    await ship.start();
    const written = { a: n };
    await waitDelivered(() => (tally.drain(), tally.unique(written)), n, 30_000);
    const s = tally.summary(written);
    const stopped = await ship.stop();
    // In flight at the kill: one chunk per worker, plus one the receiver had taken but not yet
    // answered, plus what was acknowledged during one pointer write (about a chunk). CI resent
    // 9,664 and 12,085 against this 8,646 while the pointer was written by temp file + rename
    // (traced: p50 8.6 ms, max 194 ms; with a disk writer beside it 13,222 and 21,636 in 6
    // runs): acks during a slow rename were resent. It is now one pwrite into a slot file.
    const lineBytes = lines('a', 0, 1, pad).length;
    const perChunk = Math.ceil(chunkBytes / lineBytes);
    const bound = (workers + 2) * perChunk;
    report({
      scenario: `SIGKILL a third into draining a ${n}-record backlog (Loki, ${workers} workers)`,
      ...s,
      peakRssMiB: ship.peakRssMiB,
      note: `${atKill} received at the kill; duplicates bound ${bound} (${workers + 2} chunks of ${perChunk})`,
    });
    expect(s.missing, dir).toEqual([]);
    expect(s.lost).toBe(0);
    expect(s.duplicated, `${atKill} received at the kill`).toBeLessThanOrEqual(bound);
    expect(stopped.code).toBe(0);
    dropBulk(dir);
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------
// 1c. The whole-generation duplicates of the copytruncate crash loop under `app.log*`, made
// deterministic: logrotate's copy is created, then filled (cp of a large file takes a while),
// and the glob matches it while it grows. It must be recognised as the copy, never read from
// its start (file input README, Rotation).

describe('durable queue: copytruncate copy matched by the glob while it is written', () => {
  for (const head of [0, 64 * 1024]) {
    it(`copy seen with ${head === 0 ? 'nothing' : `${head / 1024} KiB`} in it yet: every line once`, async () => {
      const { dir, data, logs } = scenarioDir(`durable-slow-copy-${head}`);
      const receiver = await LokiReceiver.start();
      cleanups.push(() => receiver.close());
      const tally = new Tally(receiver);
      const log = path.join(logs, 'app.log');
      const n = 20_000;
      await fsp.writeFile(log, lines('a', 0, n, 140));
      const cfg = writeCfg(dir, data, [fileInput([`${log}*`])], [lokiOutput(receiver.url)]);
      const ship = new Shiplog(cfg);
      cleanups.push(() => ship.dispose());
      keepEvidence(dir, () => ship.stderr);
      await ship.start();
      await tally.waitAll({ a: n }, 20_000);
      // cp app.log app.log.1, slowly: the first `head` bytes, a pause (a scan sees the copy),
      // the rest in chunks; then truncate app.log and go on writing to it.
      const content = await fsp.readFile(log);
      const copy = await fsp.open(`${log}.1`, 'w');
      await copy.write(content.subarray(0, head));
      await sleep(1_000);
      for (let off = head; off < content.length; off += 256 * 1024) {
        await copy.write(content.subarray(off, Math.min(content.length, off + 256 * 1024)));
        await sleep(20);
      }
      await copy.close();
      await fsp.truncate(log, 0);
      await fsp.appendFile(log, lines('a', n, 1000, 140));
      const written = { a: n + 1000 };
      await tally.waitAll(written, 20_000);
      await sleep(2_000); // anything read twice arrives meanwhile
      const s = tally.summary(written);
      const stopped = await ship.stop();
      report({
        scenario: `copytruncate, copy matched by app.log* while written (${head} bytes at first sight)`,
        ...s,
        peakRssMiB: ship.peakRssMiB,
      });
      expect(s.missing, dir).toEqual([]);
      // Every line once: the copy, held while short (or found by its fingerprint and then
      // grown), takes over from the original's position when app.log is truncated.
      expect(s.duplicated, `${dir}: the copy was read from its start`).toBe(0);
      expect(stopped.code).toBe(0);
      dropBulk(dir);
    }, 60_000);
  }
});

// ---------------------------------------------------------------------------------------------
// 3. One dead output must not stall the others

describe('durable queue: one dead output', () => {
  it('stdout gets every line while Loki is down; Loki gets every line after', async () => {
    const { dir, data, logs } = scenarioDir('durable-dead-output');
    let receiver = await LokiReceiver.start();
    const port = Number(new URL(receiver.url).port);
    let lokiOpen = true;
    cleanups.push(() => (lokiOpen ? receiver.close() : undefined));
    const loki = new Tally(receiver);
    const out = detachedTally();
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, '');
    const cfg = writeCfg(
      dir,
      data,
      [fileInput([log])],
      [lokiOutput(receiver.url), { type: 'stdout', id: 'stdout', format: 'json' }],
    );
    const ship = new StdoutShiplog(cfg, (line) => out.addLine(line));
    cleanups.push(() => ship.dispose());
    keepEvidence(dir, () => ship.stderr);
    await ship.start();
    let seq = 0;
    const append = async (n: number): Promise<void> => {
      await fsp.appendFile(log, lines('a', seq, n, 140));
      seq += n;
    };
    await append(1000);
    await waitDelivered(() => (loki.drain(), loki.unique({ a: seq })), seq, 20_000);
    expect(loki.unique({ a: seq }), 'Loki up at first').toBe(seq);

    lokiOpen = false;
    await receiver.close();
    const downAt = Date.now();
    const downMs = scale(10_000, 60_000);
    const rate = 10_000;
    // Write for all but the last 3 s of the outage; the stdout lag is sampled as we go.
    let maxLag = 0;
    while (Date.now() - downAt < downMs - 3_000) {
      await append(rate / 10);
      await sleep(100);
      maxLag = Math.max(maxLag, seq - out.received);
    }
    const wroteUntil = Date.now() - downAt;
    const written = { a: seq };
    await waitDelivered(() => out.unique(written), seq, 2_500);
    const stdoutAllAt = Date.now() - downAt;
    const stdoutDuring = out.unique(written);
    const m = await ship.metrics();
    const q = {
      bytes: metricValue(m, 'shiplog_queue_bytes', { component: 'loki' }),
      records: metricValue(m, 'shiplog_queue_records', { component: 'loki' }),
      age: metricValue(m, 'shiplog_queue_oldest_age_seconds', { component: 'loki' }),
    };
    await sleep(Math.max(0, downAt + downMs - Date.now()));
    receiver = await LokiReceiver.start({ port });
    lokiOpen = true;
    loki.use(receiver);
    await waitDelivered(() => (loki.drain(), loki.unique(written)), seq, NO_PROGRESS_MS);
    const ls = loki.summary(written);
    const os = out.summary(written);
    const stopped = await ship.stop();
    report({
      scenario: `one dead output: stdout while Loki down ${downMs / 1000} s`,
      ...os,
      peakRssMiB: ship.peakRssMiB,
      note: `writing stopped ${(wroteUntil / 1000).toFixed(1)} s into the outage, stdout had every line at ${(stdoutAllAt / 1000).toFixed(1)} s; largest stdout lag sampled ${maxLag} lines`,
    });
    report({
      scenario: `one dead output: Loki after its ${downMs / 1000} s outage`,
      ...ls,
      peakRssMiB: ship.peakRssMiB,
      note: `queue while down: ${q.records} records, ${q.bytes} bytes, oldest ${q.age.toFixed(1)} s`,
    });
    expect(stdoutDuring, `stdout while Loki was down (${dir})`).toBe(seq);
    expect(stdoutAllAt).toBeLessThan(downMs);
    expect(q.bytes).toBeGreaterThan(0);
    expect(q.records).toBeGreaterThan(0);
    expect(q.age).toBeGreaterThan(0);
    expect(ls.missing, dir).toEqual([]);
    expect(os.missing, dir).toEqual([]);
    // Nothing crashed: nothing twice.
    expect(ls.duplicated).toBe(0);
    expect(os.duplicated).toBe(0);
    expect(stopped.code).toBe(0);
    dropBulk(dir);
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------
// 4. Kubernetes pods tree, kubelet rotation, Loki down

describe('durable queue: kubernetes pods', () => {
  it('kubelet rotation (gzip, 5 files) at 20,000 lines/s while Loki is down: nothing lost', async () => {
    const { dir, data, logs } = scenarioDir('durable-kubelet');
    let receiver = await LokiReceiver.start();
    const port = Number(new URL(receiver.url).port);
    let lokiOpen = true;
    cleanups.push(() => (lokiOpen ? receiver.close() : undefined));
    const tally = new Tally(receiver);
    const files: Array<{ path: string; id: string }> = [];
    for (let p = 0; p < 5; p++) {
      for (const c of ['app', 'sidecar']) {
        const cdir = path.join(logs, 'pods', `ns${p % 2}_pod-${p}_0000-000${p}`, c);
        await fsp.mkdir(cdir, { recursive: true });
        await fsp.writeFile(path.join(cdir, '0.log'), '');
        files.push({ path: path.join(cdir, '0.log'), id: `p${p}${c}` });
      }
    }
    const cfg = writeCfg(
      dir,
      data,
      [
        {
          type: 'kubernetes',
          id: 'pods',
          paths: [path.join(logs, 'pods', '*', '*', '*.log')],
          scan_interval: '200ms',
          rotate_wait: '1s',
          exclude_own_pod: false,
        },
      ],
      [lokiOutput(receiver.url)],
    );
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    keepEvidence(dir, () => ship.stderr);
    await ship.start();
    // 2,000 lines/s per container; kubelet rotates each every 2 s (CI) or 5 s: the renamed file
    // is gzipped at the next rotation and deleted three rotations later.
    const writer = new RotatingWriter(dir, {
      files,
      rate: RATE,
      rotateEvery: scale(4_000, 10_000),
      rotate: 'kubelet',
      keep: 5,
      format: 'cri',
    });
    cleanups.push(() => void writer.child.kill('SIGKILL'));
    await writer.ready;
    const t0 = Date.now();
    await sleep(2_000);
    tally.drain();
    lokiOpen = false;
    await receiver.close();
    const downMs = scale(10_000, 60_000);
    await sleep(downMs - 1_000);
    const queued = await ship.metric('shiplog_queue_records', { component: 'loki' });
    await sleep(1_000);
    const upAt = Date.now() - t0;
    receiver = await LokiReceiver.start({ port });
    lokiOpen = true;
    tally.use(receiver);
    await sleep(3_000);
    const result = await writer.stop();
    await waitDelivered(
      () => (tally.drain(), tally.unique(result.written)),
      total(result.written),
      NO_PROGRESS_MS,
    );
    const s = tally.summary(result.written);
    ship.sample();
    const stopped = await ship.stop();
    const lossTrace = explainLoss(tally, result);
    const deletedWhileDown = result.generations.filter((g) =>
      g.events.some(([t, e]) => e.startsWith('deleted') && t < upAt),
    ).length;
    const gzippedWhileDown = result.generations.filter((g) =>
      g.events.some(([t, e]) => e.startsWith('gzipped') && t < upAt),
    ).length;
    report({
      scenario: `kubernetes: ${files.length} containers, kubelet rotation, Loki down ${downMs / 1000} s`,
      ...s,
      peakRssMiB: ship.peakRssMiB,
      note:
        `${result.rotations} rotations; while down ${gzippedWhileDown} files gzipped, ` +
        `${deletedWhileDown} deleted; queue ${queued} records before Loki returned`,
    });
    for (const l of lossTrace) console.log(`[reliability] kubernetes: lost: ${l}`);
    expect(lossTrace, `${dir}\n${lossTrace.join('\n')}`).toEqual([]);
    expect(s.lost, dir).toBe(0);
    expect(s.duplicated).toBe(0);
    expect(tally.foreign).toBe(0);
    expect(queued).toBeGreaterThan(0);
    expect(deletedWhileDown).toBeGreaterThan(0);
    expect(stopped.code).toBe(0);
    dropBulk(dir);
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------
// 5. The queue on a full disk

describe('durable queue: full disk', () => {
  it.skipIf(!IS_ROOT)(
    'data_dir on a full tmpfs: inputs wait, /readyz says why, all delivered once there is room',
    async () => {
      const { dir, data, logs } = scenarioDir('durable-full-disk');
      await fsp.mkdir(data, { recursive: true });
      // 0700: shiplog refuses a data_dir others may write to (tmpfs mounts 1777 by default).
      await sh(`mount -t tmpfs -o size=1m,mode=0700 tmpfs '${data}'`);
      cleanups.push(() => sh(`umount -l '${data}'`).catch(() => undefined));
      const receiver = await LokiReceiver.start();
      cleanups.push(() => receiver.close());
      const tally = new Tally(receiver);
      const log = path.join(logs, 'app.log');
      let seq = 0;
      const append = async (n: number): Promise<void> => {
        await fsp.appendFile(log, lines('a', seq, n, 140));
        seq += n;
      };
      await append(2000);
      const cfg = writeCfg(dir, data, [fileInput([log])], [lokiOutput(receiver.url)]);
      const ship = new Shiplog(cfg);
      cleanups.push(() => ship.dispose());
      keepEvidence(dir, () => ship.stderr);
      await ship.start();
      await tally.waitAll({ a: seq }, 20_000);
      expect(tally.unique({ a: seq })).toBe(seq);

      // Fill every free block.
      const filler = path.join(data, 'filler');
      const fh = await fsp.open(filler, 'w');
      let full = false;
      try {
        for (let i = 0; i < 1024; i++) await fh.write(Buffer.alloc(4096, 1));
      } catch (e) {
        full = (e as NodeJS.ErrnoException).code === 'ENOSPC';
      } finally {
        await fh.close();
      }
      expect(full).toBe(true);
      const before = seq;
      // More than the space freed below holds, even queued (snappy): the queue must make room
      // by itself once the backend took what it holds.
      await append(scale(100_000, 200_000));
      let ready = await ship.readyz();
      const end = Date.now() + 15_000;
      while (
        !(ready.status === 503 && /queue writes failing/.test(ready.body)) &&
        Date.now() < end
      ) {
        await sleep(200);
        ready = await ship.readyz();
      }
      await append(1000);
      await sleep(2_000);
      tally.drain();
      const whileFull = tally.unique({ a: seq }) - before;
      const alive = ship.alive;

      await fsp.unlink(filler);
      const written = { a: seq };
      await waitDelivered(() => (tally.drain(), tally.unique(written)), seq, 30_000);
      let after = await ship.readyz();
      const end2 = Date.now() + 15_000;
      while (after.status !== 200 && Date.now() < end2) {
        await sleep(200);
        after = await ship.readyz();
      }
      const m = await ship.metrics();
      const queued = `queue after freeing space: ${metricValue(m, 'shiplog_queue_bytes')} bytes, ${metricValue(m, 'shiplog_queue_records')} records; /readyz ${after.status} ${after.body.trim()}`;
      const s = tally.summary(written);
      const stopped = await ship.stop();
      report({
        scenario: 'queue on a full tmpfs (data_dir 1 MiB, filled)',
        ...s,
        peakRssMiB: ship.peakRssMiB,
        note: `/readyz while full: ${ready.status} "${ready.body.trim().split('\n').join('; ')}"; ${whileFull} delivered while full`,
      });
      expect(alive, ship.stderr.slice(-3000)).toBe(true);
      expect(ready.status, ready.body).toBe(503);
      expect(ready.body).toMatch(/loki: queue writes failing: .*ENOSPC/);
      expect(s.missing, `${dir}: ${queued}`).toEqual([]);
      expect(s.duplicated).toBe(0);
      expect(after.status, after.body).toBe(200);
      expect(stopped.code).toBe(0);
    },
    120_000,
  );
});
