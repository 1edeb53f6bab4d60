// The multiline engine: per stream, decide for each line whether it continues the open record
// (JOIN), begins a new one that may continue (HOLD), or is a record of its own (PASS, never
// held). Used by the file input (MultilineJoiner, offsets) and the `multiline` filter (records
// and their checkpoints, keyed by stream). Linear: each line is scanned by at most the parsers
// still accepting the open record, or by every parser's start test when none is open.

import { compileMultiline, type CompiledMultiline } from './compile.js';
import type { MultilineOptions } from './options.js';
import type { LineParser } from './parsers.js';

export const JOIN = 0;
export const HOLD = 1;
export const PASS = 2;

/** The open record of one stream. */
export class Group {
  /** A record is open (its lines may be empty right after a cut at max_lines/max_bytes). */
  open = false;
  lines: string[] = [];
  bytes = 0;
  /** When the last line joined (ms), for flush_timeout. */
  lastAt = 0;
  /** This record continues one emitted at max_lines/max_bytes: it is flagged truncated too. */
  cut = false;
  readonly states: Int32Array;

  constructor(n: number) {
    this.states = new Int32Array(n);
  }

  text(): string {
    return this.lines.length === 1 ? this.lines[0] : this.lines.join('\n');
  }

  /** Forget the lines (after emitting them); `keepOpen` after a cut. */
  clear(keepOpen: boolean): void {
    this.lines = [];
    this.bytes = 0;
    this.open = keepOpen;
    this.cut = keepOpen;
  }
}

export class MultilineRules {
  readonly parsers: LineParser[];
  private readonly next: Int32Array;

  constructor(readonly c: CompiledMultiline) {
    this.parsers = c.parsers;
    this.next = new Int32Array(c.parsers.length);
  }

  newGroup(): Group {
    return new Group(this.parsers.length);
  }

  /**
   * JOIN, HOLD or PASS. On HOLD the caller emits the open record (if any) and calls `begin`;
   * on PASS it emits the open record, then the line alone.
   */
  classify(g: Group, line: string): number {
    const ps = this.parsers;
    if (g.open) {
      const st = g.states;
      let any = false;
      for (let i = 0; i < ps.length; i++) {
        const s = st[i];
        if (s < 0) continue;
        const n = ps[i].cont(s, line);
        st[i] = n;
        if (n >= 0) any = true;
      }
      if (any) return JOIN;
    }
    const next = this.next;
    let any = false;
    for (let i = 0; i < ps.length; i++) {
      const s = ps[i].start(line);
      next[i] = s;
      if (s >= 0) any = true;
    }
    return any ? HOLD : PASS;
  }

  /** Open a new record in `g` with the parser states of the last HOLD. */
  begin(g: Group): void {
    g.states.set(this.next);
    g.lines = [];
    g.bytes = 0;
    g.open = true;
    g.cut = false;
  }

  /** Add a line to the open record; true when it must be emitted now (max_lines / max_bytes). */
  add(g: Group, line: string, now: number): boolean {
    g.lines.push(line);
    g.bytes += line.length + 1;
    g.lastAt = now;
    return g.lines.length >= this.c.maxLines || g.bytes >= this.c.maxBytes;
  }
}

/** A sink of lines with file offsets (the file input's splitter output). */
export interface OffsetLineSink {
  line(text: string, start: number, end: number, truncated: boolean): void;
}

/**
 * The file input's joiner: lines with file offsets in, records with the offsets of their first
 * and last line out. `pendingStart` is the first offset of the held record, so a checkpoint
 * never passes a line that has not been emitted yet.
 */
export class MultilineJoiner implements OffsetLineSink {
  private readonly rules: MultilineRules;
  private readonly g: Group;
  private groupStart = -1;
  private groupEnd = -1;
  private truncated = false;
  private readonly timeout: number;

  constructor(
    opts: MultilineOptions | CompiledMultiline,
    private readonly out: OffsetLineSink,
  ) {
    const c = 'flushTimeout' in opts ? opts : compileMultiline(opts, 'multiline');
    this.rules = new MultilineRules(c);
    this.g = this.rules.newGroup();
    this.timeout = c.flushTimeout;
  }

  /** When the last line joined (ms). */
  get lastAt(): number {
    return this.g.lastAt;
  }

  /** Start offset of the held record, or -1. */
  get pendingStart(): number {
    return this.g.lines.length > 0 ? this.groupStart : -1;
  }

  line(text: string, start: number, end: number, truncated: boolean): void {
    const g = this.g;
    const k = this.rules.classify(g, text);
    if (k !== JOIN) {
      this.flush();
      if (k === PASS) {
        g.open = false;
        this.out.line(text, start, end, truncated);
        return;
      }
      this.rules.begin(g);
    }
    if (g.lines.length === 0) this.groupStart = start;
    this.truncated ||= truncated;
    this.groupEnd = end;
    if (this.rules.add(g, text, Date.now())) this.emit(true);
  }

  private emit(cut: boolean): void {
    const g = this.g;
    if (g.lines.length === 0) return;
    const text = g.text();
    const truncated = this.truncated || g.cut || cut;
    this.truncated = false;
    g.clear(cut);
    this.out.line(text, this.groupStart, this.groupEnd, truncated);
  }

  /** Emit the held record, if any. */
  flush(): void {
    this.emit(false);
    this.g.open = false;
  }

  /** Emit the held record when nothing joined it for flush_timeout. */
  flushIfIdle(now: number): boolean {
    if (this.g.lines.length === 0 || now - this.g.lastAt < this.timeout) return false;
    this.flush();
    return true;
  }

  reset(): void {
    this.g.clear(false);
    this.truncated = false;
  }
}
