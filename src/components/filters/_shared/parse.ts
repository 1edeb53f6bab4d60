// What parse_json, parse_regex and parse_logfmt share: the options for where the text comes from
// and where the parsed object goes, the record time, error handling, and the merge itself.

import { z } from 'zod';
import type { FilterContext } from '../../../core/component.js';
import type { DeadLetter } from '../../../core/dead-letter.js';
import { touch, type Fields, type LogRecord } from '../../../core/record.js';
import { JsonRecord } from '../../../core/json-record.js';
import { findMember, memberValue, type Spans } from '../../../core/json-scan.js';
import { assign, compilePath, get, hasOwn, remove, set, type Path } from './paths.js';
import { Results } from './results.js';
import { compileTimeParser, type TimeOut, type TimeParser } from '../../_shared/time/index.js';

export const parseOptions = {
  field: z
    .string()
    .min(1)
    .default('message')
    .describe('Field holding the text to parse (dotted path).'),
  target: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Put the parsed object under this key (dotted path). Default: merge its keys into the record root.',
    ),
  keep_original: z
    .boolean()
    .default(false)
    .describe('Keep the source field after a successful parse (default: remove it).'),
  overwrite: z
    .boolean()
    .default(false)
    .describe(
      'When merging into the root, parsed keys replace existing fields of the same name. Default false: fields the input set (file, kubernetes metadata) win, so a log line cannot spoof them.',
    ),
  time_field: z
    .string()
    .min(1)
    .optional()
    .describe('Field of the parsed object holding the event time (dotted path), e.g. timestamp.'),
  time_format: z
    .string()
    .min(1)
    .default('auto')
    .describe(
      'auto (RFC 3339/ISO strings, epoch numbers by magnitude), rfc3339, iso8601, epoch_s, epoch_ms, epoch_us, epoch_ns, or a strftime layout such as "%d/%b/%Y:%H:%M:%S %z" (UTC unless %z).',
    ),
  keep_time: z
    .boolean()
    .default(true)
    .describe('Keep time_field in the record after reading the time from it.'),
  on_error: z
    .enum(['keep', 'drop', 'dead_letter'])
    .default('keep')
    .describe(
      'A text that does not parse: keep the record unchanged, drop it (counted), or write it to data_dir/dead_letter/<id>.ndjson.',
    ),
};

export interface ParseConfig {
  field: string;
  target?: string;
  keep_original: boolean;
  overwrite: boolean;
  time_field?: string;
  time_format: string;
  keep_time: boolean;
  on_error: 'keep' | 'drop' | 'dead_letter';
}

/**
 * The parse-filter skeleton: the subclass turns a text into an object (or undefined + reason);
 * this class does the merge, the time, counting and error handling per batch.
 */
export abstract class ParseFilter {
  protected readonly results: Results;
  private readonly fieldPath: Path;
  private readonly topField: string | undefined;
  private readonly targetPath: Path | undefined;
  private readonly timePath: Path | undefined;
  private readonly timeParser: TimeParser | undefined;
  private readonly timeOut: TimeOut = { ms: 0, ns: 0 };
  private pendingDeadLetters: Promise<void> | undefined;
  /** The rawExtra of the last record merged with metadata: shared while the keys stay the same. */
  private lastExtra: string[] = [];
  /** Reason of the last failed parse (set by `parse`). */
  protected reason = '';
  /**
   * The merge of the common case can keep the line as a lazy record (see `scan`): a top-level
   * source field, merged into the root and not kept, the time (if any) from a top-level key kept.
   */
  private readonly lazy: boolean;
  /** The time key of the lazy path ('' without time_field). */
  private readonly timeKey: string;
  /** Whether the last lazy record's time failed to parse. */
  private timeFailed = false;

