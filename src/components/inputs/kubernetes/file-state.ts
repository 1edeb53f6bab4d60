// One container log file (one checkpoint identity) as the kubernetes input sees it: its
// partial-line joins (merge.ts), its multiline records per stream (lines.ts, with the input's
// `multiline` option), the records built for the pipeline, and the checkpoint position a batch
// commits: held back to the first byte of the oldest line still held, with the offsets up to
// which each stream was already delivered (`k`), so a restart that reads the held lines again
// skips the lines of the other stream it delivered meanwhile — neither lost nor repeated.

import * as fs from 'node:fs';
import type { SourceTracker } from '../../../core/acks.js';
import type { LogRecord } from '../../../core/record.js';
import type { CompiledMultiline } from '../../_shared/multiline/index.js';
import { hashBytes, keyDevIno, readAt, TAIL_BYTES, type FilePosition } from '../file/identity.js';
import { StreamLines, type Stream } from './lines.js';
import { FileMerger, type JoinSink } from './merge.js';
import type { PodMeta } from './metadata.js';
import type { PathMeta } from './path-meta.js';

/** Nested metadata objects: copied per record, since filters may mutate fields in place. */
export const NESTED = [
  'labels',
  'annotations',
  'owner',
  'namespace_labels',
  'namespace_annotations',
] as const;

/** Per-record bytes of a record beyond its message (fields, objects), for the buffer budget. */
const RECORD_BYTES = 400;

/** Index of a stream in `KubePosition.k` (2: lines without a stream, malformed ones). */
const STDOUT = 0;
const STDERR = 1;
const PLAIN = 2;

/**
 * A file position as this input commits it. `k` (only when `o` was held back): the offsets up to
 * which stdout lines, stderr lines and lines without a stream starting at or after `o` were
 * already delivered; a restart at `o` skips them.
 */
export type KubePosition = FilePosition & { k?: [number, number, number] };

function skipOf(v: unknown): [number, number, number] | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const k = (v as { k?: unknown }).k;
  if (!Array.isArray(k) || k.length !== 3 || !k.every((n) => typeof n === 'number'))
    return undefined;
  return [k[0] as number, k[1] as number, k[2] as number];
}

export class FileState implements JoinSink {
  inner: SourceTracker | undefined;
  path = '';
  meta: PathMeta | undefined;
  readonly merger: FileMerger;
  /** Multiline records of stdout and stderr (with the `multiline` option). */
  private readonly ml: [StreamLines, StreamLines] | undefined;
  /** The last position the file input handed out (a copy): where a timer flush commits to. */
  rawPos: FilePosition | undefined;
  out: LogRecord[] = [];
  outBytes = 0;
  tag = '';
  excluded = false;
  /** Pod the enrichment was built from (undefined: none known yet). */
  podRef: PodMeta | undefined;
  nsRef: PodMeta | undefined;
  podRefSet = false;
  base: Record<string, unknown> = {};
  hasNested = false;
  /** JSON size of the API metadata each record carries (counted in the buffer budget). */
  metaBytes = 0;
  /** Loki stream labels from allowlisted pod labels (copied per record), if any. */
  labels: Record<string, string> | undefined;
  forgotten = false;
  /** A raw line cut by max_line_bytes: its record is flagged. */
  rawTruncated = false;
  /** Lines skipped after a restart because they were delivered before it. */
  skippedLines = 0;
  /** Restored `k` of the committed position: lines below these offsets were delivered. */
  private skip: [number, number, number] | undefined;
  /** Offset the restored position resumes from (checked against the first line read), or -1. */
  private skipFrom = -1;
  private tailAt = -1;
  private tailTh = '';
  private tailTl = 0;

  constructor(
    readonly key: string,
    maxMerged: number,
    multiline: CompiledMultiline | undefined,
  ) {
    this.merger = new FileMerger(maxMerged, this);
    if (multiline) {
      const out = this.record.bind(this);
      this.ml = [
        new StreamLines(multiline, 'stdout', out),
        new StreamLines(multiline, 'stderr', out),
      ];
    }
  }

  /** The committed position this file resumes from (its `k`, if any, says what to skip). */
  restore(committed: unknown): void {
    const k = skipOf(committed);
    if (!k) return;
    this.skip = k;
    this.skipFrom = (committed as FilePosition).o;
  }

  /**
   * True when the raw line at `offset` (of `stream`, undefined for a malformed line) was
   * delivered before a restart and must not be again.
   */
  delivered(offset: number, stream: Stream | undefined): boolean {
    const k = this.skip;
    if (!k) return false;
    if (this.skipFrom >= 0) {
      // The file input resumed elsewhere than the restored position: nothing to skip.
      if (offset !== this.skipFrom) {
        this.skip = undefined;
        return false;
      }
      this.skipFrom = -1;
    }
    if (offset >= k[STDOUT] && offset >= k[STDERR] && offset >= k[PLAIN]) {
      this.skip = undefined;
      return false;
    }
    const i = stream === undefined ? PLAIN : stream === 'stdout' ? STDOUT : STDERR;
    if (offset >= k[i]) return false;
    this.skippedLines++;
    return true;
  }

