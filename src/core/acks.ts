// Acknowledgement tracking: a source position (file offset, journald cursor) is committed only
// when every output that received records up to it has acknowledged them. Acks arrive out of
// order; the committed position is the end of the longest fully acknowledged prefix.
//
//   input ── track(pos) ──▶ token(pending=1) ── retain() per output ──▶ release() per ack
//                                  │ pending → 0
//                                  ▼
//   SourceTracker: advance over the done prefix ──▶ CheckpointStore.set(key, pos)

import type { CheckpointStore } from './checkpoint-store.js';

export class AckToken {
  /** Held references: one for the emitting input until it is dispatched, one per output part. */
  private pending = 1;
  done = false;

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

  /** @internal */
  onDone(): void {
    let advanced = false;
    while (this.head < this.queue.length && this.queue[this.head].done) {
      this.committedPos = this.queue[this.head].position;
      this.head++;
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
