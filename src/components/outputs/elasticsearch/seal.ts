// Sealing for `_bulk` (see the core Sender's `seal` and the loki output's README "Sealing"): each
// input batch appended to a chunk is encoded at once into the output's arena (action + document
// lines per record, and where each record's lines end), and the records are released. At the cut
// the bytes are copied into one buffer the chunk owns. Every attempt sends ranges of it — the
// whole chunk zero-copy, or the documents a partial retry or a 413 split needs — so queued and
// retried chunks hold bytes, not JS objects, and records die young.

import type { LogRecord } from '../../../core/record.js';
import type { Sealed, Sealer } from '../../../core/sender.js';
import type { Arena } from '../_shared/arena.js';
import type { BulkEncoder } from './encode.js';
import {
  keptFromJson,
  keptToJson,
  type ChunkCodec,
  type KeptJson,
} from '../../../core/queue-codec.js';

export class BulkSealer implements Sealer {
  private readonly ends: number[] = [];
  private readonly pre = new Map<number, string>();
  private readonly kept = new Map<number, LogRecord>();

  constructor(
    private readonly encoder: BulkEncoder,
    private readonly arena: Arena,
    private readonly timeKey: string | undefined,
  ) {
    arena.used = 0;
  }

  add(records: readonly LogRecord[], from: number, to: number, position: number): void {
    try {
      this.encoder.encodeInto(records, from, to, this.arena, this.ends);
      return;
    } catch {
      // Find the records that cannot be encoded; encode the others one by one.
    }
    const done = this.ends.length - position;
    for (let i = from + done; i < to; i++) {
      const at = this.arena.used;
      try {
        this.encoder.encodeInto(records, i, i + 1, this.arena, this.ends);
      } catch (e) {
        this.arena.used = at;
        this.ends.push(at); // an empty range: never sent, dead-lettered by the first attempt
        this.pre.set(position + i - from, `cannot encode the document: ${(e as Error).message}`);
        this.kept.set(position + i - from, records[i]);
      }
    }
  }

  finish(): SealedBulk {
    const body = Buffer.from(this.arena.buf.subarray(0, this.arena.used));
    this.arena.used = 0;
    return new SealedBulk(body, Int32Array.from(this.ends), this.pre, this.kept, this.timeKey);
  }
}

export class SealedBulk implements Sealed {
  constructor(
    readonly body: Buffer,
    /** Where each record's lines end in `body`, by chunk position. */
    readonly ends: Int32Array,
    /** Records refused before sending (cannot be encoded), with the reason. */
    readonly pre: Map<number, string>,
    private readonly kept: Map<number, LogRecord>,
    private readonly timeKey: string | undefined,
  ) {}

  /** Records refused before sending, by chunk position (for the disk queue). */
  keptRecords(): Map<number, LogRecord> {
    return this.kept;
  }

  private start(p: number): number {
    return p === 0 ? 0 : this.ends[p - 1];
  }

  /** The body of the documents at `positions[from, to)`: a view when they are consecutive. */
  bodyOf(positions: readonly number[], from: number, to: number): Buffer {
    const first = positions[from];
    const last = positions[to - 1];
    if (last - first === to - from - 1)
      return this.body.subarray(this.start(first), this.ends[last]);
    const parts: Buffer[] = [];
    for (let i = from; i < to; i++) {
      const p = positions[i];
      parts.push(this.body.subarray(this.start(p), this.ends[p]));
    }
    return Buffer.concat(parts);
  }

  /** Dead letters: the document line parsed back (with the time field if one was added). */
  restore(positions: readonly number[]): LogRecord[] {
    return positions.map((p) => {
      const kept = this.kept.get(p);
      if (kept) return kept;
      const text = this.body.toString('utf8', this.start(p), this.ends[p]);
      const doc = text.slice(text.indexOf('\n') + 1).replace(/\n$/, '');
      let fields: Record<string, unknown>;
      try {
        fields = JSON.parse(doc) as Record<string, unknown>;
      } catch {
        fields = { message: doc };
      }
      const t = this.timeKey !== undefined ? fields[this.timeKey] : undefined;
      const ms = typeof t === 'string' ? Date.parse(t) : NaN;
      return { fields, timeMs: Number.isNaN(ms) ? Date.now() : ms, timeNs: 0 };
    });
  }
}

/**
 * Disk-queue codec of SealedBulk: the `_bulk` body and the record ends. The body is plain JSON
 * (about 420 bytes per agent record), so the queue deflates it while the output is behind.
 */
export function bulkCodec(timeKey: string | undefined): ChunkCodec {
  return {
    compressible: true,
    encode(sealed) {
      const b = sealed as SealedBulk;
      const ends = Buffer.from(b.ends.buffer, b.ends.byteOffset, b.ends.byteLength);
      return {
        meta: { pre: [...b.pre], kept: keptToJson(b.keptRecords()) },
        parts: [b.body, ends],
      };
    },
    decode(meta, parts) {
      const m = meta as { pre: Array<[number, string]>; kept: KeptJson };
      const [body, endBytes] = parts;
      if (!body || !endBytes || endBytes.length % 4 !== 0)
        throw new Error('elasticsearch: queued chunk has no body or ends');
      // Copy: the frame's bytes need not be 4-aligned for an Int32Array view.
      const ends = new Int32Array(endBytes.length / 4);
      for (let i = 0; i < ends.length; i++) ends[i] = endBytes.readInt32LE(i * 4);
      if (ends.length > 0 && ends[ends.length - 1] > body.length)
        throw new Error('elasticsearch: queued chunk ends past its body');
      return new SealedBulk(body, ends, new Map(m.pre), keptFromJson(m.kept), timeKey);
    },
  };
}
