// Runs journalctl and turns its stdout into batches, for as long as the input lives.
//
//   spawn journalctl --cursor=C (entries not after C dropped, cursor.ts) ──stdout──▶ LineSplitter ──▶ JournalMapper ──▶ ctx.emit
//        ▲   (paused while emit's promise is pending: the pipe fills, journalctl blocks)   │
//        └── exit/crash: respawn with backoff from the last *emitted* cursor ◀────────────┘
//
// Resuming from the last emitted (not committed) cursor while the process lives avoids re-reading
// what is already in the pipeline; at start-up the committed cursor is the only safe one, so a
// crash duplicates at most what was in flight.

import { spawn, type ChildProcess } from 'node:child_process';
import type { InputContext } from '../../../core/component.js';
import type { SourceTracker } from '../../../core/acks.js';
import { EntrySplitter, type JournalLine } from './split.js';
import { abortableSleep } from '../../../core/retry.js';
import type { JournaldConfig } from './config.js';
import { journalctlArgs, type StartAt } from './args.js';
import { JournalMapper, type MapResult } from './map.js';
import { isAfter, lineCursor, parseCursor, type CursorPos } from './cursor.js';

/** Emit when this much is parsed, without waiting for the end of the current I/O phase. */
const MAX_BATCH_RECORDS = 4096;
const MAX_BATCH_BYTES = 1024 * 1024;
/** Longest wait for more entries before a partial batch is emitted (one timer per batch). */
const LINGER_MS = 10;
/** A run that lasted this long (or printed entries) counts as healthy: the failure count resets. */
const HEALTHY_RUN_MS = 10_000;
/** Consecutive failed runs before /readyz reports the input unhealthy. */
const UNHEALTHY_AFTER = 3;
const STDERR_KEEP = 4096;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
  stderr: string;
}

export class JournalReader {
  private warnedNoJournal = false;
  private readonly mapper: JournalMapper;
  private child: ChildProcess | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  /** Cursor of the last entry handed to the pipeline (or the start position). */
  private cursor: string | undefined;
  /** A rejected cursor whose time the next run starts from (--since); its entry is dropped. */
  private sinceCursor: string | undefined;
  private failures = 0;
  /** Aborted by stop(): ends a backoff sleep even if ctx.signal is not aborted. */
  private readonly halt = new AbortController();
  private lastFailure = '';
  /** Runs so far (tests and logs). */
  runs = 0;
  /** While set, the run resumed from this cursor: entries not after it are dropped (#23.9). */
  private resume: { cursor: string; pos: CursorPos; sawIt: boolean } | undefined;
  /** Entries known lost (a vacuumed journal), for tests. */
  gone = 0;

  constructor(
    private readonly config: JournaldConfig,
    private readonly ctx: InputContext,
    private readonly tracker: SourceTracker,
    /** Where to start when there is no cursor yet. */
    private initial: StartAt,
    /** Where to start if the saved cursor is rejected by journalctl (read_from). */
    private readonly fallback: StartAt,
  ) {
    this.mapper = new JournalMapper(config);
    if ('cursor' in initial) this.cursor = initial.cursor;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves when the loop ended (oneShot: the journal was read to its end). */
  done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.halt.abort();
    this.kill();
    await this.loop;
  }

  health(): { ok: boolean; reason?: string } {
    if (this.failures >= UNHEALTHY_AFTER)
      return {
        ok: false,
        reason: `journalctl failed ${this.failures} times in a row: ${this.lastFailure}`,
      };
    return { ok: true };
  }

  private kill(): void {
    const c = this.child;
    if (!c) return;
    // Unread output is after the last emitted cursor: it is read again by the next run.
    c.stdout?.destroy();
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }

