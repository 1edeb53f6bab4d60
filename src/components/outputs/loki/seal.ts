// Sealing: a protobuf chunk is encoded while it fills, not when it is sent. Each input batch the
// Sender appends is prepared and written to PushRequest bytes at once (a piece), its lines are
// dropped from the entries, and the records are released; when the chunk is cut, the pieces are
// merged (one StreamAdapter per label set, entries copied, not re-encoded) and snappy-compressed
// once. A queued or retried chunk then holds only its compressed body and small per-entry
// metadata (time, chunk position): records die young instead of being promoted to V8's old
// generation while they wait, which is what bounded RSS and GC time under load (README "Hot path").
//
// Entries are sorted by time within a piece; across pieces of one stream they stay in arrival
// order (Loki accepts out-of-order entries within its window, unordered_writes, since 2.4).

import snappy from './snappy.js';
import type { LogRecord } from '../../../core/record.js';
import type { Sealed, Sealer } from '../../../core/sender.js';
import type { ChunkCodec } from '../../../core/queue-codec.js';
import { keptFromJson, keptToJson, type KeptJson } from '../../../core/queue-codec.js';
import { encodeProtobufView } from './body.js';
import type { LokiEncoder } from './encoder.js';
import { Entry, type Prepared, type Push, type Stream } from './push.js';
import type { Arena } from '../_shared/arena.js';
import {
  readStreamLines,
  streamEntryRanges,
  writeMergedStreams,
  type MergeStream,
} from './wire.js';

/** A stream of a sealed push: labels and, per entry, time and chunk position (no line). */
interface CompactStream {
  labels: string;
  pairs: Array<[string, string]>;
  seconds: number[];
  nanos: number[];
  index: number[];
}

export interface SealedPush {
  tenant: string | undefined;
  /** Entries in this push. */
  count: number;
  streams: CompactStream[];
  /** snappy(PushRequest), sent as is on every attempt. */
  body: Buffer;
}

interface TenantGroup {
  tenant: string | undefined;
  streams: Map<string, { stream: CompactStream; merge: MergeStream }>;
  count: number;
}

export class LokiSealer implements Sealer {
  private readonly groups = new Map<string, TenantGroup>();
  /** Records refused before sending (too old, max_streams, encoding failed), by chunk position. */
  private readonly pre: Array<{ index: number; reason: string }> = [];
  private readonly kept = new Map<number, LogRecord>();
  private readonly stats: Prepared = {
    pushes: [],
    rejected: [],
    truncated: 0,
    labelsDropped: 0,
    badTimes: 0,
  };

  constructor(
    private readonly encoder: LokiEncoder,
    /** Logs and counts what preparing found (truncations, refusals), once per chunk. */
    private readonly report: (prep: Prepared) => void,
    private readonly arena: Arena,
  ) {
    arena.used = 0;
  }

  add(records: readonly LogRecord[], from: number, to: number, position: number): void {
    const slice = from === 0 && to === records.length ? records : records.slice(from, to);
    let prep: Prepared;
    try {
      prep = this.encoder.prepare(slice);
    } catch (e) {
      for (let i = 0; i < slice.length; i++) this.refuse(position + i, slice[i], e);
      return;
    }
    const st = this.stats;
    st.truncated += prep.truncated;
    st.labelsDropped += prep.labelsDropped;
    st.badTimes += prep.badTimes;
    if (prep.explodingLabel) st.explodingLabel = prep.explodingLabel;
    for (const r of prep.rejected) {
      st.rejected.push(r);
      this.pre.push({ index: position + r.index, reason: r.reason });
      this.kept.set(position + r.index, slice[r.index]);
    }
    for (const push of prep.pushes) {
      let base: number;
      let ranges: Array<[number, number]>;
      try {
        const view = encodeProtobufView(push);
        ranges = streamEntryRanges(view);
        base = this.arena.append(view);
      } catch (e) {
        for (const s of push.streams)
          for (const en of s.entries) this.refuse(position + en.index, slice[en.index], e);
        continue;
      }
      const key = push.tenant ?? '';
      let g = this.groups.get(key);
      if (!g) {
        g = { tenant: push.tenant, streams: new Map(), count: 0 };
        this.groups.set(key, g);
      }
      for (let s = 0; s < push.streams.length; s++) {
        const src = push.streams[s];
        let m = g.streams.get(src.labels);
        if (!m) {
          m = {
            stream: { labels: src.labels, pairs: src.pairs, seconds: [], nanos: [], index: [] },
            merge: { labels: src.labels, ranges: [] },
          };
          g.streams.set(src.labels, m);
        }
        const c = m.stream;
        for (const e of src.entries) {
          c.seconds.push(e.seconds);
          c.nanos.push(e.nanos);
          c.index.push(position + e.index);
        }
        m.merge.ranges.push(base + ranges[s][0], base + ranges[s][1]);
      }
      g.count += push.count;
    }
  }

  finish(): SealedChunk {
    this.report(this.stats);
    const pushes: SealedPush[] = [];
    for (const g of this.groups.values()) {
      const streams: CompactStream[] = [];
      const merges: MergeStream[] = [];
      for (const m of g.streams.values()) {
        streams.push(m.stream);
        merges.push(m.merge);
      }
      // copyOutputData: the default hands back an external buffer V8 does not account for; at
      // 1 MiB pushes that measured 5x slower and let RSS grow to ~450 MB before a GC.
      const body = snappy.compressSync(writeMergedStreams(this.arena.buf, merges), {
        copyOutputData: true,
      });
      pushes.push({ tenant: g.tenant, count: g.count, streams, body });
    }
    this.arena.used = 0;
    return new SealedChunk(this.encoder, pushes, this.pre, this.kept);
  }

