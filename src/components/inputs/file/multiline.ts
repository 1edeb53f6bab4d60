// Multiline joining: consecutive lines become one record (stack traces). Pure: the tailer feeds
// lines and asks for the held group's start offset, so a checkpoint never passes a line that has
// not been emitted yet.

import type { LineSink } from './split.js';

export interface MultilineOptions {
  start_pattern?: string;
  continue_pattern?: string;
  max_lines: number;
  max_bytes: number;
  timeout: number;
}

export class MultilineJoiner implements LineSink {
  private readonly start: RegExp | undefined;
  private readonly cont: RegExp | undefined;
  private parts: string[] = [];
  private bytes = 0;
  private truncated = false;
  private groupStart = -1;
  private groupEnd = -1;
  /** When the last line joined (ms), for the timeout. */
  lastAt = 0;

  constructor(
    private readonly opts: MultilineOptions,
    private readonly out: LineSink,
  ) {
    this.start = opts.start_pattern !== undefined ? new RegExp(opts.start_pattern) : undefined;
    this.cont = opts.continue_pattern !== undefined ? new RegExp(opts.continue_pattern) : undefined;
  }

  /** Start offset of the held group, or -1. */
  get pendingStart(): number {
    return this.parts.length > 0 ? this.groupStart : -1;
  }

  line(text: string, start: number, end: number, truncated: boolean): void {
    if (this.parts.length > 0) {
      const joins = this.start ? !this.start.test(text) : this.cont!.test(text);
      if (!joins) this.flush();
    }
    if (this.parts.length === 0) this.groupStart = start;
    this.parts.push(text);
    this.bytes += text.length + 1;
    this.truncated ||= truncated;
    this.groupEnd = end;
    this.lastAt = Date.now();
    if (this.parts.length >= this.opts.max_lines || this.bytes >= this.opts.max_bytes) this.flush();
  }

  /** Emit the held group, if any. */
  flush(): void {
    if (this.parts.length === 0) return;
    const text = this.parts.length === 1 ? this.parts[0] : this.parts.join('\n');
    const truncated = this.truncated;
    this.parts = [];
    this.bytes = 0;
    this.truncated = false;
    this.out.line(text, this.groupStart, this.groupEnd, truncated);
  }

  /** Emit the held group when nothing joined it for `timeout`. */
  flushIfIdle(now: number): boolean {
    if (this.parts.length === 0 || now - this.lastAt < this.opts.timeout) return false;
    this.flush();
    return true;
  }

  reset(): void {
    this.parts = [];
    this.bytes = 0;
    this.truncated = false;
  }
}
