// Newline splitting with file offsets, so every line knows where it starts (per-line source ids)
// and the reader knows the offset after the last finished line (the checkpoint). Same rules as
// src/core/lines.ts: one indexOf per line, invalid UTF-8 replaced by Buffer#toString, lines
// longer than `maxLineBytes` cut and flagged, the rest of such a line skipped up to its newline.
// Additionally NUL bytes at the start of a line are skipped (the hole a writer without O_APPEND
// leaves after a copytruncate) and empty lines are dropped.

export interface LineSink {
  /**
   * A line starting at file offset `start`. `end` is the offset after its newline, or -1 for the
   * head of an over-long line whose end is not known yet.
   */
  line(text: string, start: number, end: number, truncated: boolean): void;
}

export class OffsetSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  private skipping = false;
  /** Offset of the first byte that is not part of a finished line (checkpoint candidate). */
  safeOffset: number;
  /** Offset where the next byte pushed is expected. */
  nextOffset: number;
  truncatedLines = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly encoding: BufferEncoding,
    offset = 0,
  ) {
    this.safeOffset = offset;
    this.nextOffset = offset;
  }

  get pendingBytes(): number {
    return this.carryLen;
  }

  /** True while bytes of an unfinished line are held or skipped. */
  get hasPartial(): boolean {
    return this.carryLen > 0 || this.skipping;
  }

  reset(offset: number): void {
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
    if (this.carryLen === 0 && !this.skipping) {
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
      // Skip a NUL run at the start of the next line.
      while (start < len && chunk[start] === 0) start++;
      if (start !== nl + 1) this.safeOffset = base + start;
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
    if (e === s) return;
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
