// Newline splitting over Buffers: one indexOf per line, no per-line async work. Invalid UTF-8 is
// replaced (U+FFFD) by Buffer#toString, never thrown. Lines longer than `maxLineBytes` are cut
// and flagged; the rest of such a line is skipped up to its newline.

export interface SplitLine {
  text: string;
  truncated: boolean;
}

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  /** Inside an over-long line whose head was already emitted: skip to the next newline. */
  private skipping = false;
  /** Count of lines cut at maxLineBytes. */
  truncatedLines = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.carryLen;
  }

  /**
   * Split `chunk`, appending complete lines to `out`. Returns the number of bytes of `chunk` that
   * ended complete lines (so `offset + consumed` is the position after the last newline).
   */
  push(chunk: Buffer, out: SplitLine[]): number {
    let start = 0;
    let consumed = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      if (this.skipping) {
        this.skipping = false;
      } else if (this.carryLen > 0) {
        this.carry.push(chunk.subarray(start, nl));
        const whole = Buffer.concat(this.carry, this.carryLen + (nl - start));
        this.carry = [];
        this.carryLen = 0;
        out.push(this.make(whole, 0, whole.length));
      } else {
        out.push(this.make(chunk, start, nl));
      }
      start = nl + 1;
      consumed = start;
    }
    if (start < chunk.length && !this.skipping) {
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
        out.push(this.make(whole, 0, whole.length, true));
        this.skipping = true;
      } else {
        // Copy: the caller reuses its read buffer.
        this.carry.push(Buffer.from(rest));
        this.carryLen += rest.length;
      }
    }
    return consumed;
  }

  /** Take the incomplete tail as a line (EOF of a finished file, idle timeout). */
  flush(out: SplitLine[]): boolean {
    if (this.skipping) {
      this.skipping = false;
      return false;
    }
    if (this.carryLen === 0) return false;
    const whole = Buffer.concat(this.carry, this.carryLen);
    this.carry = [];
    this.carryLen = 0;
    out.push(this.make(whole, 0, whole.length));
    return true;
  }

  reset(): void {
    this.carry = [];
    this.carryLen = 0;
    this.skipping = false;
  }

  /** `cut`: the head of a line cut at maxLineBytes (always truncated; a \r in it is content). */
  private make(buf: Buffer, start: number, end: number, cut = false): SplitLine {
    let e = end;
    if (!cut && e > start && buf[e - 1] === 13) e--; // CRLF
    if (cut || e - start > this.maxLineBytes) {
      this.truncatedLines++;
      // Do not cut inside a UTF-8 sequence.
      let cut = start + this.maxLineBytes;
      while (cut > start && (buf[cut] & 0xc0) === 0x80) cut--;
      return { text: buf.toString('utf8', start, cut), truncated: true };
    }
    return { text: buf.toString('utf8', start, e), truncated: false };
  }
}
