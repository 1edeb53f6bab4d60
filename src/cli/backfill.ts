// `shiplog backfill`: read files (or an input's files) from start to end through the configured
// filters and outputs, wait until every record is acknowledged, print a summary, and exit 0 only
// if nothing was dead-lettered or dropped (else 3). It keeps its own checkpoint file, so an
// interrupted backfill resumes where it stopped; a finished one removes it.

import { closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { CheckpointStore } from '../core/checkpoint-store.js';
import { DataDirLock, ensureDataDir } from '../core/data-dir.js';
import { Pipeline } from '../core/pipeline.js';
import { componentSchema, findDef } from '../components/registry.js';
import type { ShiplogConfig } from '../config/schema.js';
import { parseDuration } from '../core/units.js';
import { compileExclude, compileGlob, walkGlob } from '../components/inputs/file/glob.js';
import { createLogger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { pipelineComponents } from '../config/load.js';
import { UsageError } from './exit.js';

export interface BackfillOptions {
  input?: string;
  paths: string[];
  since?: string;
  until?: string;
  dryRun: boolean;
  tag?: string;
}

export interface BackfillSummary {
  read: number;
  delivered: Record<string, number>;
  dead_lettered: number;
  dropped: number;
  skipped: number;
  duration_s: number;
  interrupted: boolean;
}

const LOKI_MAX_AGE_MS = 7 * 86_400_000;

// A wrong command line: in exit.ts (loaded by every command; this module only by backfill/replay).
export { UsageError } from './exit.js';

/** A time given as RFC 3339 / ISO date, or a duration ago (`7d`, `12h`). */
export function parseTimeArg(
  flag: string,
  v: string | undefined,
  now = Date.now(),
): number | undefined {
  if (v === undefined) return undefined;
  const ago = parseDuration(v);
  if (ago !== undefined && !/^\d+$/.test(v)) return now - ago;
  const t = /^\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t))
    throw new UsageError(
      `${flag}: expected an RFC 3339 time (2026-01-31, 2026-01-31T12:00:00Z) or a duration ago (7d, 12h), got "${v}"`,
    );
  return t;
}

/** Narrow the configured pipeline to what this backfill reads. */
export function backfillConfig(config: ShiplogConfig, o: BackfillOptions): ShiplogConfig {
  let inputs = config.pipeline.inputs;
  const chosen = o.input ? inputs.find((i) => i.id === o.input) : undefined;
  if (o.input && !chosen) {
    throw new UsageError(
      `--input: no input with id "${o.input}" (inputs: ${inputs.map((i) => i.id).join(', ')})`,
    );
  }
  if (o.paths.includes('-')) {
    // `backfill -`: standard input, one record per line, to its end.
    if (o.paths.length > 1) throw new UsageError('"-" (standard input) cannot be mixed with paths');
    const def = findDef('input', 'stdin');
    if (!def) throw new Error('the stdin input is not available');
    const raw = {
      type: 'stdin',
      id: chosen?.id ?? 'stdin',
      tag: o.tag ?? chosen?.tag ?? 'backfill',
    };
    inputs = [componentSchema(def).parse(raw) as ShiplogConfig['pipeline']['inputs'][number]];
  } else if (o.paths.length > 0) {
    const base = chosen ?? inputs.find((i) => i.type === 'file');
    const def = findDef('input', base?.type === 'kubernetes' ? 'kubernetes' : 'file');
    if (!def) throw new Error('the file input is not available');
    const raw: Record<string, unknown> = {
      type: def.type,
      id: base?.id ?? 'backfill',
      tag: o.tag ?? base?.tag ?? 'backfill',
      paths: o.paths.map((p) => path.resolve(p)),
    };
    const parsed = componentSchema(def).parse(raw) as ShiplogConfig['pipeline']['inputs'][number];
    inputs = [parsed];
  } else if (chosen) {
    inputs = [chosen];
  } else {
    inputs = inputs.filter((i) => ['file', 'kubernetes', 'journald', 'stdin'].includes(i.type));
  }
  if (inputs.length === 0) {
    throw new UsageError(
      'nothing to backfill: give PATHs ("-" for standard input), --input ID, or configure a file input',
    );
  }
  if (o.tag && o.paths.length === 0) inputs = inputs.map((i) => ({ ...i, tag: o.tag! }));
  return { ...config, pipeline: { ...config.pipeline, inputs } };
}

