// The end of a burst: a chunk is cut when it reaches max_bytes or its oldest record has waited
// max_wait. When records arrive faster than max_bytes per max_wait (the output cut a chunk for
// size within the last max_wait) and then stop — a backlog read to its end, a burst over — the
// last chunk would otherwise wait out the whole max_wait with nothing more coming. It is cut once
// no record has come for `quiet`: four times the longest gap between writes seen over this chunk
// and the one before (so a stream that arrives in regular ticks is never cut between two ticks),
// at least MIN_QUIET_MS, and never when that reaches max_wait. A slow stream (less than max_bytes
// per max_wait: its chunks are cut by max_wait) is never cut early, so it sends no more requests
// than before; nor is a chunk cut early while the output is behind (chunks waiting for a worker,
// queue appends pending or frames unread): there it would wait anyway, and an input paused by
// backpressure must not turn its pauses into small chunks.

/** The shortest pause taken for the end of a burst (ms). */
export const MIN_QUIET_MS = 50;

export class BurstEnd {
  private lastWrite = -Infinity;
  private lastSizeCut = -Infinity;
  /** Longest gap between writes since the last size cut, and over the chunk before it (ms). */
  private gapCur = 0;
  private gapPrev = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxWaitMs: number,
    /** Cut the open chunk (if it holds records). */
    private readonly cut: () => void,
    /** The output is behind: an early cut gains nothing. */
    private readonly behind: () => boolean,
  ) {}

  /** A chunk was cut because it reached max_bytes. */
  sizeCut(now: number): void {
    this.lastSizeCut = now;
    this.gapPrev = this.gapCur;
    this.gapCur = 0;
  }

  /** A batch was written; `open`: records wait in the open chunk. */
  wrote(now: number, open: boolean): void {
    const gap = now - this.lastWrite;
    if (gap < this.maxWaitMs && gap > this.gapCur) this.gapCur = gap;
    this.lastWrite = now;
    if (!open || this.timer !== undefined || now - this.lastSizeCut >= this.maxWaitMs) return;
    const q = this.quiet();
    if (q < this.maxWaitMs) this.arm(q);
  }

  /** The open chunk was cut (for any reason): nothing to watch until the next write. */
  cancel(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private quiet(): number {
    return Math.max(MIN_QUIET_MS, 4 * Math.max(this.gapPrev, this.gapCur));
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.check(), ms);
  }

  private check(): void {
    this.timer = undefined;
    const q = this.quiet();
    if (q >= this.maxWaitMs) return; // the max_wait timer cuts it
    const left = this.lastWrite + q - performance.now();
    if (left > 1) return this.arm(left);
    if (this.behind()) return this.arm(q);
    this.cut();
  }
}
