// The loss ledger behind `/status` and `shiplog status`: per input and tag, how many records
// were read, removed by filters, dropped, delivered, dead-lettered and are still in flight; per
// output, its last error. Counters only, updated once per batch (never per record), so its size
// is O(inputs × tags), capped per input.

import type { Logger } from './logger.js';

/** Tags per input with a row of their own; later tags share the row `(other tags)`. */
export const MAX_TAGS_PER_INPUT = 200;
export const OTHER_TAGS = '(other tags)';

export class LedgerRow {
  read = 0;
  /** Removed by filters (grep, throttle, a parse failure set to drop), or outside a backfill window. */
  filtered = 0;
  /** No output took them: no route, or every matching output full (drop_newest). */
  dropped = 0;
  /** Acknowledged by every output they went to (delivered or dead-lettered). */
  done = 0;
  /** Dead-lettered by an output or a filter (one per output in a fan-out). */
  dead = 0;
  /** Handed to outputs, not acknowledged yet. */
  inFlight = 0;
  lastRead = 0;
  constructor(
    readonly input: string,
    readonly tag: string,
  ) {}
}

export interface OutputNote {
  lastError?: string;
  lastErrorAt?: number;
  /** Backoff announced with the last retry, ms. */
  retryDelayMs?: number;
  attempt?: number;
}

export interface LedgerSnapshotRow {
  input: string;
  type: string;
  tag: string;
  read: number;
  filtered: number;
  dropped: number;
  delivered: number;
  dead: number;
  in_flight: number;
  last_read: string | null;
}

export class Ledger {
  private readonly inputs = new Map<string, Map<string, LedgerRow>>();
  private readonly types = new Map<string, string>();
  /** The first row seen for a tag: where a dead letter (known by tag only) is counted. */
  private readonly byTag = new Map<string, LedgerRow>();
  readonly outputs = new Map<string, OutputNote>();

  inputType(id: string, type: string): void {
    this.types.set(id, type);
  }

  /** The row of an input and tag (created on first use). */
  row(input: string, tag: string): LedgerRow {
    let tags = this.inputs.get(input);
    if (tags === undefined) this.inputs.set(input, (tags = new Map()));
    let row = tags.get(tag);
    if (row === undefined) {
      if (tags.size >= MAX_TAGS_PER_INPUT) {
        row = tags.get(OTHER_TAGS);
        if (row === undefined) tags.set(OTHER_TAGS, (row = new LedgerRow(input, OTHER_TAGS)));
      } else {
        tags.set(tag, (row = new LedgerRow(input, tag)));
        if (!this.byTag.has(tag) && this.byTag.size < 10_000) this.byTag.set(tag, row);
      }
    }
    return row;
  }

  /**
   * Records dead-lettered. A filter's dead letters were counted as filtered: they move to dead.
   * Dead letters carry a tag, not an input: they count on the first row with that tag.
   */
  deadLettered(tag: string | undefined, n: number, by: 'filter' | 'output'): void {
    const row = tag === undefined ? undefined : this.byTag.get(tag);
    if (!row) return;
    row.dead += n;
    if (by === 'filter') row.filtered = Math.max(0, row.filtered - n);
  }

  /** An output logged a warning or error: keep it as its last error. */
  outputEvent(id: string, msg: string, fields: Record<string, unknown> | undefined): void {
    let note = this.outputs.get(id);
    if (note === undefined) this.outputs.set(id, (note = {}));
    const reason = fields?.reason ?? fields?.error;
    note.lastError = typeof reason === 'string' && reason !== '' ? `${msg}: ${reason}` : msg;
    if (note.lastError.length > 200) note.lastError = note.lastError.slice(0, 199) + '…';
    note.lastErrorAt = Date.now();
    note.retryDelayMs = typeof fields?.delay_ms === 'number' ? fields.delay_ms : undefined;
    note.attempt = typeof fields?.attempt === 'number' ? fields.attempt : undefined;
  }

  snapshot(): LedgerSnapshotRow[] {
    const out: LedgerSnapshotRow[] = [];
    for (const [input, tags] of this.inputs)
      for (const r of tags.values()) {
        // Output dead letters are among `done`; a filter's are not (they never reached an output).
        out.push({
          input,
          type: this.types.get(input) ?? '',
          tag: r.tag,
          read: r.read,
          filtered: r.filtered,
          dropped: r.dropped,
          delivered: Math.max(0, r.read - r.filtered - r.dropped - r.dead - r.inFlight),
          dead: r.dead,
          in_flight: r.inFlight,
          last_read: r.lastRead ? new Date(r.lastRead).toISOString() : null,
        });
      }
    return out;
  }
}

/** A logger that also reports an output's warnings and errors to the ledger. */
export function ledgerLogger(log: Logger, id: string, ledger: Ledger): Logger {
  return {
    debug: (m, f) => log.debug(m, f),
    info: (m, f) => log.info(m, f),
    warn: (m, f) => {
      ledger.outputEvent(id, m, f);
      log.warn(m, f);
    },
    error: (m, f) => {
      ledger.outputEvent(id, m, f);
      log.error(m, f);
    },
    child: (b) => ledgerLogger(log.child(b), id, ledger),
  };
}
