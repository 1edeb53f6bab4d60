// The hot-path writer of logproto.PushRequest bytes. The wire format is defined (and tested) by
// the protobufjs definition in logproto.ts; this writes the same bytes directly, because the
// generic protobufjs Writer allocates an operation object per field and a fork state per nested
// message (6+ objects per log line), and at ~100k lines/s that garbage outlived young-generation
// collections and was most of the RSS. Here: one size pass (byte lengths kept in a reused typed
// array), then one write pass into a reused buffer. wire.test.ts asserts byte equality with
// protobufjs on varied inputs (empty strings, zero/negative times, metadata, non-ASCII).
//
// protobufjs (proto3) omits scalar fields holding their default ('' / 0) and always writes a
// present message (the timestamp); this writer does the same.

export interface WireLabelPair {
  name: string;
  value: string;
}

/** An entry as the writer reads it: flat timestamp fields (no per-entry timestamp object). */
export interface WireEntry {
  seconds: number;
  nanos: number;
  line: string;
  structuredMetadata?: WireLabelPair[];
  /**
   * When >= 0, the line is `src` without [cutFrom, cutTo) and the [from, to) pairs in `cuts`
   * (sorted, not overlapping): an ASCII `src` is copied whole and the gaps closed in the buffer.
   */
  cutFrom?: number;
  cutTo?: number;
  cuts?: number[];
  src?: string;
  /** Written after the cut src (cut path only). */
  suffix?: string;
  /** UTF-8 bytes of src when the producer knows them (saves a length pass), else -1/undefined. */
  srcBytes?: number;
}

export interface WireStream {
  labels: string;
  entries: WireEntry[];
}

let scratch = Buffer.allocUnsafeSlow(1 << 20);
/** Byte lengths from the size pass, in visiting order, read back by the write pass. */
let lens = new Int32Array(1 << 14);
let nl = 0;
/** Most bytes a cut line writes beyond its final length before its gaps are closed. */
let slack = 0;

function keep(v: number): void {
  if (nl === lens.length) {
    const next = new Int32Array(lens.length * 2);
    next.set(lens);
    lens = next;
  }
  lens[nl++] = v;
}

/** Bytes of an unsigned 32-bit varint. */
function vlen(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

// protobufjs LongBits.fromNumber: the two 32-bit halves of an int64 given as a JS number.
let lo = 0;
let hi = 0;
function split64(value: number): void {
  if (value === 0) {
    lo = hi = 0;
    return;
  }
  const sign = value < 0;
  if (sign) value = -value;
  lo = value >>> 0;
  hi = ((value - lo) / 4294967296) >>> 0;
  if (sign) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 4294967295) {
      lo = 0;
      if (++hi > 4294967295) hi = 0;
    }
  }
}

function v64len(value: number): number {
  if (value >>> 0 === value) return vlen(value);
  split64(value);
  let l = lo;
  let h = hi;
  let n = 1;
  while (h) {
    n++;
    l = ((l >>> 7) | (h << 25)) >>> 0;
    h >>>= 7;
  }
  while (l > 127) {
    n++;
    l >>>= 7;
  }
  return n;
}

let pos = 0;

/** The UTF-8 bytes of the last cut-line suffix: consecutive entries share one (same file). */
let lastSuffix = '';
let lastSuffixBytes = Buffer.alloc(0);
function suffixBytes(s: string): Buffer {
  if (s !== lastSuffix) {
    lastSuffixBytes = Buffer.from(s, 'utf8');
    lastSuffix = s;
  }
  return lastSuffixBytes;
}

function putVarint(v: number): void {
  const b = scratch;
  while (v > 127) {
    b[pos++] = (v & 127) | 128;
    v >>>= 7;
  }
  b[pos++] = v;
}

function putVarint64(value: number): void {
  if (value >>> 0 === value) {
    putVarint(value);
    return;
  }
  split64(value);
  const b = scratch;
  let l = lo;
  let h = hi;
  while (h) {
    b[pos++] = (l & 127) | 128;
    l = ((l >>> 7) | (h << 25)) >>> 0;
    h >>>= 7;
  }
  while (l > 127) {
    b[pos++] = (l & 127) | 128;
    l >>>= 7;
  }
  b[pos++] = l;
}

/** protobufjs int32: negative values as 10-byte int64, others as uint32 (`>>> 0`). */
function int32len(v: number): number {
  return v < 0 ? 10 : vlen(v >>> 0);
}

function putInt32(v: number): void {
  if (v < 0) putVarint64(v);
  else putVarint(v >>> 0);
}

/** Size of a length-delimited string field (tag + length + bytes), or 0 when '' (omitted). */
function strField(s: string): number {
  if (s.length === 0) return 0;
  const n = Buffer.byteLength(s, 'utf8');
  keep(n);
  return 1 + vlen(n) + n;
}

function putStr(tag: number, s: string, i: number): number {
  if (s.length === 0) return i;
  const n = lens[i];
  scratch[pos++] = tag;
  putVarint(n);
  pos += scratch.write(s, pos, n, 'utf8');
  return i + 1;
}

