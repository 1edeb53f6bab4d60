// Multiline records (stack traces) of one container stream, after its partial lines are joined:
// the shared engine's MultilineJoiner (src/components/_shared/multiline/, the one the file input
// and the `multiline` filter run) fed with each joined line and the file offset of its first
// chunk. A record keeps the time and sourceId of its first line; `pendingStart` is the offset
// of the held record's first line, where the file's checkpoint must stay.

import {
  MultilineJoiner,
  type CompiledMultiline,
  type OffsetLineSink,
} from '../../_shared/multiline/index.js';
import { startOf } from './merge.js';

export type Stream = 'stdout' | 'stderr';

/** Where a stream's records go (the same signature as a partial-line join's output). */
export type LineOut = (
  stream: Stream,
  message: string,
  timeMs: number,
  timeNs: number,
  sourceId: string | undefined,
  truncated: boolean,
) => void;

interface LineMeta {
  timeMs: number;
  timeNs: number;
  sourceId: string | undefined;
}

const NONE: LineMeta = { timeMs: 0, timeNs: 0, sourceId: undefined };

export class StreamLines implements OffsetLineSink {
  private readonly joiner: MultilineJoiner;
  /** The line being added (its offset and metadata), while `add` runs. */
  private curStart = -1;
  private cur: LineMeta = NONE;
  /** Metadata of the held record's first line. */
  private first: LineMeta = NONE;

  constructor(
    c: CompiledMultiline,
    private readonly stream: Stream,
    private readonly out: LineOut,
  ) {
    this.joiner = new MultilineJoiner(c, this);
  }

  /** One whole (joined) line of this stream. */
  add(
    message: string,
    timeMs: number,
    timeNs: number,
    sourceId: string | undefined,
    truncated: boolean,
  ): void {
    const start = startOf(sourceId);
    this.curStart = start;
    this.cur = { timeMs, timeNs, sourceId };
    this.joiner.line(message, start, start, truncated);
    if (this.joiner.pendingStart === start) this.first = this.cur;
    this.curStart = -1;
  }

  /** @internal The joiner's output: a record starting at `start`. */
  line(text: string, start: number, _end: number, truncated: boolean): void {
    const m = start === this.curStart ? this.cur : this.first;
    this.out(this.stream, text, m.timeMs, m.timeNs, m.sourceId, truncated);
  }

  /** Offset of the held record's first line, or -1. */
  get pendingStart(): number {
    return this.joiner.pendingStart;
  }

  /** Emit the held record when nothing joined it for flush_timeout. */
  flushIfIdle(now: number): boolean {
    return this.joiner.flushIfIdle(now);
  }

  /** Emit the held record (end of the file). */
  flush(): void {
    this.joiner.flush();
  }

  /** Forget the held record without emitting it (the file's records are excluded). */
  reset(): void {
    this.joiner.reset();
    this.first = NONE;
  }
}
