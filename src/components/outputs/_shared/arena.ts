// A growable byte buffer an output encodes a filling chunk into (see the core Sender's `seal`):
// one per output, reused chunk after chunk (only the chunk being filled writes to it), so encoding
// allocates nothing off-heap but what a sealed chunk keeps.

export class Arena {
  buf = Buffer.allocUnsafeSlow(1 << 20);
  used = 0;

  /** Make room for `n` more bytes (the buffer may be replaced: re-read `buf`). */
  ensure(n: number): void {
    const need = this.used + n;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  /** Copy `bytes` in; returns where they start. */
  append(bytes: Uint8Array): number {
    this.ensure(bytes.length);
    const at = this.used;
    this.buf.set(bytes, at);
    this.used += bytes.length;
    return at;
  }
}