function tsLen(e: WireEntry): number {
  return (
    (e.seconds !== 0 ? 1 + v64len(e.seconds) : 0) + (e.nanos !== 0 ? 1 + int32len(e.nanos) : 0)
  );
}

/**
 * Encode a PushRequest into a reused buffer and return a view of it. The view is valid only
 * until the next call: consume it synchronously (compress or copy).
 */
export function writePushRequest(streams: readonly WireStream[]): Buffer {
  nl = 0;
  slack = 0;
  // Size pass. Per stream: [streamLen, labels?]; per entry: [entryLen, line?, (pairLen, name?, value?)*].
  let total = 0;
  for (let s = 0; s < streams.length; s++) {
    const st = streams[s];
    const at = nl;
    keep(0);
    let sl = strField(st.labels);
    const entries = st.entries;
    for (let j = 0; j < entries.length; j++) {
      const e = entries[j];
      const eat = nl;
      keep(0);
      const t = tsLen(e);
      let el = 1 + vlen(t) + t;
      const cf = e.cutFrom;
      let ascii = -1;
      if (cf !== undefined && cf >= 0) {
        const src = e.src!;
        const sb = e.srcBytes;
        if ((sb !== undefined && sb >= 0 ? sb : Buffer.byteLength(src, 'utf8')) === src.length)
          ascii = src.length;
      }
      if (ascii > 0) {
        let removed = e.cutTo! - cf!;
        const more = e.cuts;
        if (more !== undefined)
          for (let k = 0; k < more.length; k += 2) removed += more[k + 1] - more[k];
        const sfx = e.suffix;
        const n = ascii - removed + (sfx === undefined ? 0 : suffixBytes(sfx).length);
        keep(~n); // negative: the cut path
        if (removed > slack) slack = removed;
        el += 1 + vlen(n) + n;
      } else el += strField(e.line);
      const meta = e.structuredMetadata;
      if (meta !== undefined) {
        for (let k = 0; k < meta.length; k++) {
          const pat = nl;
          keep(0);
          const pl = strField(meta[k].name) + strField(meta[k].value);
          lens[pat] = pl;
          el += 1 + vlen(pl) + pl;
        }
      }
      lens[eat] = el;
      sl += 1 + vlen(el) + el;
    }
    lens[at] = sl;
    total += 1 + vlen(sl) + sl;
  }
  if (scratch.length < total + slack)
    scratch = Buffer.allocUnsafeSlow(Math.max(total + slack, scratch.length * 2));
  // Write pass.
  pos = 0;
  const b = scratch;
  let i = 0;
  for (let s = 0; s < streams.length; s++) {
    const st = streams[s];
    b[pos++] = 0x0a; // PushRequest.streams (1, LEN)
    putVarint(lens[i++]);
    i = putStr(0x0a, st.labels, i); // StreamAdapter.labels (1, LEN)
    const entries = st.entries;
    for (let j = 0; j < entries.length; j++) {
      const e = entries[j];
      b[pos++] = 0x12; // StreamAdapter.entries (2, LEN)
      putVarint(lens[i++]);
      b[pos++] = 0x0a; // EntryAdapter.timestamp (1, LEN)
      putVarint(tsLen(e));
      if (e.seconds !== 0) {
        b[pos++] = 0x08; // Timestamp.seconds (1, VARINT)
        putVarint64(e.seconds);
      }
      if (e.nanos !== 0) {
        b[pos++] = 0x10; // Timestamp.nanos (2, VARINT)
        putInt32(e.nanos);
      }
      const cf = e.cutFrom;
      if (cf !== undefined && cf >= 0 && lens[i] < 0) {
        const n = ~lens[i++];
        b[pos++] = 0x12; // EntryAdapter.line (2, LEN)
        putVarint(n);
        const src = e.src!;
        const start = pos;
        const full = src.length;
        b.write(src, start, full, 'latin1'); // ASCII: the same bytes as UTF-8
        let dst = start + cf;
        let from = e.cutTo!;
        const more = e.cuts;
        if (more !== undefined) {
          for (let k = 0; k < more.length; k += 2) {
            b.copyWithin(dst, start + from, start + more[k]);
            dst += more[k] - from;
            from = more[k + 1];
          }
        }
        b.copyWithin(dst, start + from, start + full);
        pos = dst + full - from;
        const sfx = e.suffix;
        if (sfx !== undefined) {
          const sbuf = suffixBytes(sfx);
          b.set(sbuf, pos);
          pos += sbuf.length;
        }
        if (pos !== start + n) throw new Error('loki wire encoder: cut line length mismatch');
      } else i = putStr(0x12, e.line, i); // EntryAdapter.line (2, LEN)
      const meta = e.structuredMetadata;
      if (meta !== undefined) {
        for (let k = 0; k < meta.length; k++) {
          b[pos++] = 0x1a; // EntryAdapter.structuredMetadata (3, LEN)
          putVarint(lens[i++]);
          i = putStr(0x0a, meta[k].name, i); // LabelPairAdapter.name (1, LEN)
          i = putStr(0x12, meta[k].value, i); // LabelPairAdapter.value (2, LEN)
        }
      }
    }
  }
  if (pos !== total) throw new Error(`loki wire encoder: wrote ${pos} bytes, sized ${total}`);
  return scratch.subarray(0, total);
}

