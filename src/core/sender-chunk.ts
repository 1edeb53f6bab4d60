// A chunk as the Sender holds it (sender.ts): its records (or what sealed them), the input
// batches it has a share of, and what it owes them once done: each batch's ack when its last
// chunk settles, and the dead letters of what the backend rejected.

import type { DeadLetter } from './dead-letter.js';
import { newRecord, type LogRecord } from './record.js';
import type { Sealed, Sealer } from './sender-types.js';

/** An input batch's share of chunks: its tag and ack, never its records (they may be released). */
export interface Owner {
  tag: string;
  ack: () => void;
  remaining: number;
}

export class PendingChunk {
  records: LogRecord[] = [];
  /** Records in the chunk (sealed ones are not kept in `records`). */
  count = 0;
  sealer: Sealer | undefined;
  sealed: Sealed | undefined;
  /** Set when sealing failed: nothing is sent, every record is dead-lettered with this reason. */
  failed: string | undefined;
  parts: Array<{ owner: Owner; count: number }> = [];
  bytes = 0;
  tagAt(i: number): string {
    let idx = i;
    for (const p of this.parts) {
      if (idx < p.count) return p.owner.tag;
      idx -= p.count;
    }
    return '';
  }

  /** The chunk is done: acknowledge each input batch whose last chunk this was. */
  settle(): void {
    for (const p of this.parts) if (--p.owner.remaining === 0) p.owner.ack();
  }

  /** The records at `dead` chunk positions, with their reasons and tags, as dead letters. */
  deadLetters(dead: Array<{ at: number; reason: string }>): DeadLetter[] {
    let records: LogRecord[];
    if (this.sealed || this.failed !== undefined) {
      try {
        if (!this.sealed) throw new Error(this.failed);
        records = this.sealed.restore(dead.map((d) => d.at));
      } catch (e) {
        // Never lose the fact of a rejection: record what is known without the content.
        const why = (e as Error).message;
        records = dead.map(() => newRecord({ unrestorable: why }));
      }
    } else records = dead.map((d) => this.records[d.at]);
    return dead.map((d, k) => ({ record: records[k], reason: d.reason, tag: this.tagAt(d.at) }));
  }
}
