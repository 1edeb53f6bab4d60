// `shiplog replay`: send dead letters again through their output (or another), keeping each
// record as it was (fields, nanosecond time, labels, source id).
//
// A replay claims `dead_letter/<id>.ndjson` by renaming it to `<id>.replay`: the daemon, running
// or not, starts a new `<id>.ndjson` with its next dead letter. The byte offset up to which every
// record was acknowledged (delivered or dead-lettered again) is saved atomically in
// `<id>.replay.offset` as acknowledgements arrive, so a replay interrupted (SIGINT: stop feeding,
// wait for what is in flight, save, exit 130) and run again resumes after what was delivered and
// sends nothing twice. Records dead-lettered again go to the live `<id>.ndjson` (exit 3).

import { createReadStream, promises as fsp, existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { ShiplogConfig } from '../config/schema.js';
import { pipelineComponents } from '../config/load.js';
import {
  createDeadLetterWriter,
  parseDeadLetter,
  type DeadLetterWriter,
} from '../core/dead-letter.js';
import type { Output } from '../core/component.js';
import type { LogRecord } from '../core/record.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { parseTimeArg, UsageError } from './backfill.js';

export interface ReplayOptions {
  /** Dead letters of this component (default: every output that has some). */
  output?: string;
  /** Send through this output instead of the one that dead-lettered them. */
  to?: string;
  since?: string;
  dryRun: boolean;
  json: boolean;
}

export interface ReplayIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Register the SIGINT/SIGTERM handler. */
  onInterrupt(fn: () => void): void;
}

export interface FileSummary {
  from: string;
  to: string;
  /** Records sent and acknowledged as delivered. */
  sent: number;
  /** Records the output dead-lettered again (now in the live dead-letter file). */
  dead_again: number;
  /** Records before --since, kept in the live dead-letter file. */
  kept: number;
  /** Lines that are not dead letters, moved to `<id>.unreadable.ndjson`. */
  unreadable: number;
  /** Records a previous interrupted replay had already sent (skipped by offset). */
  resumed_at_byte: number;
  interrupted: boolean;
}

/** Records and bytes per batch handed to the output. */
const BATCH_RECORDS = 500;
const BATCH_BYTES = 1 << 20;
/** Bytes (estimated) handed to the output and not yet acknowledged. */
const IN_FLIGHT_BYTES = 2 << 20;

export function deadLetterDir(config: ShiplogConfig): string {
  return path.join(config.service.data_dir, 'dead_letter');
}

/** Ids with dead letters waiting (live file or an interrupted replay). */
function idsWithDeadLetters(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const ids = new Set<string>();
  for (const n of names) {
    const m = /^(.+)\.(ndjson(\.\d+)?|replay(-\d+)?)$/.exec(n);
    if (m && !m[1].endsWith('.unreadable')) ids.add(m[1]);
  }
  return [...ids].sort();
}

