// The one newline splitter of shiplog (inputs: file, kubernetes through it, stdin). One indexOf
// per line over the Buffers read, no per-line async work and no per-line object unless the sink
// makes one. Invalid UTF-8 is replaced (U+FFFD) by Buffer#toString, never thrown; CRLF endings
// are stripped; lines longer than `maxLineBytes` are cut (on a UTF-8 boundary) and flagged, the
// rest of such a line skipped up to its newline, so memory stays bounded. Every line knows the
// offset it starts at (per-line source ids) and `safeOffset` is the offset after the last
// finished line (a checkpoint never passes a line not handed on yet). With `dropBlank`, empty
// lines are dropped and NUL bytes at a line start skipped (files).

export interface LineSink {
  /**
   * A line starting at file offset `start`. `end` is the offset after its newline, or -1 for the
   * head of an over-long line whose end is not known yet.
   */
  line(text: string, start: number, end: number, truncated: boolean): void;
}

/** A line as `collect` keeps it. */
export interface SplitLine {
  text: string;
  truncated: boolean;
}

/** A sink that appends every line to `out` (for callers that want an array). */
export function collect(out: SplitLine[]): LineSink {
  return { line: (text, _start, _end, truncated) => out.push({ text, truncated }) };
}

export interface LineSplitterOptions {
  /** How lines are decoded (default utf8; latin1 for the file input's `encoding`). */
  encoding?: BufferEncoding;
  /** Offset of the first byte pushed (a file read from a checkpoint). Default 0. */
  offset?: number;
  /**
   * Drop empty lines and skip NUL bytes at the start of a line (the hole a writer without
   * O_APPEND leaves after a copytruncate): the file input. Default false: every line is handed
   * on, empty ones too.
   */
  dropBlank?: boolean;
}

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  /** Inside an over-long line whose head was already emitted: skip to the next newline. */
  private skipping = false;
  private readonly encoding: BufferEncoding;
  private readonly dropBlank: boolean;
  /** Offset of the first byte that is not part of a finished line (checkpoint candidate). */
  safeOffset: number;
  /** Offset where the next byte pushed is expected. */
  nextOffset: number;
  truncatedLines = 0;

  constructor(
    private readonly maxLineBytes: number,
    opts: LineSplitterOptions = {},
  ) {
    this.encoding = opts.encoding ?? 'utf8';
    this.dropBlank = opts.dropBlank ?? false;
    this.safeOffset = opts.offset ?? 0;
    this.nextOffset = this.safeOffset;
  }

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.carryLen;
  }

  /** True while bytes of an unfinished line are held or skipped. */
  get hasPartial(): boolean {
    return this.carryLen > 0 || this.skipping;
  }

  /** Drop what is held and go on at `offset` (a file read again, or read from elsewhere). */
  reset(offset = 0): void {
    this.carry = [];
    this.carryLen = 0;
    this.skipping = false;
    this.safeOffset = offset;
    this.nextOffset = offset;
  }

  /** `chunk` holds the file bytes at [nextOffset, nextOffset + chunk.length). */
  push(chunk: Buffer, sink: LineSink): void {
    const base = this.nextOffset;
    const len = chunk.length;
    this.nextOffset = base + len;
    let start = 0;
    if (this.dropBlank && this.carryLen === 0 && !this.skipping) {
      while (start < len && chunk[start] === 0) start++;
      if (start > 0) this.safeOffset = base + start;
    }
    while (start < len) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      if (this.skipping) {
        this.skipping = false;
      } else if (this.carryLen > 0) {
        this.carry.push(chunk.subarray(start, nl));
        const whole = Buffer.concat(this.carry, this.carryLen + (nl - start));
        this.carry = [];
        this.carryLen = 0;
        this.emit(whole, 0, whole.length, this.safeOffset, base + nl + 1, sink);
      } else {
        this.emit(chunk, start, nl, base + start, base + nl + 1, sink);
      }
      start = nl + 1;
      this.safeOffset = base + start;
      if (this.dropBlank) {
        // Skip a NUL run at the start of the next line.
        while (start < len && chunk[start] === 0) start++;
        if (start !== nl + 1) this.safeOffset = base + start;
      }
    }
    if (start < len && !this.skipping) {
      const rest = chunk.subarray(start);
      const held = this.carryLen + rest.length;
      // One byte over is not yet too long when it is a \r: it may be the CR of a CRLF.
      if (
        held > this.maxLineBytes &&
        !(held === this.maxLineBytes + 1 && rest[rest.length - 1] === 13)
      ) {
        // Emit the head now and skip the remainder of this line: memory stays bounded.
        this.carry.push(rest);
        const whole = Buffer.concat(this.carry, this.carryLen + rest.length);
        this.carry = [];
        this.carryLen = 0;
        this.emit(whole, 0, whole.length, this.safeOffset, -1, sink, true);
        this.skipping = true;
      } else {
        // Copy: the caller reuses its read buffer.
        this.carry.push(Buffer.from(rest));
        this.carryLen += rest.length;
      }
    }
  }

  /** Take the unterminated tail as a line (EOF of a finished file, idle past rotate_wait). */
  flush(sink: LineSink): void {
    if (this.skipping) {
      this.skipping = false;
    } else if (this.carryLen > 0) {
      const whole = Buffer.concat(this.carry, this.carryLen);
      this.carry = [];
      this.carryLen = 0;
      this.emit(whole, 0, whole.length, this.safeOffset, this.nextOffset, sink);
    }
    this.safeOffset = this.nextOffset;
  }

  private emit(
    buf: Buffer,
    s: number,
    e: number,
    startOff: number,
    endOff: number,
    sink: LineSink,
    /** The head of a line cut at max_line_bytes: always truncated, and a \r in it is content. */
    cut = false,
  ): void {
    if (!cut && e > s && buf[e - 1] === 13) e--; // CRLF
    if (e === s && this.dropBlank) return;
    if (cut || e - s > this.maxLineBytes) {
      this.truncatedLines++;
      let cut = s + this.maxLineBytes;
      // Do not cut inside a UTF-8 sequence.
      if (this.encoding === 'utf8') while (cut > s && (buf[cut] & 0xc0) === 0x80) cut--;
      sink.line(buf.toString(this.encoding, s, cut), startOff, endOff, true);
      return;
    }
    sink.line(buf.toString(this.encoding, s, e), startOff, endOff, false);
  }
}
