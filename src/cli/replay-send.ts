// Replaying one claimed dead-letter file (`<id>.replay`) through an output of its own (memory
// buffer: the daemon's disk queue is the daemon's): records in batches by tag, a bounded window
// in flight, the acknowledged prefix's byte offset saved atomically to `<id>.replay.offset` as
// acknowledgements arrive (a rerun resumes there). Lines before --since go back to the live file,
// lines that are not dead letters to `<id>.unreadable.ndjson`, before the offset can pass them.

import { createReadStream, promises as fsp } from 'node:fs';
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
import type { Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';

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

export async function replayOne(
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
