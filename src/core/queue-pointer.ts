// Persisting a disk queue's pointer (see queue.ts, format in queue-frame.ts). After
// acknowledgements it goes to the slot files, in place: one pwrite(2) of a few hundred bytes,
// no rename (a rename over pointer.json can wait for the disk, which delays the save of chunks
// acknowledged meanwhile: they are resent after a crash). pointer.json is written at open, at an
// interval and at close. Both are coalesced — a save requested while one is under way is carried
// by the next write, which takes a fresh snapshot — and an unchanged pointer is not written again.

import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  encodePointerSlot,
  pointerSlotFile,
  writePointerFile,
  type SavedPointer,
} from './queue-frame.js';

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

export class PointerSaver {
  /** Saves so far; each write carries the next number. */
  private seq: number;
  private readonly slots: Array<FileHandle | undefined> = [undefined, undefined];
  private nextSlot = 0;
  private readonly live: Coalesced;
  private readonly file: Coalesced;

  /** `snapshot` returns the pointer as of now; `seq` is the number of the pointer loaded. */
  constructor(
    private readonly dir: string,
    snapshot: () => SavedPointer,
    seq: number,
  ) {
    this.seq = seq;
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

  async close(): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const fh = this.slots[i];
      this.slots[i] = undefined;
      await fh?.close().catch(() => undefined);
    }
  }

  private numbered(text: string): string {
    return `${text.slice(0, -1)},"seq":${++this.seq}}`;
  }

  private async writeSlot(text: string): Promise<void> {
    const i = this.nextSlot;
    const buf = encodePointerSlot(this.numbered(text));
    const fh = (this.slots[i] ??= await fsp.open(
      pointerSlotFile(this.dir, i),
      fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW,
      0o640,
    ));
    let off = 0;
    while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, off)).bytesWritten;
    this.nextSlot = 1 - i;
  }
}