  private async run(): Promise<void> {
    const { ctx, config } = this;
    const onAbort = (): void => {
      this.stopping = true;
      this.kill();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!this.stopping && !ctx.signal.aborted) {
        const start: StartAt = this.cursor !== undefined ? { cursor: this.cursor } : this.initial;
        const args = journalctlArgs(config, start, { follow: !ctx.oneShot });
        const from = 'cursor' in start ? start.cursor : this.sinceCursor;
        const pos = from !== undefined ? parseCursor(from) : undefined;
        this.resume = pos ? { cursor: from!, pos, sawIt: false } : undefined;
        this.runs++;
        ctx.log.debug('starting journalctl', { args });
        const res = await this.runOnce(args);
        if (this.stopping || ctx.signal.aborted) break;
        const ok = res.code === 0 && !res.error;
        if (ctx.oneShot && ok) break;
        if (!ok && 'cursor' in start && /seek to cursor/i.test(res.stderr)) {
          // journalctl cannot resume from the cursor. If it names a time, go on from that time
          // (entries not after the cursor are still dropped); else from read_from. Said loudly.
          const pos = parseCursor(start.cursor);
          ctx.log.error(
            pos
              ? "journalctl rejected the saved cursor; going on from the cursor's time"
              : 'journalctl rejected the saved cursor; starting again from read_from',
            { read_from: config.read_from, error: describe(res) },
          );
          this.sinceCursor = pos ? start.cursor : undefined;
          this.cursor = undefined;
          this.initial = pos
            ? { since: { kind: 'time', ms: Number(pos.realtime / 1000n) } }
            : this.fallback;
        }
        this.failures++;
        this.lastFailure = describe(res);
        const delay = Math.min(
          config.restart_max_delay,
          config.restart_delay * 2 ** Math.min(this.failures - 1, 30),
        );
        // The logger is rate-limited per message text: a crash loop cannot flood the log.
        ctx.log[this.failures >= UNHEALTHY_AFTER ? 'error' : 'warn'](
          'journalctl exited; respawning',
          {
            reason: this.lastFailure,
            failures: this.failures,
            retry_in_ms: delay,
            cursor: this.cursor !== undefined,
          },
        );
        if (ctx.oneShot && this.failures > 5) {
          ctx.log.error('journalctl keeps failing; backfill of the journal stopped early', {
            reason: this.lastFailure,
          });
          break;
        }
        await abortableSleep(delay, AbortSignal.any([ctx.signal, this.halt.signal])).catch(
          () => undefined,
        );
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  /** One journalctl process, from spawn to exit; every complete line it printed is emitted. */
  private runOnce(args: string[]): Promise<RunResult> {
    const { ctx } = this;
    return new Promise<RunResult>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(this.config.journalctl_path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        resolve({ code: null, signal: null, error: e as Error, stderr: '' });
        return;
      }
      this.child = child;
      // A line over max_entry_bytes is never held: only its cursor is kept (split.ts).
      const splitter = new EntrySplitter(this.config.max_entry_bytes);
      const split: JournalLine[] = [];
      const texts: string[] = [];
      let pending: MapResult = { records: [], bytes: 0, cursor: undefined };
      let scheduled: NodeJS.Timeout | undefined;
      /** The pipeline's backpressure promise while we wait for room. */
      let waiting: Promise<void> | undefined;
      let stderr = '';
      let spawnError: Error | undefined;
      let settled = false;
      const stdout = child.stdout!;
      // A run that stays up (or prints entries) proves journalctl works again: /readyz recovers.
      const healthyTimer = setTimeout(() => (this.failures = 0), HEALTHY_RUN_MS);
      healthyTimer.unref();

      const flush = (): void => {
        if (scheduled) {
          clearTimeout(scheduled);
          scheduled = undefined;
        }
        const batch = pending;
        if (batch.cursor === undefined) return;
        pending = { records: [], bytes: 0, cursor: undefined };
        this.cursor = batch.cursor;
        this.reportMalformed();
        // Excluded-only batches still carry the cursor forward (an empty batch commits in order).
        const wait = ctx.emit({
          tag: ctx.tag,
          records: batch.records,
          bytes: batch.bytes,
          token: this.tracker.track(batch.cursor),
        });
        if (wait && !this.stopping) {
          stdout.pause();
          const w = wait.then(() => {
            if (waiting === w) waiting = undefined;
            if (!this.stopping && !stdout.destroyed) stdout.resume();
          });
          waiting = w;
        }
      };

      stdout.on('data', (chunk: Buffer) => {
        if (this.stopping) return;
        this.failures = 0;
        ctx.metrics.inputBytes.inc({ component: ctx.id }, chunk.length);
        splitter.push(chunk, split);
        if (split.length === 0) return;
        for (let i = 0; i < split.length; i++) {
          const sl = split[i];
          if (typeof sl === 'string') {
            texts.push(sl);
            continue;
          }
          // Keep order: map what came before, then pass the oversized entry's cursor.
          if (this.resume) this.dropNotAfter(texts);
          this.mapper.mapLines(texts, pending);
          texts.length = 0;
          this.mapper.skipOversized(sl.cursor, pending);
        }
        split.length = 0;
        if (this.resume) this.dropNotAfter(texts);
        this.mapper.mapLines(texts, pending);
        texts.length = 0;
        if (pending.records.length >= MAX_BATCH_RECORDS || pending.bytes >= MAX_BATCH_BYTES) {
          flush();
        } else {
          // journalctl writes entry by entry: linger briefly so a batch holds many of them.
          scheduled ??= setTimeout(flush, LINGER_MS);
        }
      });
      stdout.on('error', () => undefined);
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-STDERR_KEEP);
        for (const line of d.split('\n')) {
          const l = line.trim();
          if (!l) continue;
          // Printed at every journalctl (re)start while there is no journal: say it once.
          if (/no journal files were found/i.test(l)) {
            if (!this.warnedNoJournal)
              ctx.log.warn('journalctl: no journal files found (reported once)', {
                hint: 'check journal_directory / journal_files; in a container, mount the host journal (/var/log/journal, /run/log/journal)',
              });
            this.warnedNoJournal = true;
            continue;
          }
          ctx.log.warn('journalctl: stderr', { line: l.slice(0, 500) });
        }
      });
      child.once('error', (e) => {
        spawnError = e;
        // A spawn failure may not be followed by 'close' on every Node version.
        if (child.pid === undefined) finish(null, null);
      });
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (settled) return;
        settled = true;
        if (this.child === child) this.child = undefined;
        // A partial last line (journalctl killed mid-write) is dropped: its entry is after the
        // last emitted cursor and is read again by the next run.
        splitter.reset();
        clearTimeout(healthyTimer);
        flush();
        const res: RunResult = { code, signal, error: spawnError, stderr };
        if (waiting) void waiting.then(() => resolve(res));
        else resolve(res);
      };
      child.once('close', finish);
    });
  }

  /**
   * After a resume: drop the lines whose entry is not after the saved cursor (`--cursor` prints
   * the cursor's own entry; a `--since` fallback prints the rest of its second). At the first
   * entry after it, a gap is certain when the cursor's entry was not printed, both share a
   * seqnum id, seqnums were skipped, and no filter hides entries: counted (journal_gone).
   */
  private dropNotAfter(texts: string[]): void {
    const r = this.resume!;
    let keepFrom = texts.length;
    for (let i = 0; i < texts.length; i++) {
      const c = lineCursor(texts[i]);
      if (c === undefined) continue;
      if (c === r.cursor) {
        r.sawIt = true;
        continue;
      }
      const p = parseCursor(c);
      if (!p || isAfter(p, r.pos)) {
        keepFrom = i;
        if (p && !r.sawIt) this.noteGap(r.pos, p);
        this.resume = undefined;
        break;
      }
    }
    if (keepFrom > 0) texts.splice(0, keepFrom);
  }

  private noteGap(saved: CursorPos, first: CursorPos): void {
    const c = this.config;
    const filtered =
      c.units.length > 0 ||
      Object.keys(c.matches).length > 0 ||
      c.priority !== undefined ||
      c.current_boot_only ||
      c.extra_args.length > 0;
    if (saved.seqnumId !== first.seqnumId || filtered) {
      this.ctx.log.warn(
        'the saved journal entry is gone (vacuumed or rotated away); reading went on from the next one. Whether entries were lost cannot be told',
        {},
      );
      return;
    }
    const lost = first.seqnum - saved.seqnum - 1n;
    if (lost <= 0n) return;
    const n = Number(lost);
    this.gone += n;
    this.ctx.metrics.droppedRecords.inc({ component: this.ctx.id, reason: 'journal_gone' }, n);
    this.ctx.log.error(
      'journal entries were deleted before they were read (vacuumed while stopped)',
      {
        lost: n,
      },
    );
  }

  private reportedMalformed = 0;
  private reportedOversized = 0;
  private reportedTruncated = 0;
  private reportMalformed(): void {
    const { oversized, truncated } = this.mapper.stats;
    if (oversized !== this.reportedOversized) {
      this.ctx.metrics.droppedRecords.inc(
        { component: this.ctx.id, reason: 'oversized' },
        oversized - this.reportedOversized,
      );
      this.reportedOversized = oversized;
      this.ctx.log.warn('journal entry longer than max_entry_bytes; skipped', {
        max_entry_bytes: this.config.max_entry_bytes,
        total: oversized,
      });
    }
    if (truncated !== this.reportedTruncated) {
      this.reportedTruncated = truncated;
      this.ctx.log.warn('journal fields longer than max_field_bytes cut (see journal_truncated)', {
        max_field_bytes: this.config.max_field_bytes,
        total: truncated,
      });
    }
    const n = this.mapper.stats.malformed;
    if (n === this.reportedMalformed) return;
    this.ctx.metrics.droppedRecords.inc(
      { component: this.ctx.id, reason: 'malformed' },
      n - this.reportedMalformed,
    );
    this.reportedMalformed = n;
    this.ctx.log.warn('journalctl printed a line that is not a journal entry; skipped', {
      example: this.mapper.lastMalformed,
      total: n,
    });
  }

  /** Entries dropped by exclude_units so far. */
  get excluded(): number {
    return this.mapper.stats.excluded;
  }
}

function describe(res: RunResult): string {
  if (res.error) return res.error.message;
  const last = res.stderr.trim().split('\n').pop()?.trim();
  const how = res.signal ? `killed by ${res.signal}` : `exit code ${res.code}`;
  return last ? `${how}: ${last.slice(0, 300)}` : how;
}
