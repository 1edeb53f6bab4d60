// The cardinality guard of the `loki` output: `max_streams` label sets seen in the last hour,
// and `stream_quota` (#17.7), each source's share of them. A record of a new stream beyond
// either is refused before sending (dead-lettered), and the label with the most values is named.

import type { Template } from '../../../core/template.js';
import type { StreamDesc } from './labels.js';

/** Streams not seen for this long no longer count against max_streams (Loki's idle period is similar). */
export const STREAM_IDLE_MS = 3_600_000;

export class StreamGuard {
  /** Active streams (label text → last seen, ms) for max_streams. */
  private readonly active = new Map<
    string,
    { seen: number; pairs: Array<[string, string]>; source?: string }
  >();
  /** Active streams per source (stream_quota). */
  private readonly perSource = new Map<string, number>();
  private lastSweep = 0;

  constructor(
    readonly maxStreams: number,
    readonly quota: { by: Template; max: number } | undefined,
  ) {}

  /** A known stream seen again (true), or a new one (false: admit it). */
  seen(desc: StreamDesc, now: number): boolean {
    const act = this.active.get(desc.text);
    if (act === undefined) return false;
    act.seen = now;
    return true;
  }

  /** Admit a new stream; undefined when admitted, else which limit refused it. */
  admit(desc: StreamDesc, now: number, source?: string): 'max' | 'quota' | undefined {
    const q = this.quota;
    const full = (): boolean =>
      this.active.size >= this.maxStreams ||
      (q !== undefined && (this.perSource.get(source!) ?? 0) >= q.max);
    if (full() && now - this.lastSweep > 60_000) {
      this.lastSweep = now;
      for (const [k, v] of this.active) {
        if (now - v.seen <= STREAM_IDLE_MS) continue;
        this.active.delete(k);
        if (v.source !== undefined) {
          const n = (this.perSource.get(v.source) ?? 1) - 1;
          if (n <= 0) this.perSource.delete(v.source);
          else this.perSource.set(v.source, n);
        }
      }
    }
    // One source's share first: it is what a single noisy producer exhausts.
    if (q !== undefined && (this.perSource.get(source!) ?? 0) >= q.max) return 'quota';
    if (this.active.size >= this.maxStreams) return 'max';
    this.active.set(desc.text, { seen: now, pairs: desc.pairs, source });
    if (source !== undefined) this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    return undefined;
  }

  /** The label with the most distinct values among the active streams: the one that explodes. */
  explodingLabel(): { name: string; values: number } | undefined {
    const distinct = new Map<string, Set<string>>();
    for (const { pairs } of this.active.values()) {
      for (const [n, v] of pairs) {
        let s = distinct.get(n);
        if (!s) distinct.set(n, (s = new Set()));
        s.add(v);
      }
    }
    let best: { name: string; values: number } | undefined;
    for (const [name, s] of distinct) {
      if (!best || s.size > best.values) best = { name, values: s.size };
    }
    return best;
  }
}
