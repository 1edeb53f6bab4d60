// `/status` (built here from the running daemon) and `shiplog status` (reads it and prints one
// screen): per input and tag the loss ledger, per output what was sent, retried, dead-lettered
// and dropped, what is queued and how old, its state and last error; NOT READY with the reasons.

import type { Daemon } from './daemon.js';
import type { LedgerSnapshotRow } from '../telemetry/ledger.js';

export interface StatusOutput {
  id: string;
  type: string;
  sent: number;
  retried: number;
  dead: number;
  dropped: number;
  buffer_bytes: number;
  queued_records: number | null;
  queued_bytes: number | null;
  oldest_age_s: number | null;
  state: string;
  last_error: string | null;
  last_error_at: string | null;
}

/** The input's loss-ledger row, and how far its source is ahead of what was read. */
export interface StatusInput extends LedgerSnapshotRow {
  lag_bytes: number | null;
}

export interface StatusBody {
  pid: number;
  config: string;
  uptime_s: number;
  /** /readyz: shiplog itself (started, checkpoints and queues written, no output stuck). */
  ready: boolean;
  /** /health/outputs: every output's backend answers. */
  outputs_healthy: boolean;
  /** Why not ready, then which outputs fail (`<id>: <reason>`). */
  problems: string[];
  inputs: StatusInput[];
  outputs: StatusOutput[];
}

async function gaugeByComponent(
  metric: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> },
  key = 'component',
): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const v of (await metric.get()).values) {
    const id = v.labels[key];
    if (typeof id === 'string') m.set(id, (m.get(id) ?? 0) + v.value);
  }
  return m;
}

/** The /status body of a running daemon. */
export async function buildStatus(d: Daemon): Promise<StatusBody> {
  const now = Date.now();
  const readiness = d.problems();
  const failing = (d.pipeline?.outputHealth() ?? [])
    .filter((o) => !o.ok)
    .map((o) => `${o.id}: ${o.reason ?? 'unhealthy'}`);
  const problems = [...readiness, ...failing.filter((p) => !readiness.includes(p))];
  const lag = await gaugeByComponent(d.metrics.fileLagBytes);
  const results = new Map<string, Record<string, number>>();
  for (const v of (await d.metrics.outputRecords.get()).values) {
    const id = String(v.labels.component);
    const r = results.get(id) ?? {};
    r[String(v.labels.result)] = (r[String(v.labels.result)] ?? 0) + v.value;
    results.set(id, r);
  }
  const inputs: StatusInput[] = d.ledger.snapshot().map((r) => ({
    ...r,
    lag_bytes: lag.get(r.input) ?? null,
  }));
  const outputs: StatusOutput[] = [];
  for (const o of (await d.pipeline?.outputState()) ?? []) {
    const r = results.get(o.id) ?? {};
    const note = d.ledger.outputs.get(o.id);
    const mine = problems.filter((p) => p.startsWith(`${o.id}: `));
    let state: string;
    if (mine.length > 0) state = 'failing';
    else if (
      note?.lastErrorAt !== undefined &&
      note.retryDelayMs !== undefined &&
      now - note.lastErrorAt < note.retryDelayMs + 5000
    )
      state = `retrying ${Math.max(0, Math.round((note.lastErrorAt + note.retryDelayMs - now) / 1000))}s`;
    else if (o.bufferBytes > 0 || (o.queue?.records ?? 0) > 0) state = 'sending';
    else state = 'idle';
    outputs.push({
      id: o.id,
      type: o.type,
      sent: r.sent ?? 0,
      retried: r.retried ?? 0,
      dead: r.dead_lettered ?? 0,
      dropped: r.dropped ?? 0,
      buffer_bytes: o.bufferBytes,
      queued_records: o.queue ? o.queue.records : null,
      queued_bytes: o.queue ? o.queue.bytes : null,
      oldest_age_s:
        o.queue?.oldestTime !== undefined
          ? Math.max(0, Math.round((now - o.queue.oldestTime) / 100) / 10)
          : null,
      state,
      last_error: note?.lastError ?? null,
      last_error_at: note?.lastErrorAt ? new Date(note.lastErrorAt).toISOString() : null,
    });
  }
  return {
    pid: process.pid,
    config: d.configFile,
    uptime_s: Math.round((now - d.startedAt) / 1000),
    ready: readiness.length === 0,
    outputs_healthy: failing.length === 0,
    problems,
    inputs,
    outputs,
  };
}

