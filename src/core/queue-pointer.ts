// Persisting a disk queue's pointer (see queue.ts, format in queue-frame.ts). After
// acknowledgements it goes to the slot files, in place: one pwrite(2) of a few hundred bytes,
// no rename (a rename over pointer.json can wait for the disk, which delays the save of chunks
// acknowledged meanwhile: they are resent after a crash). pointer.json is written at open, at an
// interval and at close. Both are coalesced — a save requested while one is under way is carried
// by the next write, which takes a fresh snapshot — and an unchanged pointer is not written again.

import {
  MAX_DONE,
  encodePointerSlot,
  pointerSlots,
  writePointerFile,
  type Pointer,
  type SavedPointer,
} from './queue-frame.js';
import type { QueueItem } from './queue-types.js';
import type { SlotPair } from './slot-pair.js';

class Coalesced {
  private running: Promise<void> | undefined;
  private again = false;
  private saved = '';

  /** `write` persists a snapshot's text; `take` returns the text as of now. */
  constructor(
    private readonly take: () => string,
    private readonly write: (text: string) => Promise<void>,
  ) {}

  /** Resolves once a write that started after this call (or carries its state) is done. */
  run(): Promise<void> {
    this.again = true;
    this.running ??= (async () => {
      // Yield first: the loop must not run (and finish) before `running` is assigned.
      await Promise.resolve();
      try {
        // The check of `again` and the clearing of `running` happen in one turn, so a call
        // either lands before the check (this loop writes it) or finds no loop running.
        while (this.again) {
          this.again = false;
          const text = this.take();
          if (text === this.saved) continue;
          await this.write(text);
          this.saved = text;
        }
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}

/** The pointer: the acknowledged prefix and the frames acknowledged beyond it (in read order). */
export function savedPointer(committed: Pointer, inFlight: readonly QueueItem[]): SavedPointer {
  const p: SavedPointer = { ...committed };
  const done: Array<[number, number]> = [];
  for (const it of inFlight) {
    if (done.length >= MAX_DONE) break;
    if (it.done) done.push([it.segment, it.offset]);
  }
  if (done.length > 0) p.done = done;
  return p;
}

export class PointerSaver {
  /** Saves so far; each write carries the next number. */
  private seq: number;
  private readonly slots: SlotPair;
  private readonly live: Coalesced;
  private readonly file: Coalesced;
  private timer: NodeJS.Timeout | undefined;

  /** `snapshot` returns the pointer as of now; `seq` is the number of the pointer loaded. */
  constructor(
    private readonly dir: string,
    snapshot: () => SavedPointer,
    seq: number,
  ) {
    this.seq = seq;
    this.slots = pointerSlots(dir);
    const text = (): string => JSON.stringify(snapshot());
    this.live = new Coalesced(text, (t) => this.writeSlot(t));
    this.file = new Coalesced(text, (t) => writePointerFile(this.dir, this.numbered(t)));
  }

  /** Save to a slot (after acknowledgements). */
  save(): Promise<void> {
    return this.live.run();
  }

  /** Save pointer.json (at open, at the interval, at close). */
  saveFile(): Promise<void> {
    return this.file.run();
  }

  /** Save pointer.json every `ms` until close. */
  every(ms: number): void {
    this.timer = setInterval(() => void this.saveFile().catch(() => undefined), ms);
    this.timer.unref();
  }

  /** No more interval saves (the queue is closing). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The last saves: a slot with every acknowledgement so far, then pointer.json (each failure
   * passed to `onError`); the slot files are closed.
   */
  async close(onError: (e: Error) => void): Promise<void> {
    this.stop();
    await this.save().catch(onError);
    await this.saveFile().catch(onError);
    await this.slots.close();
  }

  private numbered(text: string): string {
    return `${text.slice(0, -1)},"seq":${++this.seq}}`;
  }

  private writeSlot(text: string): Promise<void> {
    return this.slots.write(encodePointerSlot(this.numbered(text)));
  }
}