  constructor(
    protected readonly cfg: ParseConfig,
    protected readonly ctx: FilterContext,
  ) {
    this.results = new Results(ctx.metrics, ctx.id);
    this.fieldPath = compilePath(cfg.field);
    this.topField = this.fieldPath.length === 1 ? cfg.field : undefined;
    this.targetPath = cfg.target === undefined ? undefined : compilePath(cfg.target);
    if (cfg.time_field !== undefined) {
      this.timePath = compilePath(cfg.time_field);
      this.timeParser = compileTimeParser(cfg.time_format, 'time_format');
    }
    const tp = this.timePath;
    this.timeKey = tp !== undefined && tp.length === 1 ? tp[0] : '';
    this.lazy =
      this.topField !== undefined &&
      this.targetPath === undefined &&
      !cfg.keep_original &&
      (tp === undefined ||
        (tp.length === 1 &&
          cfg.keep_time &&
          !(tp[0] in Object.prototype) &&
          !tp[0].includes('\\')));
  }

  /**
   * parse_json: the spans of `text` (json-scan.ts: a JSON object without duplicate keys within
   * max_depth), undefined when the text needs `parse`. The other parsers have none. They may be
   * scratch that the next scan overwrites: `pin` copies them for the record.
   */
  protected scan(_text: string): Spans | undefined {
    return undefined;
  }

  /** Where the last scan's spans are kept for its record: `pinned` from the offset returned. */
  protected pin(spans: Spans): number {
    this.pinned = spans;
    this.pinnedLen = spans.length;
    return 0;
  }

  protected pinned: Spans = [];
  protected pinnedLen = 0;

  /** Parse `text`; undefined (with `this.reason` set) when it is not valid. */
  protected abstract parse(text: string, record: LogRecord): Fields | undefined;

  /** Whether the untouched `text` may stand for `JSON.stringify(parsed)` (parse_json only). */
  protected rawFor(_text: string, _parsed: Fields): boolean {
    return false;
  }