// ---- the command ------------------------------------------------------------------------------

function size(n: number | null): string {
  if (n === null) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

function duration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** Columns: text left-aligned, numbers right-aligned. */
function table(head: string[], rows: Array<Array<string | number>>, right: Set<number>): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return (
    cells
      .map((r) =>
        r
          .map((c, i) =>
            i === r.length - 1 && !right.has(i)
              ? c
              : right.has(i)
                ? c.padStart(w[i])
                : c.padEnd(w[i]),
          )
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** One screen of text from a /status body. */
export function renderStatus(url: string, s: StatusBody): string {
  let out = `shiplog ${url} · pid ${s.pid} · up ${duration(s.uptime_s)} · ${s.ready ? 'READY' : 'NOT READY'}${s.outputs_healthy === false ? ' · OUTPUT FAILING' : ''}\n`;
  for (const p of s.problems) out += `  ! ${p}\n`;
  out += table(
    [
      'INPUT',
      'TYPE',
      'TAG',
      'READ',
      'FILTERED',
      'DROPPED',
      'DELIVERED',
      'DEAD',
      'IN FLIGHT',
      'LAG',
    ],
    s.inputs.map((r) => [
      r.input,
      r.type,
      r.tag,
      r.read,
      r.filtered,
      r.dropped,
      r.delivered,
      r.dead,
      r.in_flight,
      r.lag_bytes === null ? '-' : size(r.lag_bytes),
    ]),
    new Set([3, 4, 5, 6, 7, 8, 9]),
  );
  out += table(
    [
      'OUTPUT',
      'TYPE',
      'SENT',
      'RETRIED',
      'DEAD',
      'DROPPED',
      'BUFFER',
      'QUEUED',
      'BYTES',
      'OLDEST',
      'STATE',
      'LAST ERROR',
    ],
    s.outputs.map((o) => [
      o.id,
      o.type,
      o.sent,
      o.retried,
      o.dead,
      o.dropped,
      size(o.buffer_bytes),
      o.queued_records ?? '-',
      size(o.queued_bytes),
      o.oldest_age_s === null ? '-' : `${o.oldest_age_s}s`,
      o.state,
      o.last_error ?? '',
    ]),
    new Set([2, 3, 4, 5, 6, 7, 8, 9]),
  );
  if (s.outputs.some((o) => (o.queued_records ?? 0) > 0))
    out += '(records in a disk queue count as DELIVERED above: the queue holds them, QUEUED)\n';
  return out;
}

export interface StatusOptions {
  url: string;
  json: boolean;
  /** Refresh every this many seconds until interrupted. */
  watch?: number;
}

/** Exit 0 ready, 3 not ready, 1 when the daemon cannot be reached. */
export async function runStatus(o: StatusOptions, out: NodeJS.WritableStream): Promise<number> {
  const base = o.url.replace(/\/+$/, '');
  for (;;) {
    let body: StatusBody;
    try {
      const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5000) });
      if (res.status === 404)
        throw new Error(`${base}/status: not found (is this a shiplog with /status?)`);
      if (!res.ok) throw new Error(`${base}/status answered ${res.status}`);
      body = (await res.json()) as StatusBody;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const why = err.cause?.code ?? err.message;
      process.stderr.write(
        `shiplog status: cannot reach the daemon at ${base} (${why}); is it running with service.http.listen?\n`,
      );
      if (!o.watch) return 1;
      await new Promise((r) => setTimeout(r, o.watch! * 1000));
      continue;
    }
    if (o.json) out.write(JSON.stringify(body) + '\n');
    else {
      if (o.watch) out.write('\x1b[H\x1b[2J');
      out.write(renderStatus(base, body));
    }
    if (!o.watch) return body.ready && body.outputs_healthy !== false ? 0 : 3;
    await new Promise((r) => setTimeout(r, o.watch! * 1000));
  }
}
