// Acknowledgement tracking: a source position (file offset, journald cursor) is committed only
// when every output that received records up to it has acknowledged them. Acks arrive out of
// order; the committed position is the end of the longest fully acknowledged prefix.
//
//   input ── track(pos) ──▶ token(pending=1) ── retain() per output ──▶ release() per ack
//                                  │ pending → 0
//                                  ▼
//   SourceTracker: advance over the done prefix ──▶ CheckpointStore.set(key, pos)
//
// A holding filter (multiline) marks the positions that fall inside a record it joined across
// batches (`spansTo`): the tracker advances over them but never commits one, since a restart there
// would read the record's last lines again, each as a record of its own.

import type { CheckpointStore } from './checkpoint-store.js';

export class AckToken {
  /** Held references: one for the emitting input until it is dispatched, one per output part. */
  private pending = 1;
  done = false;
  /** This position lies inside a joined record: never a commit point (see `spansTo`). */
  inside = false;

  constructor(
    private readonly tracker: SourceTracker,
    readonly position: unknown,
  ) {}

  retain(n = 1): void {
    if (this.done) throw new Error('AckToken.retain after completion');
    this.pending += n;
  }

  release(): void {
    if (this.done) return;
    if (--this.pending === 0) {
      this.done = true;
      this.tracker.onDone();
    }
  }

  /**
   * A record continues from this token's batch into `next`'s (a later batch): this position and
   * those tracked after it up to `next` (excluded) lie inside that record and are never committed.
   * The committed position goes from before the record to `next`'s or a later one. No effect when
   * `next` belongs to another source.
   */
  spansTo(next: AckToken): void {
    if (next.tracker === this.tracker && next !== this) this.tracker.markInside(this, next);
  }
}

export class SourceTracker {
  private queue: AckToken[] = [];
  private head = 0;
  private committedPos: unknown;
  private listeners: Array<(pos: unknown) => void> = [];

  constructor(
    readonly key: string,
    private readonly store: CheckpointStore | undefined,
    initial?: unknown,
  ) {
    this.committedPos = initial;
  }

  /** Register a batch that ends at `position`. The caller holds one reference and must release it. */
  track(position: unknown): AckToken {
    const t = new AckToken(this, position);
    this.queue.push(t);
    return t;
  }

  get committed(): unknown {
    return this.committedPos;
  }

  /** Batches emitted but not yet fully acknowledged. */
  get inFlight(): number {
    return this.queue.length - this.head;
  }

  /** Called with each newly committed position. */
  onCommit(fn: (pos: unknown) => void): void {
    this.listeners.push(fn);
  }

  /** @internal AckToken.spansTo: `from` and the tokens after it, up to `to`, are inside a record. */
  markInside(from: AckToken, to: AckToken): void {
    const q = this.queue;
    let i = q.indexOf(from, this.head);
    if (i < 0) return;
    for (; i < q.length && q[i] !== to; i++) q[i].inside = true;
  }

  /** @internal */
  onDone(): void {
    let advanced = false;
    while (this.head < this.queue.length && this.queue[this.head].done) {
      const t = this.queue[this.head];
      this.head++;
      if (t.inside) continue;
      this.committedPos = t.position;
      advanced = true;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (advanced) {
      this.store?.set(this.key, this.committedPos);
      for (const fn of this.listeners) fn(this.committedPos);
    }
  }
}
