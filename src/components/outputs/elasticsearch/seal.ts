// Sealing for `_bulk` (see the core Sender's `seal` and the loki output's README "Sealing"): each
// input batch appended to a chunk is encoded at once into the output's arena (action + document
// lines per record, and where each record's lines end), and the records are released. At the cut
// the chunk takes the arena's buffer as its body (a small chunk gets a copy) and the arena goes on
// in a buffer from the output's pool: a finished chunk gives its buffer back (release, called by
// the Sender once nothing reads the bytes), so a busy output encodes into pages already mapped
// instead of a fresh 5 MiB mmap per chunk. Every attempt sends ranges of the body — the whole
// chunk zero-copy, or the documents a partial retry or a 413 split needs — so queued and retried
// chunks hold bytes, not JS objects, and records die young.
//
// A body is given back only when every attempt got a complete 2xx answer (the cluster read the
// whole request): after a network error, a timeout or any other answer the HTTP client may still
// hold a write of it, so its memory is left to the GC. In queue mode the chunk that is delivered
// is the one decoded from the frame; it gives the buffer back only if the frame's bytes are still
// that buffer (handed over from memory, not read back from disk or inflated).

import type { LogRecord } from '../../../core/record.js';
import type { Sealed, Sealer } from '../../../core/sender.js';
import type { Arena } from '../_shared/arena.js';
import type { BufferPool } from '../_shared/buffer-pool.js';
import type { BulkEncoder } from './encode.js';
import {
  keptFromJson,
  keptToJson,
  type ChunkCodec,
  type KeptJson,
} from '../../../core/queue-codec.js';

/** Below this a chunk's body is copied out of the arena (cheap, and it keeps no spare capacity). */
const HANDOVER_MIN = 128 * 1024;

export class BulkSealer implements Sealer {
  private readonly ends: number[] = [];
  private readonly pre = new Map<number, string>();
  private readonly kept = new Map<number, LogRecord>();

  constructor(
    private readonly encoder: BulkEncoder,
    private readonly arena: Arena,
    private readonly timeKey: string | undefined,
    private readonly pool?: BufferPool,
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
    const arena = this.arena;
    const pool = this.pool;
    let body: Buffer;
    if (pool !== undefined && arena.used >= HANDOVER_MIN) {
      // The chunk owns the arena's buffer now; the arena goes on in another.
      body = arena.buf.subarray(0, arena.used);
      pool.lend(arena.buf);
      arena.buf = pool.take(arena.buf.length);
    } else body = Buffer.from(arena.buf.subarray(0, arena.used));
    arena.used = 0;
    const ends = Int32Array.from(this.ends);
    return new SealedBulk(body, ends, this.pre, this.kept, this.timeKey, pool);
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
    private pool?: BufferPool,
  ) {}

  /** Set when an attempt ended without a complete 2xx answer: the body is never reused. */
  tainted = false;

  /** The chunk is finished (Sealed.release): its buffer may go back to the pool. */
  release(): void {
    if (!this.tainted) this.pool?.giveBack(this.body);
    this.pool = undefined;
  }

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
      // rfc3339 with 9 fraction digits: the sub-millisecond part is the record's timeNs.
      const frac = typeof t === 'string' ? /\.\d{3}(\d{6})/.exec(t) : null;
      const timeNs = frac && !Number.isNaN(ms) ? Number(frac[1]) : 0;
      return { fields, timeMs: Number.isNaN(ms) ? Date.now() : ms, timeNs };
    });
  }
}

/**
 * Disk-queue codec of SealedBulk: the `_bulk` body and the record ends. The body is plain JSON
 * (about 420 bytes per agent record), so the queue deflates it while the output is behind.
 */
export function bulkCodec(timeKey: string | undefined, pool?: BufferPool): ChunkCodec {
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
      return new SealedBulk(body, ends, new Map(m.pre), keptFromJson(m.kept), timeKey, pool);
    },
  };
}
