// `journald`: the system journal (or a mounted host journal), read through the host's
// journalctl the way Vector does: there is no maintained Node binding for sd-journal. The cursor
// of the last acknowledged entry is the checkpoint; journalctl is respawned if it exits.

import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { defineInput, type Input } from '../../../core/component.js';
import { ConfigError, ShiplogError } from '../../../core/errors.js';
import { lastEntryArgs, parseReadFrom, type StartAt } from './args.js';
import type { JournaldConfig } from './config.js';
import { meta } from './meta.js';
import { JournalReader } from './reader.js';

/** Checkpoint key of the journal stream (one per input). */
export const SOURCE_KEY = 'cursor';

export default defineInput({
  ...meta,
  create(config, ctx): Input {
    const where = `pipeline.inputs[id=${ctx.id}]`;
    const readFrom = parseReadFrom(config.read_from);
    if (!readFrom)
      throw new ConfigError([
        {
          code: 'SHIPLOG_CONFIG_INVALID',
          path: `${where}.read_from`,
          message: `expected head, tail, an RFC 3339 time (2024-05-01T00:00:00Z) or a duration to look back (1h), got ${JSON.stringify(config.read_from)}`,
        },
      ]);
    if (config.journal_directory !== undefined && config.files !== undefined)
      throw new ConfigError([
        {
          code: 'SHIPLOG_CONFIG_INVALID',
          path: where,
          message: 'journal_directory and files exclude each other: set one of them',
        },
      ]);

    const tracker = ctx.source(SOURCE_KEY);
    let reader: JournalReader | undefined;
    let stopped = false;

    return {
      async start() {
        if (reader || stopped) return;
        await checkJournalctl(config, ctx.id);
        if (config.journal_directory !== undefined) {
          const st = await fsp.stat(config.journal_directory).catch(() => undefined);
          if (!st?.isDirectory())
            throw new ShiplogError(
              'SHIPLOG_START_FAILED',
              `journald input "${ctx.id}": journal_directory ${config.journal_directory} is not a directory`,
            );
        }
        let initial: StartAt;
        const saved = tracker.committed;
        if (typeof saved === 'string' && saved.length > 0) {
          initial = { cursor: saved };
        } else if (saved !== undefined) {
          ctx.log.error('saved journal cursor is not a string; ignored', { saved });
          initial = readFrom.kind === 'head' ? { head: true } : { since: readFrom };
        } else if (readFrom.kind === 'tail' && !ctx.oneShot) {
          // Anchor "now" as a durable cursor at once: entries written while shiplog is down
          // before the first one arrives would otherwise be skipped by the next start.
          const cursor = await newestCursor(config).catch((e: Error) => {
            ctx.log.warn('could not read the newest journal cursor; starting at the end', {
              error: e.message,
            });
            return null;
          });
          if (typeof cursor === 'string') {
            tracker.track(cursor).release();
            initial = { cursor };
          } else if (cursor === undefined) {
            initial = { head: true }; // an empty journal: everything in it is new
          } else {
            initial = { since: readFrom };
          }
        } else {
          // backfill reads what is stored: `tail` would read nothing.
          initial = readFrom.kind === 'tail' ? { head: true } : { since: readFrom };
        }
        ctx.log.info('reading the journal', {
          from: 'cursor' in initial ? 'cursor' : 'head' in initial ? 'head' : config.read_from,
          directory: config.journal_directory,
        });
        const fallback: StartAt = readFrom.kind === 'head' ? { head: true } : { since: readFrom };
        reader = new JournalReader(config, ctx, tracker, initial, fallback);
        reader.start();
      },
      async stop() {
        stopped = true;
        await reader?.stop();
      },
      async drained() {
        await reader?.done();
      },
      health() {
        return reader?.health() ?? { ok: true };
      },
    };
  },
});

/** Fail at start-up, with a sentence a user can act on, when journalctl cannot run. */
async function checkJournalctl(config: JournaldConfig, id: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    execFile(config.journalctl_path, ['--version'], { timeout: 10_000 }, (err) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'not found'
          : code === 'EACCES'
            ? 'not executable'
            : (err.message.split('\n')[0] ?? String(code));
      reject(
        new ShiplogError(
          'SHIPLOG_START_FAILED',
          `journald input "${id}": cannot run journalctl_path "${config.journalctl_path}" (${why}); install systemd's journalctl or set journalctl_path`,
        ),
      );
    });
  });
}

/** Cursor of the newest entry matching the input's filters; undefined if there is none. */
function newestCursor(config: JournaldConfig): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile(
      config.journalctl_path,
      lastEntryArgs(config),
      { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => {
        if (err) return reject(err);
        const line = stdout.trim().split('\n').pop();
        if (!line) return resolve(undefined);
        try {
          const c = (JSON.parse(line) as { __CURSOR?: unknown }).__CURSOR;
          if (typeof c === 'string') return resolve(c);
        } catch {
          /* fall through */
        }
        reject(new Error('unexpected journalctl output'));
      },
    );
  });
}
