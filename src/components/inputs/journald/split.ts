// journalctl's stdout → lines, with entries over max_entry_bytes skipped in bounded memory.
//
// An entry longer than the limit is never held: its bytes are only scanned for its cursor, so the
// position moves past it (a restart must not meet it again; #17.3). journalctl prints an entry's
// fields in no fixed order (systemd 252: `__CURSOR` may follow a 24 MiB field), so the whole line
// is scanned. `"__CURSOR":"` can only be a key there: inside a JSON string its quotes would be
// escaped, and binary values are arrays of numbers.

export type JournalLine = string | { oversized: true; cursor: string | undefined; bytes: number };

const MARK = '"__CURSOR":"';
/** A journal cursor is ~150 ASCII characters; anything longer is not one. */
const MAX_CURSOR = 1024;

export class EntrySplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  /** Inside an oversized line: what is known so far. */
  private skip: { tail: string; cursor: string | undefined; bytes: number } | undefined;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer, out: JournalLine[]): void {
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.skip) {
        this.scan(chunk.subarray(start, end));
        if (nl === -1) return;
        out.push({ oversized: true, cursor: this.skip.cursor, bytes: this.skip.bytes });
        this.skip = undefined;
      } else if (nl === -1) {
        const rest = chunk.subarray(start);
        if (rest.length === 0) return;
        if (this.carryLen + rest.length > this.maxLineBytes) {
          this.startSkip();
          this.scan(rest);
        } else {
          // Copy: the stream may reuse its buffer.
          this.carry.push(Buffer.from(rest));
          this.carryLen += rest.length;
        }
        return;
      } else {
        const part = chunk.subarray(start, nl);
        if (this.carryLen + part.length > this.maxLineBytes) {
          this.startSkip();
          this.scan(part);
          out.push({ oversized: true, cursor: this.skip!.cursor, bytes: this.skip!.bytes });
          this.skip = undefined;
        } else if (this.carryLen > 0) {
          this.carry.push(part);
          out.push(Buffer.concat(this.carry, this.carryLen + part.length).toString('utf8'));
          this.carry = [];
          this.carryLen = 0;
        } else {
          out.push(part.toString('utf8'));
        }
      }
      start = nl + 1;
    }
  }

  /** Drop an incomplete line (journalctl ended mid-write: the entry is read again next run). */
  reset(): void {
    this.carry = [];
    this.carryLen = 0;
    this.skip = undefined;
  }

  private startSkip(): void {
    this.skip = { tail: '', cursor: undefined, bytes: 0 };
    for (const b of this.carry) this.scan(b);
    this.carry = [];
    this.carryLen = 0;
  }

  private scan(buf: Buffer): void {
    const sk = this.skip!;
    sk.bytes += buf.length;
    if (sk.cursor !== undefined) return;
    // latin1: one character per byte, and the marker and cursors are ASCII.
    const s = sk.tail + buf.toString('latin1');
    const at = s.indexOf(MARK);
    if (at === -1) {
      sk.tail = s.slice(-(MARK.length - 1));
      return;
    }
    const from = at + MARK.length;
    const close = s.indexOf('"', from);
    if (close === -1) {
      sk.tail = s.length - at > MAX_CURSOR ? '' : s.slice(at);
      return;
    }
    const c = s.slice(from, close);
    sk.cursor = c.length > 0 && c.length <= MAX_CURSOR && !c.includes('\\') ? c : undefined;
    sk.tail = '';
  }
}
