// Persisting a disk queue's pointer (see queue.ts): pointer.json is written one write at a time
// and coalesced — a save requested while one is under way is carried by the next write, which
// takes a fresh snapshot — and an unchanged pointer is not written again.

import { writePointerFile } from './queue-frame.js';

export class PointerSaver {
  private saving: Promise<void> | undefined;
  private again = false;
  private saved = '';

  /** `snapshot` returns pointer.json's text as of now. */
  constructor(
    private readonly dir: string,
    private readonly snapshot: () => string,
  ) {}

  /** Resolves once a write that started after this call (or carries its state) is renamed. */
  save(): Promise<void> {
    this.again = true;
    this.saving ??= (async () => {
      // Yield first: the loop must not run (and finish) before `saving` is assigned.
      await Promise.resolve();
      try {
        // The check of `again` and the clearing of `saving` happen in one turn, so a call
        // either lands before the check (this loop writes it) or finds no loop running.
        while (this.again) {
          this.again = false;
          const text = this.snapshot();
          if (text === this.saved) continue;
          await writePointerFile(this.dir, text);
          this.saved = text;
        }
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }
}
