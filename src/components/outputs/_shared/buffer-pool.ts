// Buffers a sealing output hands to its chunks and gets back once a chunk is finished (see the
// core Sender's Sealed.release), so the next chunk is encoded into pages that are already mapped.
// Under the launcher's malloc settings every buffer over 128 KiB is a fresh mmap: filling a new
// 5 MiB one page-faults ~1,300 times (~15-20 ms here, more than the copy itself; issue #22).
//
// A buffer is lent (its memory is a chunk's body) and given back by whoever held the chunk last.
// Only memory that was lent and not yet given back is taken back, once: a view of any other
// memory (a frame read back from disk, a copy) is ignored, so giving back is always safe to try.

export class BufferPool {
  private readonly free: Array<Buffer<ArrayBuffer>> = [];
  private readonly lent = new WeakSet<ArrayBuffer>();

  /** At most `max` buffers wait in the pool; more given back are left to the GC. */
  constructor(private readonly max = 4) {}

  /**
   * A buffer of at least `size` bytes given back earlier, or a new one of `size` bytes. Smaller
   * ones (given back before the arena grew) are dropped: the arena would only grow them again.
   */
  take(size: number): Buffer<ArrayBuffer> {
    let buf = this.free.pop();
    while (buf !== undefined && buf.length < size) buf = this.free.pop();
    if (buf === undefined) return Buffer.allocUnsafeSlow(size);
    this.reused++;
    return buf;
  }

  /** Buffers `take` handed out again (tests, metrics). */
  reused = 0;

  /** `buf` (a whole buffer, as `take` returns them) now backs a chunk's body. */
  lend(buf: Buffer): void {
    this.lent.add(buf.buffer as ArrayBuffer);
  }

  /**
   * Nothing reads `view` (or any other view of its memory) any more: its buffer returns to the
   * pool if it was lent. Ignored for memory that was not lent or was already given back.
   */
  giveBack(view: Buffer): void {
    const ab = view.buffer as ArrayBuffer;
    if (!this.lent.delete(ab)) return;
    if (this.free.length < this.max) this.free.push(Buffer.from(ab));
  }

  /** Buffers waiting in the pool (tests). */
  get size(): number {
    return this.free.length;
  }
}