export async function runReplay(
  config: ShiplogConfig,
  o: ReplayOptions,
  io: ReplayIo,
): Promise<{ code: number }> {
  const dir = deadLetterDir(config);
  const outputs = new Map(config.pipeline.outputs.map((oc) => [oc.id, oc]));
  if (o.to !== undefined && !outputs.has(o.to))
    throw new UsageError(
      `--to ${o.to}: no output with this id (outputs: ${[...outputs.keys()].join(', ')})`,
    );
  if (o.output !== undefined && !outputs.has(o.output) && o.to === undefined)
    throw new UsageError(
      `--output ${o.output}: no output with this id; a filter's dead letters need --to OUTPUT`,
    );
  const since = parseTimeArg('--since', o.since);
  let ids =
    o.output !== undefined ? [o.output] : idsWithDeadLetters(dir).filter((id) => outputs.has(id));
  ids = ids.filter((id) => sources(dir, id).length > 0 || claimedFiles(dir, id).length > 0);

  if (o.dryRun) return dryRun(dir, ids, o, since, io);

  const log = createLogger({ level: 'warn' });
  let interrupted = false;
  const stoppers: Array<() => void> = [];
  io.onInterrupt(() => {
    if (interrupted) process.exit(130);
    interrupted = true;
    for (const s of stoppers) s();
  });
  const summaries: FileSummary[] = [];
  for (const id of ids) {
    if (interrupted) break;
    const to = o.to ?? id;
    await claim(dir, id);
    let total: FileSummary | undefined;
    // Claimed files in order: `<id>.replay` (resumed if interrupted), then `.replay-2`, ...
    while (!interrupted && existsSync(path.join(dir, `${id}.replay`))) {
      const s = await replayOne(
        config,
        dir,
        id,
        to,
        since,
        log,
        (stop) => stoppers.push(stop),
        () => interrupted,
      );
      if (total === undefined) total = s;
      else for (const k of ['sent', 'dead_again', 'kept', 'unreadable'] as const) total[k] += s[k];
      total.interrupted = s.interrupted;
      if (s.interrupted) break;
      await promoteNext(dir, id);
    }
    if (total) summaries.push(total);
  }
  const deadAgain = summaries.reduce((n, s) => n + s.dead_again, 0);
  const code = interrupted ? 130 : deadAgain > 0 ? 3 : 0;
  if (o.json) io.out.write(JSON.stringify({ files: summaries, exit: code }) + '\n');
  else {
    if (summaries.length === 0) io.out.write(`no dead letters to replay in ${dir}\n`);
    for (const s of summaries)
      io.out.write(
        `replay ${s.from}${s.to !== s.from ? ` -> ${s.to}` : ''}: sent ${s.sent}, dead-lettered again ${s.dead_again}, kept (before --since) ${s.kept}, unreadable ${s.unreadable}${s.resumed_at_byte > 0 ? `, resumed at byte ${s.resumed_at_byte}` : ''}${s.interrupted ? ' (interrupted: run again to resume)' : ''}\n`,
      );
    if (deadAgain > 0)
      io.err.write(
        `shiplog replay: ${deadAgain} record(s) were dead-lettered again (see ${path.join(dir, '<output>.ndjson')})\n`,
      );
  }
  return { code };
}

/** Dead-letter files of an id, oldest first: the rotated ones (`.ndjson.3` .. `.1`), then the live one. */
function sources(dir: string, id: string): string[] {
  const live = path.join(dir, `${id}.ndjson`);
  return [`${live}.3`, `${live}.2`, `${live}.1`, live].filter((f) => existsSync(f));
}

/** Files a replay claimed and has not finished. */
function claimedFiles(dir: string, id: string): string[] {
  const first = path.join(dir, `${id}.replay`);
  return [first, ...[2, 3, 4, 5].map((k) => `${first}-${k}`)].filter((f) => existsSync(f));
}

/**
 * Claim an id's dead-letter files by renaming them (oldest first) to `<id>.replay`,
 * `<id>.replay-2`, ...; unless an interrupted replay's claim is still there (finished first).
 */