  process(records: LogRecord[], tag: string): LogRecord[] {
    let modified = 0;
    let passed = 0;
    let errors = 0;
    let timeErrors = 0;
    let rejected: DeadLetter[] | undefined;
    let out: LogRecord[] | undefined;
    const { fieldPath, topField } = this;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i];
      const text = topField !== undefined ? rec.fields[topField] : get(rec.fields, fieldPath);
      if (typeof text !== 'string') {
        passed++;
        if (out) out.push(rec);
        continue;
      }
      if (this.lazy) {
        const lazy = this.lazyRecord(rec, text);
        if (lazy !== undefined) {
          if (this.timeFailed) timeErrors++;
          modified++;
          (out ??= records.slice(0, i)).push(lazy);
          continue;
        }
      }
      const parsed = this.parse(text, rec);
      if (parsed === undefined) {
        errors++;
        if (this.cfg.on_error === 'keep') {
          if (out) out.push(rec);
          continue;
        }
        out ??= records.slice(0, i);
        if (this.cfg.on_error === 'dead_letter') {
          (rejected ??= []).push({ record: rec, reason: `${this.ctx.id}: ${this.reason}`, tag });
        }
        continue;
      }
      if (this.timePath !== undefined && !this.applyTime(rec, parsed)) timeErrors++;
      this.merge(rec, text, parsed);
      modified++;
      if (out) out.push(rec);
    }
    const r = this.results;
    r.add('modified', modified);
    r.add('passed', passed);
    r.add('error', errors);
    r.add('time_error', timeErrors);
    if (errors > 0) {
      this.ctx.log.warn('records failed to parse', {
        reason: this.reason,
        count: errors,
        on_error: this.cfg.on_error,
      });
      if (this.cfg.on_error === 'drop') {
        r.add('dropped', errors);
        r.dropped('parse_error', errors);
      }
    }
    if (rejected) {
      r.add('dead_lettered', rejected.length);
      const p = this.ctx.deadLetter.write(rejected);
      const all: Promise<void> = this.pendingDeadLetters
        ? Promise.all([this.pendingDeadLetters, p]).then(() => undefined)
        : p;
      this.pendingDeadLetters = all;
      void all.then(() => {
        if (this.pendingDeadLetters === all) this.pendingDeadLetters = undefined;
      });
    }
    return out ?? records;
  }

  /** Inputs wait while dead letters are being written, so a slow disk bounds what is pending. */
  pressure(): Promise<void> | undefined {
    return this.pendingDeadLetters;
  }

  /**
   * The record of the common case without parsing: the line as a JsonRecord (its fields built
   * when read: the same object `merge` would build), the time read from its spans. Undefined when
   * the line is not scanned or shares a key with the input metadata (merge decides those).
   */
  private lazyRecord(rec: LogRecord, text: string): JsonRecord | undefined {
    const scanned = this.scan(text);
    if (scanned === undefined) return undefined;
    // Pinned first: every member lookup then reads the pooled block (one array kind for
    // findMember and memberValue here and in the outputs, so V8 keeps them monomorphic).
    const at = this.pin(scanned);
    const spans = this.pinned;
    const old = rec.fields;
    const top = this.topField!;
    const prev = this.lastExtra;
    let same = true;
    let n = 0;
    for (const k in old) {
      if (k === top) continue;
      // Shared keys, dotted or __proto__ metadata: merge's own paths.
      if (k === '__proto__' || k.includes('.') || findMember(text, spans, k, at) >= 0)
        return undefined;
      if (same && (n >= prev.length || prev[n] !== k)) same = false;
      n++;
    }
    let ms = rec.timeMs;
    let ns = rec.timeNs;
    let timeOk = true;
    if (this.timeKey !== '') {
      const m = findMember(text, spans, this.timeKey, at);
      const v = m >= 0 ? memberValue(text, spans, m) : undefined;
      if (v !== undefined && this.timeParser!(v, this.timeOut)) {
        ms = this.timeOut.ms;
        ns = this.timeOut.ns;
      } else timeOk = false;
    }
    let extra: string[] | undefined;
    if (n > 0) {
      extra = prev;
      if (!same || n !== prev.length) {
        extra = [];
        for (const k in old) if (k !== top) extra.push(k);
        this.lastExtra = extra;
      }
    }
    const r = new JsonRecord(
      text,
      spans,
      n > 0 ? old : undefined,
      top,
      extra,
      ms,
      ns,
      at,
      this.pinnedLen,
    );
    r.labels = rec.labels;
    r.sourceId = rec.sourceId;
    this.timeFailed = !timeOk;
    return r;
  }

  private applyTime(rec: LogRecord, parsed: Fields): boolean {
    const v = get(parsed, this.timePath!);
    if (v === undefined || !this.timeParser!(v, this.timeOut)) return false;
    rec.timeMs = this.timeOut.ms;
    rec.timeNs = this.timeOut.ns;
    if (!this.cfg.keep_time) remove(parsed, this.timePath!);
    return true;
  }

  private merge(rec: LogRecord, text: string, parsed: Fields): void {
    const cfg = this.cfg;
    if (this.targetPath !== undefined) {
      if (!cfg.keep_original && cfg.target !== cfg.field) remove(rec.fields, this.fieldPath);
      set(rec.fields, this.targetPath, parsed);
      touch(rec);
      return;
    }
    const old = rec.fields;
    const top = this.topField;
    // The common case: the record is only the line. The parsed object becomes the record, and
    // the line itself may stand in as its JSON text.
    if (top !== undefined && !cfg.keep_original && onlyKey(old, top)) {
      rec.fields = parsed;
      if (this.rawFor(text, parsed)) rec.raw = text;
      else touch(rec);
      return;
    }
    if (top !== undefined && !cfg.keep_original) {
      this.mergeInto(rec, text, parsed, old, top);
      return;
    }
    const merged: Fields = {};
    let extra: string[] | undefined = [];
    for (const k in old) {
      if (!cfg.keep_original && k === top) continue;
      assign(merged, k, old[k]);
      // Input metadata beside the line (`file`, `kubernetes`): the line can still stand in for
      // the parsed part as long as no key is in both.
      if (
        extra !== undefined &&
        (top === undefined || cfg.keep_original || hasOwn(parsed, k) || k.includes('.'))
      )
        extra = undefined;
      else extra?.push(k);
    }
    if (!cfg.keep_original && top === undefined) remove(merged, this.fieldPath);
    for (const k in parsed) {
      if (cfg.overwrite || !hasOwn(merged, k)) assign(merged, k, parsed[k]);
    }
    rec.fields = merged;
    touch(rec);
    if (extra !== undefined && extra.length > 0 && this.rawFor(text, parsed)) {
      rec.raw = text;
      rec.rawExtra = extra;
    }
  }

  /**
   * The merge of a top-level source field (not kept) when the record holds more (input metadata
   * such as `file`): the metadata goes into the parsed object itself, no copy of either. A
   * metadata key the line also has keeps the metadata's value (the line's with overwrite), at
   * the line's position; the others follow the line's keys, the order recordJson writes them in.
   */
  private mergeInto(rec: LogRecord, text: string, parsed: Fields, old: Fields, top: string): void {
    const overwrite = this.cfg.overwrite;
    let n = 0;
    let shared = false;
    let i = 0;
    const prev = this.lastExtra;
    let same = true;
    for (const k in old) {
      if (k === top) continue;
      if (k === '__proto__') return this.mergeCopy(rec, parsed, old, top);
      if (hasOwn(parsed, k) || k.includes('.')) shared = true;
      if (same && (i >= prev.length || prev[i] !== k)) same = false;
      i++;
      n++;
    }
    // Whether the line can stand in for the parsed part: decided before the object changes.
    const keepRaw = !shared && n > 0 && this.rawFor(text, parsed);
    for (const k in old) {
      if (k === top) continue;
      if (overwrite && hasOwn(parsed, k)) continue;
      parsed[k] = old[k];
    }
    rec.fields = parsed;
    touch(rec);
    if (keepRaw) {
      let extra = prev;
      if (!same || i !== prev.length) {
        extra = [];
        for (const k in old) if (k !== top) extra.push(k);
        this.lastExtra = extra;
      }
      rec.raw = text;
      rec.rawExtra = extra;
    }
  }

  /** mergeInto's fallback when a metadata key is `__proto__`: a new object, keys copied. */
  private mergeCopy(rec: LogRecord, parsed: Fields, old: Fields, top: string): void {
    const merged: Fields = {};
    for (const k in old) if (k !== top) assign(merged, k, old[k]);
    for (const k in parsed)
      if (this.cfg.overwrite || !hasOwn(merged, k)) assign(merged, k, parsed[k]);
    rec.fields = merged;
    touch(rec);
  }
}

function onlyKey(fields: Fields, key: string): boolean {
  let n = 0;
  for (const k in fields) {
    if (k !== key || ++n > 1) return false;
  }
  return n === 1;
}

/** Value conversions for regex/logfmt captures (`types: { status: int }`). */
export const typesOption = z
  .record(z.string(), z.enum(['string', 'int', 'float', 'bool']))
  .default({})
  .describe(
    'Convert captured values: { status: int, bytes: int, duration: float, cached: bool }. A value that does not convert stays a string.',
  );

export type TypeName = 'string' | 'int' | 'float' | 'bool';

export function convert(v: string, t: TypeName): unknown {
  switch (t) {
    case 'int': {
      if (!/^[+-]?\d{1,15}$/.test(v)) return v;
      return Number(v);
    }
    case 'float': {
      const n = Number(v);
      return v.trim() !== '' && Number.isFinite(n) ? n : v;
    }
    case 'bool':
      if (v === 'true' || v === 'TRUE' || v === 'True' || v === '1' || v === 'yes') return true;
      if (v === 'false' || v === 'FALSE' || v === 'False' || v === '0' || v === 'no') return false;
      return v;
    default:
      return v;
  }
}
