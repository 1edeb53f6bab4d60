// `shiplog replay`: send dead letters again through their output (or another), keeping each
// record as it was (fields, nanosecond time, labels, source id).
//
// A replay claims `dead_letter/<id>.ndjson` by renaming it to `<id>.replay`: the daemon, running
// or not, starts a new `<id>.ndjson` with its next dead letter. The byte offset up to which every
// record was acknowledged (delivered or dead-lettered again) is saved atomically in
// `<id>.replay.offset` as acknowledgements arrive, so a replay interrupted (SIGINT: stop feeding,
// wait for what is in flight, save, exit 130) and run again resumes after what was delivered and
// sends nothing twice. Records dead-lettered again go to the live `<id>.ndjson` (exit 3).
//
// This file: the command (which ids, in which order, the summary). The files and their claim:
// replay-files.ts; replaying one claimed file: replay-send.ts; --dry-run: replay-dry-run.ts.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ShiplogConfig } from '../config/schema.js';
import { createLogger } from '../telemetry/logger.js';
import { parseTimeArg, UsageError } from './backfill.js';
import { dryRun } from './replay-dry-run.js';
import {
  claim,
  claimedFiles,
  deadLetterDir,
  idsWithDeadLetters,
  promoteNext,
  sources,
} from './replay-files.js';
import { replayOne, type FileSummary } from './replay-send.js';

export { deadLetterDir } from './replay-files.js';
export type { FileSummary } from './replay-send.js';

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

  if (o.dryRun) return dryRun(dir, ids, o, since, io.out);

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
