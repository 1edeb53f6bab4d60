// One tailed file: its descriptor, read position, line splitting, the records of the batch being
// built and the checkpoint source of its current identity. I/O decisions (when to read, rotate,
// close) are made by the input (input.ts); this class turns bytes into batches and positions.

import * as fs from 'node:fs';
import type { SourceTracker } from '../../../core/acks.js';
import type { LogRecord } from '../../../core/record.js';
import { hashBytes, readAt, TAIL_BYTES, type FilePosition } from './identity.js';
import { MultilineJoiner, type MultilineOptions } from '../../_shared/multiline/index.js';
import { LineSplitter, type LineSink } from '../../../core/lines.js';

export interface TailerOptions {
  maxLineBytes: number;
  encoding: BufferEncoding;
  fingerprintBytes: number;
  multiline: MultilineOptions | undefined;
}

export class TailedFile implements LineSink {
  readonly devino: string;
  /** Checkpoint key of the current identity; assigned once the file has bytes to hash. */
  key: string | undefined;
  tracker: SourceTracker | undefined;
  readonly splitter: LineSplitter;
  readonly joiner: MultilineJoiner | undefined;
  /** Fingerprint over the first `fl` bytes (grows up to fingerprint_bytes). */
  fp = '';
  fl = 0;
  private th = '';
  private tl = 0;
  /** Offset of the last position handed to the tracker (-1: none yet). */
  lastPos = -1;
  /** Last known size on disk. */
  size = 0;
  /** Last time bytes were read (or the file was opened), ms. */
  lastGrowth: number;
  /** Not at a matched path any more (renamed away or deleted): drain, then close. */
  detached = false;
  detachedAt = 0;
  /**
   * A copy of another open file (copytruncate's `cp`): not read while the original is, so its
   * lines are not read twice; it takes over from the original's position when that one is
   * truncated or finished.
   */
  shadowOf: TailedFile | undefined;
  /**
   * Since when (ms) a new file shorter than fingerprint_bytes has been held unread because its
   * bytes so far are the start of a live file in its directory: a copy `cp` is still writing
   * (copytruncate). 0: not held. See FileCopies.mayBeCopy (copies.ts).
   */
  pendingCopy = 0;
  /** Known to have new bytes (watch event, or the last read was not at EOF). */
  dirty = true;
  nextCheck = 0;
  /** A watch event does not make the input read this file before then, ms (input.ts). */
  readAfter = 0;
  /** A watch event arrived since the file was last read or looked at (input.ts recheck). */
  touched = false;
  records: LogRecord[] = [];
  batchBytes = 0;
  /** When this file got its descriptor (max_open_files: the longest held slot is given up first). */
  readonly slotSince = Date.now();
  /** Birth time (statx btime, ms; 0 = unknown), saved in positions (`b`). */
  birth = 0;
  /**
   * The key is in the checkpoint file on disk (restored from it, or written since it was drawn):
   * records of this incarnation may be sent. Until then the input flushes the store first, so a
   * re-read after a kill reuses the key's nonce and the ids derived from it.
   */
  persisted = false;
  /**
   * The up to TAIL_BYTES bytes before readPos as they were read: after a pause, the file must
   * still hold them there, else it was truncated and written past our position meanwhile.
   */
  private before: Buffer = Buffer.alloc(0);
  private keyPrefix = '';
  private readTime = 0;
  /** Sub-millisecond sequence within readTime: lines read in one millisecond keep their order. */
  private readNs = 0;
  private fileField: { path: string };

  constructor(
    public fd: number | undefined,
    readonly dev: number,
    readonly ino: number,
    public path: string,
    offset: number,
    private readonly opts: TailerOptions,
  ) {
    this.devino = `${dev}:${ino}`;
    this.splitter = new LineSplitter(opts.maxLineBytes, {
      encoding: opts.encoding,
      offset,
      dropBlank: true,
    });
    this.joiner = opts.multiline ? new MultilineJoiner(opts.multiline, this) : undefined;
    this.lastGrowth = Date.now();
    this.fileField = { path };
  }