/** The uncompressed size of a gzip file (its ISIZE trailer, mod 2^32), or undefined. */
function gzipSize(file: string, compressed: number): number | undefined {
  if (compressed < 18) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, compressed - 4);
    // ISIZE is the size mod 2^32 (of the last member): exact below 4 GiB, which backfills are.
    return b.readUInt32LE(0);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Files the backfill will read, with their sizes (gzip: uncompressed, as progress counts it). */
export async function plannedFiles(
  config: ShiplogConfig,
): Promise<Array<{ path: string; bytes: number }>> {
  const out = new Map<string, number>();
  for (const i of config.pipeline.inputs) {
    const paths = (i.paths as string[] | undefined) ?? [];
    const exclude = compileExclude((i.exclude as string[] | undefined) ?? []);
    for (const p of paths) {
      const files = await walkGlob(compileGlob(p), { onError: () => undefined });
      for (const f of files) {
        if (exclude(f)) continue;
        try {
          const st = statSync(f);
          if (st.isFile())
            out.set(f, (f.endsWith('.gz') ? gzipSize(f, st.size) : undefined) ?? st.size);
        } catch {
          /* vanished */
        }
      }
    }
  }
  return [...out]
    .map(([p, bytes]) => ({ path: p, bytes }))
    .sort((a, b) => a.path.localeCompare(b.path));
}

/** First line's JSON time of a file, when it has one (to warn about Loki's age limit). */
async function firstLineTime(file: string): Promise<number | undefined> {
  const stream = file.endsWith('.gz')
    ? createReadStream(file).pipe(createGunzip())
    : createReadStream(file, { end: 65535 });
  let text = '';
  for await (const chunk of stream) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n') || text.length > 65536) break;
  }
  stream.destroy();
  const line = text.split('\n')[0];
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    for (const k of ['timestamp', 'time', '@timestamp', 'ts']) {
      const v = o[k];
      if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return Date.parse(v);
    }
  } catch {
    /* not JSON */
  }
  return undefined;
}

