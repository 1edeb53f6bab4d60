// The stream labels of the `loki` output: the configured `labels` (static values and {field}
// templates) plus the per-record labels of the `label` filter, made into Loki's canonical label
// set under Loki's rules (components/_shared/loki-labels). Most records cost a Map lookup: label
// sets are cached by their rendered values (a Map trie for records without per-record labels).

import { compileTemplate, type Template } from '../../../core/template.js';
import type { Fields, LogRecord } from '../../../core/record.js';
import { MAX_LABEL_VALUE, MAX_LABELS, sanitizeLabelName } from '../../_shared/loki-labels/index.js';

/** The stream of records without any label. */
const FALLBACK_LABELS: Array<[string, string]> = [['job', 'shiplog']];

/** Escape a label value for the selector text (Go-quoted string, as Prometheus labels.String()). */
export function quoteLabelValue(v: string): string {
  if (!/["\\\n\r\t]/.test(v)) return '"' + v + '"';
  return JSON.stringify(v);
}

/** `{a="x", b="y"}` from pairs sorted by name: the canonical form Loki itself prints. */
export function labelsText(pairs: ReadonlyArray<readonly [string, string]>): string {
  let s = '{';
  for (let i = 0; i < pairs.length; i++) {
    if (i > 0) s += ', ';
    s += pairs[i][0] + '=' + quoteLabelValue(pairs[i][1]);
  }
  return s + '}';
}

export interface StreamDesc {
  text: string;
  pairs: Array<[string, string]>;
  /** Labels dropped beyond MAX_LABELS. */
  dropped: number;
}

export interface LabelSpec {
  name: string;
  template: Template;
}

export class StreamLabels {
  /** The configured labels, names sanitised. */
  readonly specs: LabelSpec[];
  readonly constantPairs: Array<[string, string]>;
  /** The configured labels that are templates over record fields. */
  readonly dynamic: LabelSpec[];
  /** label key (values joined) → stream description, so most records cost a Map lookup. */
  private readonly descCache = new Map<string, StreamDesc>();
  /** Records without per-record labels: one Map level per dynamic label value, no key string. */
  private descTrie = new Map<string, unknown>();
  private trieSize = 0;

  /** Throws when a label name has no valid character or a template is malformed. */
  constructor(
    labels: Record<string, string>,
    /** The caches hold up to twice this many label sets (max_streams). */
    private readonly maxStreams: number,
  ) {
    const specs: LabelSpec[] = [];
    for (const [rawName, tpl] of Object.entries(labels)) {
      const name = sanitizeLabelName(rawName);
      if (name === undefined) throw new Error(`label name "${rawName}" has no valid character`);
      specs.push({ name, template: compileTemplate(tpl) });
    }
    this.specs = specs;
    this.constantPairs = specs
      .filter((s) => s.template.constant)
      .map((s) => [s.name, s.template.render({})] as [string, string]);
    this.dynamic = specs.filter((s) => !s.template.constant);
  }

  /**
   * The stream of a record: its labels rendered, sanitised, sorted, capped. `fields`: where the
   * templates read (the record's fields, or a view of the values they need).
   */
  describe(rec: LogRecord, fields: Fields = rec.fields): StreamDesc {
    const dyn = this.dynamic;
    const extra = rec.labels;
    if (dyn.length === 0 && extra === undefined) {
      let d = this.descCache.get('');
      if (!d) {
        d = buildDesc(this.constantPairs, undefined);
        this.descCache.set('', d);
      }
      return d;
    }
    if (extra === undefined) return this.describeTrie(fields);
    const values: string[] = new Array(dyn.length);
    let key = '';
    for (let i = 0; i < dyn.length; i++) {
      const v = dyn[i].template.render(fields);
      values[i] = v;
      key += v + '\u0001';
    }
    if (extra !== undefined) {
      key += '\u0002';
      for (const k in extra) key += k + '\u0003' + extra[k] + '\u0001';
    }
    let d = this.descCache.get(key);
    if (!d) {
      if (this.descCache.size >= Math.max(4096, this.maxStreams * 2)) this.descCache.clear();
      const pairs: Array<[string, string]> = this.constantPairs.slice();
      for (let i = 0; i < dyn.length; i++) pairs.push([dyn[i].name, values[i]]);
      d = buildDesc(pairs, extra);
      this.descCache.set(key, d);
    }
    return d;
  }

  /** describe() for a record without per-record labels: rendered values walk a Map trie. */
  private describeTrie(fields: Fields): StreamDesc {
    const dyn = this.dynamic;
    const last = dyn.length - 1;
    let node = this.descTrie;
    for (let i = 0; i < last; i++) {
      const next = node.get(dyn[i].template.render(fields)) as Map<string, unknown> | undefined;
      if (next === undefined) return this.addTrie(fields);
      node = next;
    }
    const d = node.get(dyn[last].template.render(fields)) as StreamDesc | undefined;
    return d ?? this.addTrie(fields);
  }

  private addTrie(fields: Fields): StreamDesc {
    const dyn = this.dynamic;
    if (this.trieSize >= Math.max(4096, this.maxStreams * 2)) {
      this.descTrie = new Map();
      this.trieSize = 0;
    }
    const pairs: Array<[string, string]> = this.constantPairs.slice();
    let node = this.descTrie;
    for (let i = 0; i < dyn.length; i++) {
      const v = dyn[i].template.render(fields);
      pairs.push([dyn[i].name, v]);
      if (i === dyn.length - 1) break;
      let next = node.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(v, (next = new Map()));
      node = next;
    }
    const d = buildDesc(pairs, undefined);
    node.set(pairs[pairs.length - 1][1], d);
    this.trieSize++;
    return d;
  }
}

export function buildDesc(
  configured: Array<[string, string]>,
  extra: Record<string, string> | undefined,
): StreamDesc {
  const map = new Map<string, string>();
  for (const [n, v] of configured) map.set(n, v);
  // Labels promoted per record (the `label` filter) win over the output's static ones.
  if (extra) {
    for (const k in extra) {
      const n = sanitizeLabelName(k);
      if (n !== undefined) map.set(n, extra[k]);
    }
  }
  let pairs: Array<[string, string]> = [];
  for (const [n, v] of map) {
    if (v === '') continue; // Loki drops empty label values; an empty label is no label
    pairs.push([n, v.length > MAX_LABEL_VALUE ? v.slice(0, MAX_LABEL_VALUE) : v]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let dropped = 0;
  if (pairs.length > MAX_LABELS) {
    // Loki rejects a stream with more than 15 labels outright: keep the configured ones first.
    const configuredNames = new Set(configured.map((p) => p[0]));
    const keep = [
      ...pairs.filter((p) => configuredNames.has(p[0])),
      ...pairs.filter((p) => !configuredNames.has(p[0])),
    ].slice(0, MAX_LABELS);
    dropped = pairs.length - keep.length;
    const names = new Set(keep.map((p) => p[0]));
    pairs = pairs.filter((p) => names.has(p[0]));
  }
  if (pairs.length === 0) pairs = FALLBACK_LABELS.map((p) => [p[0], p[1]]);
  return { text: labelsText(pairs), pairs, dropped };
}
