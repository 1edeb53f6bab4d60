// Dead letters: records a backend (or a filter) rejected permanently, appended to
// `data_dir/dead_letter/<component>.ndjson` with the reason, one JSON object per record, so they
// are never silently dropped and never block the stream. A line keeps the whole record (fields,
// nanosecond time, per-record labels, source id) so `shiplog replay` can send it again as it was.

import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { recordJson, type LogRecord } from './record.js';

/** service.dead_letter.max_size's default. */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
/** Rotated files kept behind the live one: `<id>.ndjson.1` (newest) .. `.3`. */
export const ROTATED = 3;
/** A reason is cut to this many characters: a backend's error body repeated per record (a 401 on every push) must not fill the disk. */
export const MAX_REASON = 200;

export function shortReason(reason: string): string {
  return reason.length > MAX_REASON ? reason.slice(0, MAX_REASON - 1) + '…' : reason;
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
    }
  } catch {
    return n;
  }
  return n;
}

export interface DeadLetter {
  record: LogRecord;
  reason: string;
  tag?: string;
}

export interface DeadLetterWriter {
  readonly file: string;
  /** Append; resolves once written (so the caller may then acknowledge the records). */
  write(items: DeadLetter[]): Promise<void>;
}

export function createDeadLetterWriter(
  dataDir: string,
  component: string,
  log: Logger,
  metrics: Metrics,
  /** Called once a write landed, per tag: the ledger's dead-letter count. */
  onWritten?: (tag: string | undefined, count: number) => void,
  /** service.dead_letter.max_size: the live file and its rotated files together. */
  maxBytes: number = DEFAULT_MAX_BYTES,
): DeadLetterWriter {
  const dir = path.join(dataDir, 'dead_letter');
  const file = path.join(dir, `${component}.ndjson`);
  let chain: Promise<void> = Promise.resolve();
  let dirMade = false;
  // The live file rotates at a quarter of the cap; ROTATED files are kept behind it.
  const segment = Math.max(4096, Math.floor(maxBytes / (ROTATED + 1)));
  const sizeOf = async (f: string): Promise<number> => {
    try {
      return (await fsp.stat(f)).size;
    } catch {
      return 0;
    }
  };
  /** Sizes of the live file and the rotated ones (a replay may have moved any of them). */
  const measure = async (): Promise<{ live: number; total: number }> => {
    const live = await sizeOf(file);
    let total = live;
    for (let i = 1; i <= ROTATED; i++) total += await sizeOf(`${file}.${i}`);
    return { live, total };
  };
  const rotate = async (): Promise<void> => {
    const oldest = `${file}.${ROTATED}`;
    const lines = await countLines(oldest);
    if (lines > 0) {
      await fsp.rm(oldest, { force: true });
      metrics.deadLetterDiscarded.inc({ component }, lines);
      log.warn('dead letters discarded: over service.dead_letter.max_size', {
        file: oldest,
        records: lines,
        max_size: maxBytes,
      });
    }
    for (let i = ROTATED - 1; i >= 0; i--) {
      const from = i === 0 ? file : `${file}.${i}`;
      await fsp.rename(from, `${file}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
  };
  return {
    file,
    write(items: DeadLetter[]): Promise<void> {
      if (items.length === 0) return Promise.resolve();
      const now = new Date().toISOString();
      let text = '';
      for (const it of items) {
        const t = new Date(it.record.timeMs);
        const time = Number.isNaN(t.getTime()) ? null : t.toISOString();
        let record: string;
        try {
          record = recordJson(it.record);
        } catch (e) {
          // A record that cannot be serialised must still be accounted for, never block the stream.
          record = JSON.stringify({ unserialisable: (e as Error).message });
        }
        text += deadLetterLine(now, component, it, time, record);
      }
      // Serialise appends so lines never interleave; a failed write is retried (never dropped).
      const run = async (): Promise<void> => {
        for (let attempt = 0; ; attempt++) {
          try {
            if (!dirMade) {
              await fsp.mkdir(dir, { recursive: true });
              dirMade = true;
            }
            const before = await measure();
            if (before.live > 0 && before.live + text.length > segment) await rotate();
            await fsp.appendFile(file, text, { mode: 0o640 });
            metrics.deadLetterBytes.set({ component }, (await measure()).total);
            metrics.outputRecords.inc({ component, result: 'dead_lettered' }, items.length);
            if (onWritten) countByTag(items, onWritten);
            log.warn('records dead-lettered', {
              file,
              reason: shortReason(items[0].reason),
              count: items.length,
            });
            return;
          } catch (e) {
            log.error('dead-letter write failed; retrying', { file, error: (e as Error).message });
            await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
          }
        }
      };
      chain = chain.then(run);
      return chain;
    },
  };
}

/** One dead-letter line (with its newline). `record` is the fields' JSON text. */
function deadLetterLine(
  now: string,
  component: string,
  it: DeadLetter,
  time: string | null,
  record: string,
): string {
  const r = it.record;
  let line = `{"dead_lettered_at":${JSON.stringify(now)},"component":${JSON.stringify(component)},"tag":${JSON.stringify(it.tag ?? null)},"reason":${JSON.stringify(shortReason(it.reason))},"time":${JSON.stringify(time)}`;
  if (time !== null) line += `,"time_ns":"${timeNsText(r.timeMs, r.timeNs)}"`;
  if (r.labels !== undefined) line += `,"labels":${JSON.stringify(r.labels)}`;
  if (r.sourceId !== undefined) line += `,"source_id":${JSON.stringify(r.sourceId)}`;
  return line + `,"record":${record}}\n`;
}

/** Nanoseconds since the epoch as decimal text (exact beyond 2^53). */
function timeNsText(timeMs: number, timeNs: number): string {
  const ns = Number.isInteger(timeNs) && timeNs >= 0 && timeNs < 1e6 ? timeNs : 0;
  return (BigInt(Math.trunc(timeMs)) * 1_000_000n + BigInt(ns)).toString();
}

/** A dead-letter line as written above. */
export interface DeadLetterEntry {
  dead_lettered_at: string;
  component: string;
  tag: string | null;
  reason: string;
  time: string | null;
  time_ns?: string;
  labels?: Record<string, string>;
  source_id?: string;
  record: Record<string, unknown>;
}

/**
 * Parse one dead-letter line back into the record it holds (replay). Lines written before
 * `time_ns` existed fall back to `time` (millisecond precision). Throws on a malformed line.
 */
export function parseDeadLetter(line: string): { entry: DeadLetterEntry; record: LogRecord } {
  const entry = JSON.parse(line) as DeadLetterEntry;
  if (
    entry === null ||
    typeof entry !== 'object' ||
    typeof entry.record !== 'object' ||
    entry.record === null
  )
    throw new Error('not a dead-letter line');
  let timeMs = Date.now();
  let timeNs = 0;
  if (typeof entry.time_ns === 'string' && /^\d{1,30}$/.test(entry.time_ns)) {
    const ns = BigInt(entry.time_ns);
    timeMs = Number(ns / 1_000_000n);
    timeNs = Number(ns % 1_000_000n);
  } else if (typeof entry.time === 'string') {
    const ms = Date.parse(entry.time);
    if (!Number.isNaN(ms)) timeMs = ms;
  }
  const record: LogRecord = { fields: entry.record, timeMs, timeNs };
  if (entry.labels && typeof entry.labels === 'object') record.labels = entry.labels;
  if (typeof entry.source_id === 'string') record.sourceId = entry.source_id;
  return { entry, record };
}

function countByTag(items: DeadLetter[], fn: (tag: string | undefined, n: number) => void): void {
  let tag = items[0].tag;
  let n = 0;
  for (const it of items) {
    if (it.tag !== tag) {
      fn(tag, n);
      tag = it.tag;
      n = 0;
    }
    n++;
  }
  fn(tag, n);
}
