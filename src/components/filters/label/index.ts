// `label`: promote record fields to output labels (`record.labels`, which the Loki output adds to
// the stream labels), under Loki's naming rules, with value normalisation and a per-label
// cardinality guard: once a label has `max_values_per_label` distinct values, new ones become
// `_other` (counted, logged once per label) so one bad field cannot explode the stream count.

import { defineFilter, type Filter, type FilterContext } from '../../../core/component.js';
import { touch, type LogRecord } from '../../../core/record.js';
import { compilePath, get, remove, type Path } from '../_shared/paths.js';
import { configError } from '../_shared/regex.js';
import { Results } from '../_shared/results.js';
import { options } from './config.js';
import {
  checkLabelName,
  MAX_LABELS,
  sanitizeLabelName,
  truncateUtf8,
} from '../../_shared/loki-labels/index.js';
import { normalizeLevel } from './level.js';
import type { z } from 'zod';

export const OTHER = '_other';
/** Raw value → label value memo per label; cleared when it grows past this. */
const CACHE_MAX = 10_000;

interface Spec {
  name: string;
  path: Path;
  lowercase: boolean;
  map: Map<string, string> | undefined;
  level: boolean;
  seen: Set<string>;
  cache: Map<string, string>;
  overflowed: boolean;
}

type Config = z.output<typeof options>;

export class LabelFilter implements Filter {
  private readonly specs: Spec[];
  private readonly results: Results;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: FilterContext,
  ) {
    this.results = new Results(ctx.metrics, ctx.id);
    const names = new Set<string>();
    this.specs = cfg.from.map((e, i) => {
      const o = typeof e === 'string' ? { field: e, lowercase: false, map: {} } : e;
      const explicit = typeof e === 'string' ? undefined : e.name;
      const name = explicit ?? sanitizeLabelName(o.field);
      if (name === undefined)
        throw configError(`from[${i}]`, `no label name can be made from "${o.field}"`);
      const problem = checkLabelName(name);
      if (problem) throw configError(`from[${i}]`, problem);
      if (names.has(name)) throw configError(`from[${i}]`, `label "${name}" is listed twice`);
      names.add(name);
      const map = Object.keys(o.map).length > 0 ? new Map(Object.entries(o.map)) : undefined;
      return {
        name,
        path: compilePath(o.field),
        lowercase: o.lowercase,
        map,
        level: cfg.normalize_level && (name === 'level' || name === 'severity'),
        seen: new Set<string>(),
        cache: new Map<string, string>(),
        overflowed: false,
      };
    });
    if (names.size > MAX_LABELS) {
      ctx.log.warn(
        "label: more than 15 labels; Loki's default limit is 15 label names per stream",
        {
          labels: names.size,
        },
      );
    }
  }

  private value(spec: Spec, raw: string): string {
    let v = spec.cache.get(raw);
    if (v !== undefined) return v;
    let s = spec.level ? normalizeLevel(raw) : spec.lowercase ? raw.toLowerCase() : raw;
    if (spec.map) s = spec.map.get(s) ?? s;
    s = truncateUtf8(s, this.cfg.max_value_length);
    if (s === '' || spec.seen.has(s)) {
      v = s;
    } else if (spec.seen.size < this.cfg.max_values_per_label) {
      spec.seen.add(s);
      v = s;
    } else {
      v = OTHER;
      if (!spec.overflowed) {
        spec.overflowed = true;
        this.ctx.log.warn('label reached max_values_per_label; new values become _other', {
          label: spec.name,
          max_values_per_label: this.cfg.max_values_per_label,
        });
      }
    }
    if (spec.cache.size >= CACHE_MAX) spec.cache.clear();
    spec.cache.set(raw, v);
    return v;
  }

  process(records: LogRecord[]): LogRecord[] {
    const specs = this.specs;
    let modified = 0;
    let overflow = 0;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i];
      const fields = rec.fields;
      let labels: Record<string, string> | undefined;
      let other = false;
      for (let k = 0; k < specs.length; k++) {
        const spec = specs[k];
        const raw = get(fields, spec.path);
        let s: string;
        if (typeof raw === 'string') s = raw;
        else if (typeof raw === 'number' || typeof raw === 'boolean') s = String(raw);
        else continue;
        const v = this.value(spec, s);
        if (v === '') continue;
        if (v === OTHER) other = true;
        // Copy, never mutate: label objects may be shared between records (enrich).
        labels ??= rec.labels === undefined ? {} : { ...rec.labels };
        labels[spec.name] = v;
      }
      if (labels === undefined) continue;
      rec.labels = labels;
      if (this.cfg.remove_fields) {
        let removed = false;
        for (const spec of specs) removed = remove(fields, spec.path) || removed;
        if (removed) touch(rec);
      }
      if (other) overflow++;
      else modified++;
    }
    this.results.add('modified', modified);
    this.results.add('overflow', overflow);
    this.results.add('passed', records.length - modified - overflow);
    return records;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export default defineFilter({
  kind: 'filter',
  type: 'label',
  description:
    'Promotes record fields to output labels (Loki stream labels) under Loki naming rules, with a cardinality guard.',
  options,
  create(config, ctx): Filter {
    return new LabelFilter(config, ctx);
  },
});
