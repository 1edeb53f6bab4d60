// The disk queue's recent frames (see queue.ts): payloads kept in memory after they were
// written, up to a byte limit, oldest evicted first, so a reader that keeps up never reads its
// frames back from the segment files.

export interface RecentFrame {
  /** The payload as appended (its parts), and its length. */
  parts: readonly Buffer[];
  bytes: number;
  records: number;
  timeMs: number;
}

export class RecentFrames {
  /** By `"<segment>:<offset>"`; a Map iterates in insertion order: the first entry is the oldest. */
  private frames = new Map<string, RecentFrame>();
  private size = 0;

  constructor(private readonly limit: number) {}

  add(key: string, frame: RecentFrame): void {
    if (frame.bytes > this.limit) return;
    this.frames.set(key, frame);
    this.size += frame.bytes;
    for (const [k, f] of this.frames) {
      if (this.size <= this.limit) break;
      this.frames.delete(k);
      this.size -= f.bytes;
    }
  }

  peek(key: string): RecentFrame | undefined {
    return this.frames.get(key);
  }

  /** The frame, removed (it is handed out once). */
  take(key: string): RecentFrame | undefined {
    const f = this.frames.get(key);
    if (f) {
      this.frames.delete(key);
      this.size -= f.bytes;
    }
    return f;
  }
}