  kube(): Record<string, unknown> {
    const k = { ...this.base };
    if (this.hasNested)
      for (const n of NESTED) {
        const v = k[n];
        if (v !== undefined) k[n] = { ...(v as object) };
      }
    return k;
  }

  /** A whole line from the partial-line joins: to the stream's multiline joiner, or out. */
  joined(
    stream: Stream,
    message: string,
    timeMs: number,
    timeNs: number,
    sourceId: string | undefined,
    truncated: boolean,
  ): void {
    const t = truncated || this.rawTruncated;
    if (this.ml)
      this.ml[stream === 'stdout' ? STDOUT : STDERR].add(message, timeMs, timeNs, sourceId, t);
    else this.record(stream, message, timeMs, timeNs, sourceId, t);
  }

  private record(
    stream: Stream,
    message: string,
    timeMs: number,
    timeNs: number,
    sourceId: string | undefined,
    truncated: boolean,
  ): void {
    const fields: Record<string, unknown> = { message, stream, kubernetes: this.kube() };
    if (truncated) fields.truncated = true;
    const r: LogRecord = { fields, timeMs, timeNs, sourceId };
    if (this.labels) r.labels = { ...this.labels };
    this.out.push(r);
    this.outBytes += message.length * 2 + RECORD_BYTES + this.metaBytes;
  }

  plain(message: string, timeMs: number, sourceId: string | undefined, truncated: boolean): void {
    const fields: Record<string, unknown> = { message, kubernetes: this.kube() };
    if (truncated) fields.truncated = true;
    const r: LogRecord = { fields, timeMs, timeNs: 0, sourceId };
    if (this.labels) r.labels = { ...this.labels };
    this.out.push(r);
    this.outBytes += message.length * 2 + RECORD_BYTES + this.metaBytes;
  }

  /** A partial line or a multiline record is being joined. */
  get held(): boolean {
    return this.merger.held || this.heldOf(STDOUT) >= 0 || this.heldOf(STDERR) >= 0;
  }

  /** Offset of the oldest line `stream` holds (partial or multiline), or -1. */
  private heldOf(i: number): number {
    const a = this.merger.heldStartOf(i === STDOUT ? 'stdout' : 'stderr');
    const b = this.ml ? this.ml[i].pendingStart : -1;
    if (a < 0) return b;
    if (b < 0) return a;
    return Math.min(a, b);
  }

  /** Emit joins idle for their timeout (partial lines: `partialTimeout`; multiline: its own). */
  flushIdle(now: number, partialTimeout: number): void {
    if (this.merger.held) this.merger.flushIdle(now, partialTimeout);
    if (this.ml) for (const l of this.ml) l.flushIfIdle(now);
  }

  /** End of the file: emit everything held. */
  flushAll(): void {
    this.merger.flushAll();
    if (this.ml) for (const l of this.ml) l.flush();
  }

  /** Forget everything held without emitting it (the file's records are excluded). */
  clear(): void {
    this.merger.clear();
    if (this.ml) for (const l of this.ml) l.reset();
  }

  /**
   * Set `pos` to the position that may be committed once the records built so far are
   * acknowledged: `raw` (what the file input read up to), held back to the first byte of the
   * oldest line still held, with `k` naming what was delivered beyond that. The tail hash that
   * verifies a held-back position is recomputed from the file (when the path still names this
   * inode), else left out (the fingerprint still verifies it).
   */
  hold(pos: KubePosition, raw: FilePosition): void {
    const end = raw.o;
    pos.o = end;
    pos.th = raw.th;
    pos.tl = raw.tl;
    delete pos.k;
    let sk = this.skip;
    if (sk && end >= sk[STDOUT] && end >= sk[STDERR] && end >= sk[PLAIN]) sk = undefined;
    const a = this.heldOf(STDOUT);
    const b = this.heldOf(STDERR);
    const k: [number, number, number] = [
      a >= 0 ? a : Math.max(end, sk?.[STDOUT] ?? 0),
      b >= 0 ? b : Math.max(end, sk?.[STDERR] ?? 0),
      Math.max(end, sk?.[PLAIN] ?? 0),
    ];
    const held = Math.min(k[STDOUT], k[STDERR], end);
    if (k[STDOUT] > held || k[STDERR] > held || k[PLAIN] > held) pos.k = k;
    if (held >= end) return;
    pos.o = held;
    if (this.tailAt !== held) {
      this.tailAt = held;
      this.tailTl = 0;
      this.tailTh = '';
      const tl = Math.min(TAIL_BYTES, held);
      let fd: number | undefined;
      try {
        fd = fs.openSync(pos.p, 'r');
        const st = fs.fstatSync(fd);
        if (`${st.dev}:${st.ino}` === keyDevIno(this.key) && st.size >= held) {
          this.tailTh = hashBytes(readAt(fd, held - tl, tl));
          this.tailTl = tl;
        }
      } catch {
        // Gone or replaced: verified by the fingerprint alone.
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    }
    pos.th = this.tailTh;
    pos.tl = this.tailTl;
  }

  take(): { records: LogRecord[]; bytes: number } {
    const r = { records: this.out, bytes: this.outBytes };
    this.out = [];
    this.outBytes = 0;
    return r;
  }
}