// ---------------------------------------------------------------------------------------------
// Merging encoded pieces (a chunk is encoded in pieces as it fills, then merged once)

function readVarint(b: Uint8Array, at: { p: number }): number {
  let v = 0;
  let shift = 0;
  for (;;) {
    const c = b[at.p++];
    if (c === undefined) throw new Error('loki wire: truncated varint');
    v += (c & 127) * 2 ** shift;
    if (c < 128) return v;
    shift += 7;
  }
}

/** Where each StreamAdapter's entries lie in PushRequest bytes written by writePushRequest. */
export function streamEntryRanges(buf: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const at = { p: 0 };
  while (at.p < buf.length) {
    if (buf[at.p++] !== 0x0a) throw new Error('loki wire: expected PushRequest.streams');
    const len = readVarint(buf, at);
    const end = at.p + len;
    if (buf[at.p] === 0x0a) {
      at.p++;
      const labelsLen = readVarint(buf, at); // skip StreamAdapter.labels
      at.p += labelsLen;
    }
    out.push([at.p, end]);
    at.p = end;
  }
  return out;
}

/** Skip one field of wire type `wt` at `at.p` (protobuf encoding). */
function skipField(b: Uint8Array, wt: number, at: { p: number }): void {
  if (wt === 0) readVarint(b, at);
  else if (wt === 1) at.p += 8;
  else if (wt === 2) {
    const len = readVarint(b, at); // not `at.p += readVarint(...)`: that reads at.p first
    at.p += len;
  } else if (wt === 5) at.p += 4;
  else throw new Error(`loki wire: unsupported wire type ${wt}`);
  if (at.p > b.length) throw new Error('loki wire: truncated field');
}

const utf8 = new TextDecoder();

/**
 * The lines of every entry, per stream, of a PushRequest (any valid encoding: fields in any
 * order, unknown fields skipped). What a sealed push needs to rebuild its records; the rest of
 * an entry is kept beside the body.
 */
export function readStreamLines(buf: Uint8Array): string[][] {
  const streams: string[][] = [];
  const at = { p: 0 };
  const fields = (end: number, onField: (field: number, wt: number) => boolean): void => {
    while (at.p < end) {
      const key = readVarint(buf, at);
      const field = Math.floor(key / 8);
      const wt = key & 7;
      if (!onField(field, wt)) skipField(buf, wt, at);
    }
    if (at.p !== end) throw new Error('loki wire: field overruns its message');
  };
  const sub = (): number => {
    const len = readVarint(buf, at);
    const end = at.p + len;
    if (end > buf.length) throw new Error('loki wire: truncated message');
    return end;
  };
  fields(buf.length, (f, wt) => {
    if (f !== 1 || wt !== 2) return false;
    const lines: string[] = [];
    fields(sub(), (sf, swt) => {
      if (sf !== 2 || swt !== 2) return false;
      let line = '';
      fields(sub(), (ef, ewt) => {
        if (ef !== 2 || ewt !== 2) return false;
        const end = sub();
        line = utf8.decode(buf.subarray(at.p, end));
        at.p = end;
        return true;
      });
      lines.push(line);
      return true;
    });
    streams.push(lines);
    return true;
  });
  return streams;
}

/** A stream of the merged push: its labels and its encoded entries, as [start, end) pairs in `from`. */
export interface MergeStream {
  labels: string;
  ranges: number[];
}

/**
 * One PushRequest with each stream once: the labels field, then the entries of every piece in
 * order (copied from `from`, not re-encoded). Bytes equal writePushRequest of the merged streams.
 * Returns a view of the same reused buffer as writePushRequest, valid until the next call of
 * either: compress it at once.
 */
export function writeMergedStreams(from: Uint8Array, streams: readonly MergeStream[]): Buffer {
  nl = 0;
  let total = 0;
  for (const s of streams) {
    const at = nl;
    keep(0);
    let n = strField(s.labels);
    const r = s.ranges;
    for (let k = 0; k < r.length; k += 2) n += r[k + 1] - r[k];
    lens[at] = n;
    total += 1 + vlen(n) + n;
  }
  if (scratch.length < total) scratch = Buffer.allocUnsafeSlow(Math.max(total, scratch.length * 2));
  pos = 0;
  const b = scratch;
  let i = 0;
  for (const s of streams) {
    b[pos++] = 0x0a; // PushRequest.streams (1, LEN)
    putVarint(lens[i++]);
    i = putStr(0x0a, s.labels, i); // StreamAdapter.labels (1, LEN)
    const r = s.ranges;
    for (let k = 0; k < r.length; k += 2) {
      b.set(from.subarray(r[k], r[k + 1]), pos);
      pos += r[k + 1] - r[k];
    }
  }
  if (pos !== total) throw new Error(`loki wire: merged ${pos} bytes, sized ${total}`);
  return b.subarray(0, total);
}