async function claim(dir: string, id: string): Promise<void> {
  if (claimedFiles(dir, id).length > 0) return;
  const first = path.join(dir, `${id}.replay`);
  let k = 1;
  for (const src of sources(dir, id)) {
    try {
      await fsp.rename(src, k === 1 ? first : `${first}-${k}`);
      k++;
    } catch (e) {
      // The daemon rotated it meanwhile: it stays for the next replay.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  // A daemon that opened the live file just before the rename may still be appending to it.
  if (k > 1) await new Promise((r) => setTimeout(r, 250));
}

/** `<id>.replay` is done: the next claimed file takes its name. */
async function promoteNext(dir: string, id: string): Promise<void> {
  const first = path.join(dir, `${id}.replay`);
  for (const k of [2, 3, 4, 5]) {
    const f = `${first}-${k}`;
    if (existsSync(f)) {
      await fsp.rename(f, first);
      return;
    }
  }
}

async function replayOne(
  config: ShiplogConfig,
  dir: string,
  id: string,
  to: string,
  since: number | undefined,
  log: Logger,
  onStop: (stop: () => void) => void,
  isInterrupted: () => boolean,
): Promise<FileSummary> {
  const live = path.join(dir, `${id}.ndjson`);
  const claimed = path.join(dir, `${id}.replay`);
  const offsetFile = `${claimed}.offset`;
  const summary: FileSummary = {
    from: id,
    to,
    sent: 0,
    dead_again: 0,
    kept: 0,
    unreadable: 0,
    resumed_at_byte: 0,
    interrupted: false,
  };
  let start = 0;
  // An interrupted replay: resume after what it had acknowledged.
  try {
    const saved = JSON.parse(await fsp.readFile(offsetFile, 'utf8')) as { offset?: unknown };
    if (typeof saved.offset === 'number' && saved.offset >= 0) start = saved.offset;
  } catch {
    start = 0;
  }
  summary.resumed_at_byte = start;

  const oc = config.pipeline.outputs.find((x) => x.id === to)!;
  const metrics = new Metrics({ defaultMetrics: false });
  const clog = log.child({ component: to, type: oc.type });
  const realDead = createDeadLetterWriter(
    config.service.data_dir,
    to,
    clog,
    metrics,
    undefined,
    config.service.dead_letter.max_size,
  );
  const deadLetter: DeadLetterWriter = {
    file: realDead.file,
    write(items) {
      summary.dead_again += items.length;
      return realDead.write(items);
    },
  };
  const abort = new AbortController();
  const def = pipelineComponents().getDef('output', oc.type);
  const limit = oc.buffer.max_bytes ?? Math.floor(config.service.memory_limit / 2);
  // What may be in flight at once: an interrupt waits for it, so keep it small.
  const window = Math.min(limit, IN_FLIGHT_BYTES);
  // Memory buffer: the daemon's disk queue belongs to the daemon.
  const output: Output = def.create(oc as never, {
    bufferLimit: limit,
    id: to,
    type: oc.type,
    log: clog,
    metrics,
    dataDir: config.service.data_dir,
    signal: abort.signal,
    deadLetter,
    queue: undefined,
  });
  await output.start();

  // Acknowledged prefix: batches in order, each with the byte offset its last line ends at.
  const pending: Array<{ end: number; acked: boolean }> = [];
  let ackedOffset = start;
  let acknowledged = 0;
  let inFlightBytes = 0;
  let wake: (() => void) | undefined;
  let saving: Promise<void> = Promise.resolve();
  let saveQueued = false;
  const save = (): void => {
    if (saveQueued) return;
    saveQueued = true;
    saving = saving.then(async () => {
      saveQueued = false;
      const tmp = `${offsetFile}.tmp`;
      await fsp.writeFile(tmp, JSON.stringify({ offset: ackedOffset }) + '\n');
      await fsp.rename(tmp, offsetFile);
    });
  };
  let stopFeeding = false;
  onStop(() => {
    stopFeeding = true;
    wake?.();
  });

  const keptLines: string[] = [];
  const unreadable: string[] = [];
  const flushSide = async (): Promise<void> => {
    if (keptLines.length > 0)
      await fsp.appendFile(live, keptLines.splice(0).join(''), { mode: 0o640 });
    if (unreadable.length > 0)
      await fsp.appendFile(
        path.join(dir, `${id}.unreadable.ndjson`),
        unreadable.splice(0).join(''),
        {
          mode: 0o640,
        },
      );
  };

  let batch: LogRecord[] = [];
  let batchTag = '';
  let batchBytes = 0;
  let pos = start;
  const send = async (end: number): Promise<void> => {
    const records = batch;
    const tag = batchTag;
    const bytes = batchBytes;
    batch = [];
    batchBytes = 0;
    // Lines kept/unreadable before this point are written before the offset can pass them.
    await flushSide();
    const entry = { end, acked: false };
    pending.push(entry);
    if (records.length === 0) entry.acked = true;
    else {
      inFlightBytes += bytes;
      output.write({
        tag,
        records,
        bytes,
        ack: () => {
          if (entry.acked) return;
          entry.acked = true;
          acknowledged += records.length;
          inFlightBytes -= bytes;
          advance();
        },
      });
    }
    advance();
    while (inFlightBytes >= window && !stopFeeding) await new Promise<void>((r) => (wake = r));
  };
  const advance = (): void => {
    let moved = false;
    while (pending.length > 0 && pending[0].acked) {
      const e = pending.shift()!;
      ackedOffset = e.end;
      moved = true;
    }
    if (moved) save();
    const w = wake;
    wake = undefined;
    w?.();
  };

  const stream = createReadStream(claimed, { start });
  let rest: Buffer = Buffer.alloc(0);
  outer: for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf: Buffer = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let from = 0;
    for (;;) {
      if (stopFeeding || isInterrupted()) break outer;
      const nl = buf.indexOf(10, from);
      if (nl === -1) break;
      const lineText = buf.toString('utf8', from, nl + 1);
      const lineEnd = pos + (nl + 1 - from);
      from = nl + 1;
      let parsed: ReturnType<typeof parseDeadLetter> | undefined;
      try {
        parsed = parseDeadLetter(lineText);
      } catch {
        unreadable.push(lineText);
        summary.unreadable++;
      }
      if (parsed) {
        if (since !== undefined && !(Date.parse(parsed.entry.dead_lettered_at) >= since)) {
          keptLines.push(lineText);
          summary.kept++;
        } else {
          const tag = parsed.entry.tag ?? 'replay';
          if (batch.length > 0 && tag !== batchTag) await send(pos);
          batchTag = tag;
          batch.push(parsed.record);
          batchBytes += lineText.length * 2 + 300;
        }
      }
      pos = lineEnd;
      if (batch.length >= BATCH_RECORDS || batchBytes >= BATCH_BYTES) await send(pos);
    }
    rest = buf.subarray(from);
  }
  stream.destroy();
  if (!stopFeeding && !isInterrupted() && rest.length > 0) {
    // A last line without its newline (a writer cut short): keep it in the live file.
    keptLines.push(rest.toString('utf8') + '\n');
    pos += rest.length;
  }
  await send(pos);
  // Wait for every acknowledgement (an interrupt waits for what is in flight, then saves).
  await output.stop();
  while (pending.length > 0 && !pending.every((p) => p.acked))
    await new Promise((r) => setTimeout(r, 20));
  advance();
  await flushSide();
  save();
  await saving;
  summary.interrupted = stopFeeding || isInterrupted();
  // Acknowledged records are delivered or dead-lettered again.
  summary.sent = acknowledged - summary.dead_again;
  if (!summary.interrupted) {
    await fsp.rm(claimed, { force: true });
    await fsp.rm(offsetFile, { force: true });
  }
  return summary;
}

/** --dry-run: what a replay would send, without claiming anything. */
async function dryRun(
  dir: string,
  ids: string[],
  o: ReplayOptions,
  since: number | undefined,
  io: ReplayIo,
): Promise<{ code: number }> {
  const files: Array<{
    from: string;
    to: string;
    records: number;
    kept: number;
    unreadable: number;
    first: string | null;
    last: string | null;
    reasons: Array<{ reason: string; count: number }>;
  }> = [];
  for (const id of ids) {
    const f = {
      from: id,
      to: o.to ?? id,
      records: 0,
      kept: 0,
      unreadable: 0,
      first: null as string | null,
      last: null as string | null,
      reasons: [] as Array<{ reason: string; count: number }>,
    };
    const reasons = new Map<string, number>();
    const claimed = path.join(dir, `${id}.replay`);
    let start = 0;
    try {
      start = (JSON.parse(await fsp.readFile(`${claimed}.offset`, 'utf8')) as { offset: number })
        .offset;
    } catch {
      start = 0;
    }
    for (const [file, from] of [
      [claimed, start],
      ...claimedFiles(dir, id)
        .filter((f) => f !== claimed)
        .map((f) => [f, 0]),
      ...sources(dir, id).map((f) => [f, 0]),
    ] as Array<[string, number]>) {
      if (!existsSync(file)) continue;
      const text = (await fsp.readFile(file)).subarray(from).toString('utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          const { entry } = parseDeadLetter(line);
          if (since !== undefined && !(Date.parse(entry.dead_lettered_at) >= since)) {
            f.kept++;
            continue;
          }
          f.records++;
          if (f.first === null || entry.dead_lettered_at < f.first)
            f.first = entry.dead_lettered_at;
          if (f.last === null || entry.dead_lettered_at > f.last) f.last = entry.dead_lettered_at;
          // Group reasons that differ only in numbers (timestamps, positions).
          const key = entry.reason.replace(/\d+(\.\d+)?/g, '#');
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        } catch {
          f.unreadable++;
        }
      }
    }
    f.reasons = [...reasons]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([reason, count]) => ({ reason, count }));
    files.push(f);
  }
  if (o.json) io.out.write(JSON.stringify({ dry_run: true, files }) + '\n');
  else {
    if (files.length === 0) io.out.write(`no dead letters to replay in ${dir}\n`);
    for (const f of files) {
      io.out.write(
        `would replay ${f.records} record(s) from ${f.from} through ${f.to}` +
          (f.first ? ` (dead-lettered ${f.first} .. ${f.last})` : '') +
          (f.kept ? `; ${f.kept} before --since stay` : '') +
          (f.unreadable ? `; ${f.unreadable} unreadable line(s)` : '') +
          '\n',
      );
      for (const r of f.reasons) io.out.write(`  ${String(r.count).padStart(8)}  ${r.reason}\n`);
    }
  }
  return { code: 0 };
}
