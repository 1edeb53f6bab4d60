// Partial-line joining for container logs. Runtimes split long lines: CRI writes `P` chunks then
// one `F`; dockerd writes 16 KiB chunks without a trailing newline, the last one with it. Chunks
// are joined per file AND per stream (stdout and stderr interleave in one file and must never
// mix). A join is capped at `maxBytes` (then emitted in pieces flagged truncated, nothing
// dropped) and emitted as it is after `timeout` without a final chunk, or at the end of a file.
// Pure: the caller feeds parsed chunks with their source positions and receives joined lines
// through a sink; `heldStart()` tells it where the checkpoint must stay (at or before the first
// byte of the oldest chunk still held), `heldStartOf(stream)` the same for one stream.

import type { ParsedLine } from './parse.js';

export interface JoinSink {
  joined(
    stream: 'stdout' | 'stderr',
    message: string,
    timeMs: number,
    timeNs: number,
    sourceId: string | undefined,
    truncated: boolean,
  ): void;
}

class StreamJoin {
  parts: string[] = [];
  bytes = 0;
  /** File offset of the first held chunk. */
  start = -1;
  sourceId: string | undefined;
  timeMs = 0;
  timeNs = 0;
  /** When the last chunk joined (ms). */
  lastAt = 0;
  /** A piece of this line was already emitted (max bytes): the rest is flagged truncated too. */
  cut = false;

  constructor(readonly stream: 'stdout' | 'stderr') {}

  get held(): boolean {
    return this.parts.length > 0;
  }

  begin(p: ParsedLine, start: number, sourceId: string | undefined): void {
    this.start = start;
    this.sourceId = sourceId;
    this.timeMs = p.timeMs;
    this.timeNs = p.timeNs;
  }

  emit(sink: JoinSink, truncated: boolean): void {
    const text = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
    sink.joined(this.stream, text, this.timeMs, this.timeNs, this.sourceId, truncated || this.cut);
    this.parts = [];
    this.bytes = 0;
    this.start = -1;
    this.sourceId = undefined;
  }
}

export class FileMerger {
  private readonly out: StreamJoin = new StreamJoin('stdout');
  private readonly err: StreamJoin = new StreamJoin('stderr');
  /** Lines emitted in pieces because they exceeded maxBytes. */
  cutLines = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sink: JoinSink,
  ) {}

  /**
   * One parsed line (a chunk or a whole line) that starts at file offset `start` (lazily: only
   * computed when a join begins, via `startOf(sourceId)`).
   */
  add(p: ParsedLine, sourceId: string | undefined, now: number): void {
    const j = p.stream === 'stdout' ? this.out : this.err;
    if (!j.held) {
      if (!p.partial) {
        this.sink.joined(p.stream, p.message, p.timeMs, p.timeNs, sourceId, false);
        return;
      }
      j.cut = false;
      j.begin(p, startOf(sourceId), sourceId);
    } else if (j.bytes + p.message.length > this.maxBytes) {
      // Emit what is held as one piece; this chunk starts the next piece of the same line.
      if (!j.cut) this.cutLines++;
      j.emit(this.sink, true);
      j.cut = true;
      j.begin(p, startOf(sourceId), sourceId);
    }
    j.parts.push(p.message);
    j.bytes += p.message.length;
    j.lastAt = now;
    if (!p.partial) {
      j.emit(this.sink, false);
      j.cut = false;
    }
  }

  /** Offset of the oldest held chunk, or -1. */
  heldStart(): number {
    const a = this.out.held ? this.out.start : -1;
    const b = this.err.held ? this.err.start : -1;
    if (a < 0) return b;
    if (b < 0) return a;
    return Math.min(a, b);
  }

  /** Offset of the held chunk of one stream, or -1. */
  heldStartOf(stream: 'stdout' | 'stderr'): number {
    const j = stream === 'stdout' ? this.out : this.err;
    return j.held ? j.start : -1;
  }

  get held(): boolean {
    return this.out.held || this.err.held;
  }

  /** When the most recent chunk of a held join arrived (ms), or -1. */
  oldestActivity(): number {
    let t = -1;
    for (const j of [this.out, this.err]) if (j.held && (t < 0 || j.lastAt < t)) t = j.lastAt;
    return t;
  }

  /** Emit joins that no chunk extended for `timeout` ms. True when something was emitted. */
  flushIdle(now: number, timeout: number): boolean {
    let any = false;
    for (const j of [this.out, this.err]) {
      if (j.held && now - j.lastAt >= timeout) {
        j.emit(this.sink, false);
        j.cut = false;
        any = true;
      }
    }
    return any;
  }

  /** End of the file: emit everything held. */
  flushAll(): boolean {
    return this.flushIdle(Infinity, 0);
  }

  /** Forget held chunks without emitting them (the file's records are excluded). */
  clear(): void {
    for (const j of [this.out, this.err]) {
      j.parts = [];
      j.bytes = 0;
      j.start = -1;
      j.sourceId = undefined;
      j.cut = false;
    }
  }
}

/** Byte offset of a record from its `sourceId` (`<dev>:<ino>:<fingerprint>:<offset>`). */
export function startOf(sourceId: string | undefined): number {
  if (sourceId === undefined) return 0;
  const i = sourceId.lastIndexOf(':');
  const n = Number(sourceId.slice(i + 1));
  return Number.isFinite(n) ? n : 0;
}