function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function fmtEta(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

async function sum(metrics: Metrics, which: 'inputRecords' | 'inputBytes'): Promise<number> {
  return (await metrics[which].get()).values.reduce((a, v) => a + v.value, 0);
}

export async function runBackfill(
  base: ShiplogConfig,
  o: BackfillOptions,
  io: { out: NodeJS.WriteStream; err: NodeJS.WriteStream; onInterrupt: (fn: () => void) => void },
): Promise<{ code: number; summary?: BackfillSummary }> {
  const config = backfillConfig(base, o);
  const since = parseTimeArg('--since', o.since);
  const until = parseTimeArg('--until', o.until);
  const files = await plannedFiles(config);
  const total = files.reduce((a, f) => a + f.bytes, 0);
  // A path that matches nothing is a typo, not "0 records, success".
  const unmatched: string[] = [];
  for (const p of o.paths.filter((x) => x !== '-')) {
    const planned = new Set(files.map((f) => f.path));
    const found = await walkGlob(compileGlob(path.resolve(p)), { onError: () => undefined });
    if (!found.some((f) => planned.has(f))) unmatched.push(p);
  }
  if (unmatched.length)
    throw new UsageError(
      `no file matches ${unmatched.map((p) => `"${p}"`).join(', ')}${process.stdin.isTTY ? '' : ' (to read standard input: shiplog backfill -)'}`,
    );
  if (
    files.length === 0 &&
    o.paths.length === 0 &&
    config.pipeline.inputs.every((i) => i.type === 'file')
  )
    throw new UsageError(
      `no file matches the paths of ${config.pipeline.inputs.map((i) => `${i.id} (${((i.paths as string[] | undefined) ?? []).join(', ')})`).join(', ')}: nothing to backfill${process.stdin.isTTY ? '' : ' (to read standard input: shiplog backfill -)'}`,
    );
  const hasLoki = config.pipeline.outputs.some((x) => x.type === 'loki');

  if (o.dryRun) {
    io.out.write(
      `backfill plan: ${config.pipeline.inputs.map((i) => `${i.id}(${i.type})`).join(', ')} → ${config.pipeline.outputs.map((x) => `${x.id}(${x.type})`).join(', ')}\n`,
    );
    for (const f of files) io.out.write(`  ${f.path}  ${fmtBytes(f.bytes)}\n`);
    io.out.write(`  ${files.length} file(s), ${fmtBytes(total)}\n`);
    if (since !== undefined || until !== undefined)
      io.out.write(
        `  time window: ${since ? new Date(since).toISOString() : '-∞'} .. ${until ? new Date(until).toISOString() : '+∞'}\n`,
      );
  }
  if (hasLoki) {
    // Loki rejects entries older than its reject_old_samples_max_age (7d by default): say so up front.
    const old: string[] = [];
    for (const f of files.slice(0, 200)) {
      const t = await firstLineTime(f.path).catch(() => undefined);
      if (t !== undefined && Date.now() - t > LOKI_MAX_AGE_MS)
        old.push(`${f.path} (starts ${new Date(t).toISOString()})`);
    }
    if (old.length)
      io.err.write(
        `warning: ${old.length} file(s) start with records older than 7 days; Loki rejects those by default (they will be dead-lettered):\n  ${old.join('\n  ')}\n`,
      );
  }
  // --since/--until compare the record time; without a parser's time_field that is the read time.
  const timeSet = config.pipeline.filters.some((f) => typeof f.time_field === 'string');
  const readTimeNote =
    (since !== undefined || until !== undefined) && !timeSet
      ? 'note: no filter sets the record time (time_field of parse_json/parse_regex/parse_logfmt): --since/--until compared the time each line was read, not a time in the line'
      : undefined;
  if (readTimeNote && o.dryRun) io.out.write(`  ${readTimeNote}\n`);
  if (o.dryRun) return { code: 0 };

  const log = createLogger({
    level: config.service.log_level === 'info' ? 'warn' : config.service.log_level,
  });
  const metrics = new Metrics({ defaultMetrics: false });
  // Its own lock (beside the daemon's on data_dir): two backfills on one data_dir would resume
  // from, and overwrite, each other's checkpoints. A second one exits 78 naming the holder.
  ensureDataDir(config.service.data_dir);
  const stateDir = path.join(config.service.data_dir, 'backfill');
  ensureDataDir(stateDir);
  const lock = new DataDirLock(stateDir);
  lock.acquire();
  try {
    return await runLocked();
  } finally {
    lock.release();
  }

  async function runLocked(): Promise<{ code: number; summary: BackfillSummary }> {
    const ckFile = path.join(stateDir, 'checkpoints.json');
    const store = new CheckpointStore(
      ckFile,
      log.child({ component: 'checkpoints' }),
      config.service.checkpoint_interval,
    );
    await store.load();
    const keep =
      since !== undefined || until !== undefined
        ? (r: { timeMs: number }) =>
            (since === undefined || r.timeMs >= since) && (until === undefined || r.timeMs < until)
        : undefined;
    const pipeline = new Pipeline(config, {
      components: pipelineComponents(),
      log,
      metrics,
      checkpoints: store,
      oneShot: true,
      keep,
    });
    const started = performance.now();
    let interrupted = false;
    io.onInterrupt(() => {
      if (interrupted) pipeline.abortOutputs('interrupted twice');
      interrupted = true;
      // Deliver what is in flight for up to shutdown_timeout, then give up (it stays uncommitted
      // and the next run reads it again). The stop below may already be waiting with no deadline.
      setTimeout(
        () => pipeline.abortOutputs('interrupted'),
        config.service.shutdown_timeout,
      ).unref();
      void pipeline.stop(Date.now() + config.service.shutdown_timeout);
    });

    const tty = io.err.isTTY === true;
    const progress = async (final = false): Promise<void> => {
      const bytes = await sum(metrics, 'inputBytes');
      const lines = await sum(metrics, 'inputRecords');
      const secs = (performance.now() - started) / 1000;
      const rate = lines / Math.max(0.001, secs);
      const byteRate = bytes / Math.max(0.001, secs);
      const eta = total > bytes && byteRate > 0 ? (total - bytes) / byteRate : 0;
      if (tty) {
        const width = 30;
        const frac = total > 0 ? Math.min(1, bytes / total) : final ? 1 : 0;
        const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
        io.err.write(
          `\r${bar} ${(frac * 100).toFixed(1).padStart(5)}%  ${fmtBytes(bytes)}/${fmtBytes(total)}  ${Math.round(rate)} lines/s  ETA ${fmtEta(eta)}   ${final ? '\n' : ''}`,
        );
      } else {
        io.err.write(
          JSON.stringify({
            event: 'progress',
            bytes_done: bytes,
            bytes_total: total,
            lines,
            lines_per_s: Math.round(rate),
            eta_s: Math.round(eta),
          }) + '\n',
        );
      }
    };
    const timer = setInterval(() => void progress(), tty ? 250 : 2000);

    await pipeline.start();
    store.start();
    await Promise.race([pipeline.drained(), new Promise<void>((r) => io.onInterrupt(r))]);
    // Everything read: flush every output and wait for every acknowledgement (no deadline unless interrupted).
    await pipeline.stop(interrupted ? Date.now() + config.service.shutdown_timeout : Infinity);
    await store.stop();
    clearInterval(timer);
    await progress(true);

    const out = await metrics.outputRecords.get();
    const delivered: Record<string, number> = {};
    let dead = 0;
    for (const v of out.values) {
      if (v.labels.result === 'sent')
        delivered[String(v.labels.component)] =
          (delivered[String(v.labels.component)] ?? 0) + v.value;
      if (v.labels.result === 'dead_lettered') dead += v.value;
    }
    const dropped = (await metrics.droppedRecords.get()).values.reduce((a, v) => a + v.value, 0);
    const summary: BackfillSummary = {
      read: await sum(metrics, 'inputRecords'),
      delivered,
      dead_lettered: dead,
      dropped,
      skipped: pipeline.skipped,
      duration_s: +((performance.now() - started) / 1000).toFixed(2),
      interrupted,
    };
    io.err.write(
      `backfill ${interrupted ? 'interrupted' : 'done'}: read ${summary.read}, delivered ${
        Object.entries(delivered)
          .map(([k, v]) => `${v} to ${k}`)
          .join(', ') || 0
      }, dead-lettered ${dead}, dropped ${dropped}${summary.skipped ? `, outside the time window ${summary.skipped}` : ''}, ${summary.duration_s}s\n`,
    );
    if (readTimeNote) io.err.write(`${readTimeNote}\n`);
    if (dead > 0)
      io.err.write(
        `dead letters: ${path.join(config.service.data_dir, 'dead_letter')}/<output>.ndjson\n`,
      );
    io.err.write(JSON.stringify({ event: 'summary', ...summary }) + '\n');
    if (interrupted) return { code: 130, summary };
    // Finished: the next backfill of the same files starts from the beginning.
    rmSync(ckFile, { force: true });
    return { code: dead > 0 || dropped > 0 ? 3 : 0, summary };
  }
}
