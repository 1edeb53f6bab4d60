// The `multiline` filter's state: one open record per stream (file + stream for kubernetes, unit
// for journald, file path for file, the tag otherwise), the records and checkpoint tokens of its
// pieces. Ordinary lines (no parser can start a record with them) pass through in place without
// their stream key being computed while no record is open anywhere.

import type { AckToken } from '../../../core/acks.js';
import type { HoldContext } from '../../../core/component.js';
import { touch, type Fields, type LogRecord } from '../../../core/record.js';
import {
  HOLD,
  JOIN,
  MultilineRules,
  type CompiledMultiline,
  type Group,
} from '../../_shared/multiline/index.js';

/** The stream a record belongs to: records of one stream join, never across streams. */
export function streamKey(f: Fields, tag: string): string {
  const k = f.kubernetes;
  if (k !== null && typeof k === 'object') {
    const m = k as Fields;
    const pod = m.pod_id ?? `${String(m.namespace_name)}/${String(m.pod_name)}`;
    return `k\u0000${String(pod)}\u0000${String(m.container_name)}\u0000${String(m.restart_count)}\u0000${String(f.stream)}`;
  }
  if (typeof f.unit === 'string') return 'u\u0000' + f.unit;
  if (typeof f.syslog_identifier === 'string') return 'i\u0000' + f.syslog_identifier;
  const file = f.file;
  if (file !== null && typeof file === 'object') {
    const p = (file as Fields).path;
    if (typeof p === 'string') return 'f\u0000' + p;
  }
  return 't\u0000' + tag;
}

class Held {
  readonly g: Group;
  first: LogRecord | undefined;
  truncated = false;
  tokens: AckToken[] = [];
  lastToken: AckToken | undefined;

  constructor(
    g: Group,
    readonly key: string,
    readonly tag: string,
  ) {
    this.g = g;
  }
}

export interface JoinStats {
  /** Records that left as (part of) a joined record, and joined records emitted. */
  pieces: number;
  joined: number;
}

export class StreamJoiner {
  private readonly rules: MultilineRules;
  private readonly held = new Map<string, Held>();
  /** Scratch group for lines of streams without an open record. */
  private readonly idle: Group;
  readonly stats: JoinStats = { pieces: 0, joined: 0 };

  constructor(
    readonly c: CompiledMultiline,
    private readonly maxStreams: number,
    /** Emit records released outside `process` (eviction of another tag's record). */
    private readonly release: (tag: string, records: LogRecord[], carried: AckToken[]) => void,
  ) {
    this.rules = new MultilineRules(c);
    this.idle = this.rules.newGroup();
  }

  /** Streams with an open record. */
  get size(): number {
    return this.held.size;
  }

  process(records: LogRecord[], tag: string, hold: HoldContext | undefined): LogRecord[] {
    const rules = this.rules;
    const now = Date.now();
    let out: LogRecord[] | undefined;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i];
      const msg = rec.fields.message;
      let h: Held | undefined;
      let key: string | undefined;
      let kind: number;
      if (this.held.size === 0) {
        if (typeof msg !== 'string') {
          out?.push(rec);
          continue;
        }
        kind = rules.classify(this.idle, msg);
        if (kind !== HOLD) {
          out?.push(rec);
          continue;
        }
      } else {
        key = streamKey(rec.fields, tag);
        h = this.held.get(key);
        if (typeof msg !== 'string') {
          if (h) out = this.emit(h, out ?? records.slice(0, i), hold, false);
          out?.push(rec);
          continue;
        }
        kind = rules.classify(h ? h.g : this.idle, msg);
        if (kind === JOIN && h) {
          out ??= records.slice(0, i);
          this.addPiece(h, rec, msg, now, hold, out);
          continue;
        }
        if (h) {
          out = this.emit(h, out ?? records.slice(0, i), hold, false);
          h = undefined;
        }
        if (kind !== HOLD) {
          out?.push(rec);
          continue;
        }
      }
      // HOLD: a new record opens with this line.
      out ??= records.slice(0, i);
      key ??= streamKey(rec.fields, tag);
      if (this.held.size >= this.maxStreams) this.evictOldest(tag, out, hold);
      h = new Held(rules.newGroup(), key, tag);
      this.held.set(key, h);
      rules.begin(h.g);
      h.first = rec;
      this.addPiece(h, rec, msg, now, hold, out);
    }
    return out ?? records;
  }

  private addPiece(
    h: Held,
    rec: LogRecord,
    msg: string,
    now: number,
    hold: HoldContext | undefined,
    out: LogRecord[],
  ): void {
    h.first ??= rec;
    if (rec.fields.truncated === true) h.truncated = true;
    const t = hold?.token;
    if (t !== undefined && t !== h.lastToken) {
      // The record goes on in a later batch: the earlier batch's end (and any batch end of the
      // same source in between) is inside it. Committed there, a restart would read this
      // record's remaining lines again as records of their own, after the whole record was
      // delivered.
      h.lastToken?.spansTo(t);
      t.retain();
      h.tokens.push(t);
      h.lastToken = t;
    }
    this.stats.pieces++;
    if (this.rules.add(h.g, msg, now)) this.emit(h, out, hold, true);
  }

  /**
   * Append `h`'s record to `out` and hand its tokens to `hold` (or, without one, to the release
   * callback's list through `carried`). `cut`: max_lines/max_bytes, the record stays open.
   */
  private emit(
    h: Held,
    out: LogRecord[],
    hold: HoldContext | undefined,
    cut: boolean,
    carried?: AckToken[],
  ): LogRecord[] {
    const g = h.g;
    const rec = h.first;
    if (rec !== undefined && g.lines.length > 0) {
      const n = g.lines.length;
      if (n > 1 || g.cut || cut || h.truncated) {
        const fields = rec.fields;
        if (n > 1) fields.message = g.text();
        if (g.cut || cut || h.truncated) fields.truncated = true;
        touch(rec);
      }
      if (n > 1) this.stats.joined++;
      out.push(rec);
    }
    for (const t of h.tokens) {
      if (carried) carried.push(t);
      else if (hold) hold.carry(t);
      else t.release();
    }
    h.tokens = [];
    h.lastToken = undefined;
    h.first = undefined;
    h.truncated = false;
    g.clear(cut);
    if (!cut) this.held.delete(h.key);
    return out;
  }

  private evictOldest(tag: string, out: LogRecord[], hold: HoldContext | undefined): void {
    const first = this.held.values().next().value;
    if (!first) return;
    if (first.tag === tag) {
      this.emit(first, out, hold, false);
      return;
    }
    const carried: AckToken[] = [];
    const recs = this.emit(first, [], undefined, false, carried);
    this.release(first.tag, recs, carried);
  }

  /** Records idle for flush_timeout (all with `force`), grouped by tag, with their tokens. */
  flush(
    now: number,
    force: boolean,
  ): Array<{ tag: string; records: LogRecord[]; carried: AckToken[] }> {
    const byTag = new Map<string, { tag: string; records: LogRecord[]; carried: AckToken[] }>();
    const timeout = this.c.flushTimeout;
    for (const h of [...this.held.values()]) {
      if (!force && now - h.g.lastAt < timeout) continue;
      let b = byTag.get(h.tag);
      if (!b) {
        b = { tag: h.tag, records: [], carried: [] };
        byTag.set(h.tag, b);
      }
      this.emit(h, b.records, undefined, false, b.carried);
    }
    return [...byTag.values()].filter((b) => b.records.length > 0 || b.carried.length > 0);
  }
}