  get readPos(): number {
    return this.splitter.nextOffset;
  }

  /** The sink the splitter writes to. */
  get sink(): LineSink {
    return this.joiner ?? this;
  }

  setKey(key: string, tracker: SourceTracker, persisted = false): void {
    this.key = key;
    this.tracker = tracker;
    this.keyPrefix = key + ':';
    this.persisted = persisted;
  }

  /** Remember the bytes before the new read position (`chunk` was read at `base`). */
  noteRead(chunk: Buffer, base: number): void {
    const end = base + chunk.length;
    if (chunk.length >= TAIL_BYTES) {
      this.before = Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES));
    } else if (this.before.length > 0 && base > 0) {
      const keep = Math.min(this.before.length, TAIL_BYTES - chunk.length);
      this.before = Buffer.concat([this.before.subarray(this.before.length - keep), chunk]);
    } else {
      this.before = Buffer.from(chunk);
    }
    if (this.before.length > end) this.before = this.before.subarray(this.before.length - end);
  }

  /**
   * The bytes before readPos are not the ones read there: the file was rewritten (truncated and
   * written past our position) while we paused. Unknown (nothing remembered): false.
   */
  beforeChanged(): boolean {
    const n = this.before.length;
    if (this.fd === undefined || n === 0 || this.readPos < n) return false;
    return !readAt(this.fd, this.readPos - n, n).equals(this.before);
  }

  /**
   * A rewrite of this file past readPos can be told (beforeChanged) and its copy found (by the
   * fingerprint and the bytes before readPos): bytes of it were read since it was opened or
   * truncated. Until then a truncation that leaves the file no shorter than readPos (0) is
   * invisible, and what was written before it unrecoverable.
   */
  rewriteDetectable(): boolean {
    return this.before.length > 0 && this.fl > 0;
  }

  /** Restore verification data from a saved position. */
  restore(pos: FilePosition): void {
    this.fp = pos.fp;
    this.fl = pos.fl;
    this.th = pos.th;
    this.tl = pos.tl;
    this.lastPos = pos.o;
  }

  setPath(p: string): void {
    if (p === this.path) return;
    this.path = p;
  }

  /** Called before splitting a chunk: the read time stamped on its records. */
  beginChunk(now: number): void {
    if (now !== this.readTime) {
      this.readTime = now;
      this.readNs = 0;
    }
    if (this.fileField.path !== this.path) this.fileField = { path: this.path };
  }

  line(text: string, start: number, _end: number, truncated: boolean): void {
    // Each record gets its own `file` object: filters may mutate fields in place.
    const file = { path: this.fileField.path };
    this.records.push({
      fields: truncated ? { message: text, file, truncated: true } : { message: text, file },
      timeMs: this.readTime,
      // Distinct per line (Loki names a rejected entry by its timestamp; ties are ambiguous).
      timeNs: this.readNs < 999_999 ? this.readNs++ : 999_999,
      sourceId: this.keyPrefix + start,
    });
    this.batchBytes += text.length * 2 + 160;
  }

  /** Offset up to which everything was emitted: the checkpoint candidate. */
  safeOffset(): number {
    const held = this.joiner?.pendingStart ?? -1;
    return held >= 0 ? held : this.splitter.safeOffset;
  }

  /**
   * Recompute the fingerprint while it covers fewer than fingerprint_bytes: over the bytes read so
   * far, including `chunk` (just read at `chunkBase`), so the positions of the lines in the first
   * chunk of a file that was empty when it was identified already name its content. True when
   * it grew.
   */
  updateFingerprint(chunk?: Buffer, chunkBase = 0): boolean {
    if (this.fl >= this.opts.fingerprintBytes || this.fd === undefined) return false;
    const end = chunk ? Math.max(this.readPos, chunkBase + chunk.length) : this.readPos;
    const want = Math.min(this.opts.fingerprintBytes, end);
    if (want <= this.fl) return false;
    const head =
      chunk && chunkBase === 0 && chunk.length >= want
        ? chunk.subarray(0, want)
        : readAt(this.fd, 0, want);
    if (head.length <= this.fl) return false;
    this.fp = hashBytes(head);
    this.fl = head.length;
    return true;
  }

  /**
   * The first `fl` bytes no longer hash to the fingerprint: the file was rewritten (truncated and
   * written again) since its identity was taken.
   */
  headChanged(): boolean {
    if (this.fd === undefined || this.fl === 0) return false;
    return hashBytes(readAt(this.fd, 0, this.fl)) !== this.fp;
  }

  /**
   * The last position handed to the tracker, with the fingerprint as it is now: tracked again
   * after the fingerprint grew, so the saved entry names the file's content before anything new
   * is acknowledged. Undefined before the first one.
   */
  lastPosition(): FilePosition | undefined {
    if (this.lastPos < 0) return undefined;
    return this.withBirth({
      o: this.lastPos,
      fp: this.fp,
      fl: this.fl,
      th: this.th,
      tl: this.tl,
      p: this.path,
    });
  }

  private withBirth(pos: FilePosition): FilePosition {
    if (this.birth > 0) pos.b = this.birth;
    return pos;
  }

  /**
   * The position to track for the batch being emitted, or undefined when nothing changed.
   * `chunk` (at file offset `chunkBase`) saves a read for the tail hash.
   */
  position(chunk?: Buffer, chunkBase = 0): FilePosition | undefined {
    const o = this.safeOffset();
    if (o === this.lastPos && this.records.length === 0) return undefined;
    if (o !== this.lastPos) {
      const tl = Math.min(TAIL_BYTES, o);
      if (chunk && o - tl >= chunkBase && o <= chunkBase + chunk.length) {
        this.th = hashBytes(chunk, o - tl - chunkBase, o - chunkBase);
      } else if (this.fd !== undefined) {
        const b = readAt(this.fd, o - tl, tl);
        this.th = hashBytes(b);
      } else {
        // No descriptor (a .gz) and the bytes not in the window: the position names the head only.
        this.th = '';
        this.tl = 0;
        this.lastPos = o;
        return this.withBirth({ o, fp: this.fp, fl: this.fl, th: '', tl: 0, p: this.path });
      }
      this.tl = tl;
      this.lastPos = o;
    }
    return this.withBirth({ o, fp: this.fp, fl: this.fl, th: this.th, tl: this.tl, p: this.path });
  }

  /** The position at the current safe offset, computed unconditionally (for copy detection). */
  currentPosition(): FilePosition {
    const o = this.safeOffset();
    if (o !== this.lastPos && this.fd !== undefined) {
      const tl = Math.min(TAIL_BYTES, o);
      return this.withBirth({
        o,
        fp: this.fp,
        fl: this.fl,
        th: hashBytes(readAt(this.fd, o - tl, tl)),
        tl,
        p: this.path,
      });
    }
    return this.withBirth({ o, fp: this.fp, fl: this.fl, th: this.th, tl: this.tl, p: this.path });
  }

  takeRecords(): { records: LogRecord[]; bytes: number } {
    const out = { records: this.records, bytes: this.batchBytes };
    this.records = [];
    this.batchBytes = 0;
    return out;
  }

  /** Start over at offset 0 with a new identity (copytruncate). */
  resetForTruncation(): void {
    this.splitter.reset(0);
    this.joiner?.reset();
    this.key = undefined;
    this.tracker = undefined;
    this.keyPrefix = '';
    this.persisted = false;
    this.before = Buffer.alloc(0);
    this.fp = '';
    this.fl = 0;
    this.lastPos = -1;
    this.records = [];
    this.batchBytes = 0;
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.close(fd, () => undefined);
  }
}
