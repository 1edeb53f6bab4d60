// What the `loki` encoder produces: pushes (one per tenant) of streams of entries, and what
// preparing a chunk found. Read by the wire writer (wire.ts), the bodies (body.ts), the sealer
// (seal.ts) and the 400 attribution (rejections.ts).

import type { LabelPair } from './logproto.js';

/**
 * One log entry of a push. The time is two plain fields (no timestamp object per entry), and a
 * line cut out of the record's JSON text is kept as that text plus the ranges cut out of it: the
 * wire writer copies the text and closes the gaps in its buffer, so no line string is built.
 */
export class Entry {
  constructor(
    /** Seconds since the epoch. */
    public seconds: number,
    /** Nanoseconds within the second. */
    public nanos: number,
    /** The line, or (cutFrom >= 0) the text it is cut from. */
    public src: string,
    /** Index of the record in the chunk. */
    public index: number,
    public structuredMetadata: LabelPair[] | undefined = undefined,
    /** First range [cutFrom, cutTo) cut out of src; -1: src is the line. */
    public cutFrom = -1,
    public cutTo = -1,
    /** Further ranges cut out of src, as [from, to) pairs. */
    public cuts: number[] | undefined = undefined,
    /**
     * Text appended after the cut src (cutFrom >= 0): the input metadata members (`file`) of a
     * record whose raw JSON does not hold them, with the closing brace (cut out of src).
     */
    public suffix: string | undefined = undefined,
    /** UTF-8 bytes of src when known (cut path), else -1. */
    public srcBytes = -1,
  ) {}

  /** The line text (built on demand for a cut line). */
  get line(): string {
    const src = this.src;
    if (this.cutFrom < 0) return src;
    let s = src.slice(0, this.cutFrom);
    let from = this.cutTo;
    const more = this.cuts;
    if (more !== undefined) {
      for (let k = 0; k < more.length; k += 2) {
        s += src.slice(from, more[k]);
        from = more[k + 1];
      }
    }
    s += src.slice(from);
    return this.suffix === undefined ? s : s + this.suffix;
  }

  /** The time as logproto's Timestamp shape. */
  get timestamp(): { seconds: number; nanos: number } {
    return { seconds: this.seconds, nanos: this.nanos };
  }
}

export interface Stream {
  labels: string;
  pairs: Array<[string, string]>;
  entries: Entry[];
}

export interface Push {
  /** X-Scope-OrgID; undefined or '' = none. */
  tenant: string | undefined;
  streams: Stream[];
  /** Entries in this push. */
  count: number;
  /** Approximate bytes of log lines. */
  bytes: number;
}

export interface Prepared {
  pushes: Push[];
  /** Records refused before sending (too old, over max_streams). */
  rejected: Array<{ index: number; reason: string }>;
  /** Lines cut at max_line_bytes in this chunk. */
  truncated: number;
  /** Labels dropped beyond 15 per stream in this chunk. */
  labelsDropped: number;
  /** Unparseable time_field values (record time used). */
  badTimes: number;
  /** Set when max_streams refused records: the label with the most distinct values. */
  explodingLabel?: { name: string; values: number };
}