  private refuse(index: number, record: LogRecord, e: unknown): void {
    this.pre.push({ index, reason: `loki: encoding failed: ${(e as Error).message}` });
    this.kept.set(index, record);
  }
}

/** A chunk encoded as it filled (protobuf): what every attempt sends, and how to dead-letter. */
export class SealedChunk implements Sealed {
  private readonly full = new Map<SealedPush, Push>();

  constructor(
    private readonly encoder: LokiEncoder,
    readonly pushes: SealedPush[],
    /** Records refused before sending, by chunk position (their records are in `kept`). */
    readonly pre: Array<{ index: number; reason: string }>,
    private readonly kept: Map<number, LogRecord>,
  ) {}

  /** Records refused before sending, by chunk position (for the disk queue). */
  keptRecords(): Map<number, LogRecord> {
    return this.kept;
  }

  /** Chunk positions of a push's entries. */
  static indexes(sp: SealedPush): number[] {
    const out: number[] = [];
    for (const s of sp.streams) for (const i of s.index) out.push(i);
    return out;
  }

  /** The push with its lines, decoded from the body (rejections only: Loki names entries by line). */
  hydrate(sp: SealedPush): Push {
    let push = this.full.get(sp);
    if (push) return push;
    const decoded = readStreamLines(snappy.uncompressSync(sp.body) as Buffer);
    if (decoded.length !== sp.streams.length)
      throw new Error('loki: a sealed push does not decode to the streams it was built from');
    const streams: Stream[] = sp.streams.map((c, s) => {
      const lines = decoded[s];
      return {
        labels: c.labels,
        pairs: c.pairs,
        entries: c.index.map(
          (index, j) => new Entry(c.seconds[j], c.nanos[j], lines[j] ?? '', index),
        ),
      };
    });
    push = { tenant: sp.tenant, streams, count: sp.count, bytes: sp.body.length };
    this.full.set(sp, push);
    return push;
  }

  restore(positions: readonly number[]): LogRecord[] {
    const found = new Map<number, LogRecord>();
    const want = new Set(positions);
    for (const sp of this.pushes) {
      if (!sp.streams.some((st) => st.index.some((i) => want.has(i)))) continue;
      for (const st of this.hydrate(sp).streams)
        for (const e of st.entries)
          if (want.has(e.index)) found.set(e.index, this.encoder.recordFromEntry(st, e));
    }
    return positions.map(
      (p) =>
        this.kept.get(p) ??
        found.get(p) ?? {
          fields: { unrestorable: `no entry at chunk position ${p}` },
          timeMs: Date.now(),
          timeNs: 0,
        },
    );
  }
}

/** How a sealed push is kept in the disk queue: labels as JSON, entry metadata as binary. */
interface QueuedPush {
  tenant: string | null;
  count: number;
  /** Per stream: labels, label pairs, entries. */
  streams: Array<[string, Array<[string, string]>, number]>;
}

/**
 * Disk-queue codec of SealedChunk: the compressed bodies are stored and resent as they are; per
 * push one binary part holds every entry's seconds (f64), nanos and chunk position (i32).
 */
export function lokiCodec(encoder: LokiEncoder): ChunkCodec {
  return {
    encode(sealed) {
      const c = sealed as SealedChunk;
      const parts: Buffer[] = [];
      const pushes: QueuedPush[] = [];
      for (const sp of c.pushes) {
        let n = 0;
        for (const st of sp.streams) n += st.index.length;
        const bin = Buffer.allocUnsafe(n * 16);
        let at = 0;
        for (const st of sp.streams)
          for (let j = 0; j < st.index.length; j++) {
            bin.writeDoubleLE(st.seconds[j], at);
            bin.writeInt32LE(st.nanos[j], at + 8);
            bin.writeInt32LE(st.index[j], at + 12);
            at += 16;
          }
        pushes.push({
          tenant: sp.tenant ?? null,
          count: sp.count,
          streams: sp.streams.map((st) => [st.labels, st.pairs, st.index.length]),
        });
        parts.push(sp.body, bin);
      }
      return { meta: { pushes, pre: c.pre, kept: keptToJson(c.keptRecords()) }, parts };
    },
    decode(meta, parts) {
      const m = meta as {
        pushes: QueuedPush[];
        pre: Array<{ index: number; reason: string }>;
        kept: KeptJson;
      };
      if (!Array.isArray(m.pushes) || m.pushes.length * 2 !== parts.length)
        throw new Error('loki: queued chunk metadata does not match its parts');
      const pushes: SealedPush[] = m.pushes.map((p, k) => {
        const bin = parts[2 * k + 1];
        let at = 0;
        const streams = p.streams.map(([labels, pairs, n]) => {
          if (!Number.isSafeInteger(n) || n < 0)
            throw new Error('loki: queued entry count is not a count');
          if (at + n * 16 > bin.length) throw new Error('loki: queued entries past their end');
          // Sized once (n is known), not grown by push: this runs for every frame delivered.
          const st = {
            labels,
            pairs,
            seconds: new Array<number>(n),
            nanos: new Array<number>(n),
            index: new Array<number>(n),
          };
          for (let j = 0; j < n; j++, at += 16) {
            st.seconds[j] = bin.readDoubleLE(at);
            st.nanos[j] = bin.readInt32LE(at + 8);
            st.index[j] = bin.readInt32LE(at + 12);
          }
          return st;
        });
        return { tenant: p.tenant ?? undefined, count: p.count, streams, body: parts[2 * k] };
      });
      return new SealedChunk(encoder, pushes, m.pre, keptFromJson(m.kept));
    },
  };
}
