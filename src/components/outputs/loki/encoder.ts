// The `loki` encoder: records → pushes (one per tenant) of streams of entries. Per record: the
// entry time (record time or `time_field`), the age limit, the tenant (checked), the stream
// (labels.ts) and the cardinality guard (cardinality.ts), the line (json-cut.ts: cut out of the
// raw JSON when it can be, truncated at max_line_bytes) and structured metadata. Entries are
// sorted per stream. No I/O; the bodies are body.ts's, the wire writer wire.ts's.

import { compileTemplate, type Template } from '../../../core/template.js';
import {
  appendRawExtra,
  getPath,
  recordJson,
  setPath,
  stringifyValue,
  type Fields,
  type LogRecord,
} from '../../../core/record.js';
import {
  canonicalSpans,
  extraFields,
  JsonRecord,
  MISSING,
  numberSpans,
  scannedRecord,
  topValue,
} from '../../../core/json-record.js';
import { sanitizeLabelName, truncateUtf8 } from '../../_shared/loki-labels/index.js';
import { compileTimeParser, type TimeOut, type TimeParser } from '../../_shared/time/index.js';
import { RawExtraText } from '../_shared/raw-extra.js';
import { StreamGuard } from './cardinality.js';
import {
  findCuts,
  fixedLine,
  hasPath,
  onlyKey,
  spanCuts,
  spliceTopKeys,
  stringifyMasked,
  withoutPaths,
} from './json-cut.js';
import { StreamLabels } from './labels.js';
import type { LabelPair } from './logproto.js';
import { Entry, type Prepared, type Push, type Stream } from './push.js';
import { TenantError, tenantProblem } from './tenant.js';
import { formatDuration } from './time.js';

export interface EncoderConfig {
  labels: Record<string, string>;
  structuredMetadata: string[];
  lineFormat: 'json' | 'message';
  messageField: string;
  timeField?: string;
  /** Tenant template (X-Scope-OrgID); undefined = no header. */
  tenant?: string;
  maxLineBytes: number;
  /** 0 = off. */
  rejectOlderThanMs: number;
  maxStreams: number;
  /** Per-source share of the streams (#17.7): `by` is a template naming the source. */
  streamQuota?: { by: string; max: number };
}

export class LokiEncoder {
  private readonly labels: StreamLabels;
  private readonly guard: StreamGuard;
  private readonly dropPaths: string[][];
  /** The dropped fields when all are top-level keys JSON writes without escapes (fast paths). */
  private readonly topDrops: string[] | undefined;
  /**
   * Mixed label fields (some nested, e.g. `kubernetes.namespace_name`): the top-level ones (JSON
   * writes them without escapes) and the nested ones by their first key. For records whose raw
   * line holds the top-level ones and whose input metadata (rawExtra) holds the nested ones.
   */
  private readonly mixed: { top: string[]; nested: Map<string, string[][]> } | undefined;
  private readonly metaPaths: Array<{ name: string; path: string[] }>;
  private readonly tenant: Template | undefined;
  private readonly messagePath: string[];
  private readonly timePath: string[] | undefined;
  /** `time_field` values: RFC 3339 / ISO 8601 or epoch s/ms/µs/ns by magnitude (time_format auto). */
  private readonly parseTime: TimeParser = compileTimeParser('auto', 'time_field');
  private readonly time: TimeOut = { ms: 0, ns: 0 };
  /** JSON lines are cut out of the raw text (see findCuts). */
  private readonly cutLines: boolean;
  /** Scratch of the line cutter (json-cut.ts): the cuts of one line, masked values. */
  private readonly cutBuf: number[] = [];
  private readonly saved: unknown[] = [];
  /** Input metadata members of raw lines (label fields left out). */
  private readonly extra: RawExtraText;
  /**
   * The label templates' fields when all are top-level keys: a lazy record (json-record.ts)
   * renders its labels from `labelView` filled from its spans, its fields left unbuilt.
   */
  private readonly viewKeys: string[] | undefined;
  private readonly labelView: Fields = {};

  constructor(
    private readonly cfg: EncoderConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.labels = new StreamLabels(cfg.labels, cfg.maxStreams);
    // Fields rendered into labels are not repeated in the line.
    const drop = new Set<string>();
    for (const s of this.labels.dynamic) for (const f of s.template.fields) drop.add(f);
    this.dropPaths = [...drop].map((f) => f.split('.'));
    this.topDrops = this.dropPaths.every(
      (p) => p.length === 1 && JSON.stringify(p[0]) === `"${p[0]}"`,
    )
      ? this.dropPaths.map((p) => p[0])
      : undefined;
    this.metaPaths = cfg.structuredMetadata.map((f) => {
      const name = sanitizeLabelName(f.replace(/\./g, '_'));
      if (name === undefined) throw new Error(`structured_metadata field "${f}" has no valid name`);
      return { name, path: f.split('.') };
    });
    const plain = (k: string): boolean => JSON.stringify(k) === `"${k}"`;
    if (this.topDrops === undefined && this.dropPaths.every((p) => plain(p[0]))) {
      const nested = new Map<string, string[][]>();
      for (const p of this.dropPaths)
        if (p.length > 1) nested.set(p[0], [...(nested.get(p[0]) ?? []), p.slice(1)]);
      const top = this.dropPaths.filter((p) => p.length === 1).map((p) => p[0]);
      if (top.every((k) => !nested.has(k))) this.mixed = { top, nested };
    }
    this.extra = new RawExtraText(this.topDrops ?? []);
    this.cutLines =
      cfg.lineFormat === 'json' && this.topDrops !== undefined && this.topDrops.length > 0;
    this.tenant = cfg.tenant !== undefined ? compileTemplate(cfg.tenant) : undefined;
    this.guard = new StreamGuard(
      cfg.maxStreams,
      cfg.streamQuota
        ? { by: compileTemplate(cfg.streamQuota.by), max: cfg.streamQuota.max }
        : undefined,
    );
    if (this.tenant?.constant) {
      const bad = tenantProblem(this.tenant.render({}));
      if (bad !== undefined) throw new TenantError(bad);
    }
    const keys = [...new Set(this.labels.dynamic.flatMap((s) => s.template.fields))];
    this.viewKeys = keys.every((k) => !k.includes('.') && !(k in Object.prototype))
      ? keys
      : undefined;
    for (const k of keys) this.labelView[k] = undefined;
    this.messagePath = cfg.messageField.split('.');
    this.timePath = cfg.timeField?.split('.');
  }

  /** Label names that come from record fields (the fields left out of JSON lines). */
  get labelFields(): string[] {
    return this.dropPaths.map((p) => p.join('.'));
  }

  /** Build the pushes for a chunk of records (one push per tenant). */
  prepare(records: readonly LogRecord[]): Prepared {
    const now = this.now();
    const cfg = this.cfg;
    const oldest = cfg.rejectOlderThanMs > 0 ? now - cfg.rejectOlderThanMs : -Infinity;
    const out: Prepared = { pushes: [], rejected: [], truncated: 0, labelsDropped: 0, badTimes: 0 };
    const pushes = new Map<string, { push: Push; streams: Map<string, Stream> }>();
    const constTenant = this.tenant === undefined || this.tenant.constant;
    const tenantConst = this.tenant?.render({});
    const guard = this.guard;
    let refused = 0;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i];

      let ms = rec.timeMs;
      let ns = rec.timeNs;
      if (this.timePath) {
        const v = getPath(rec.fields, this.timePath);
        if (v !== undefined) {
          if (this.parseTime(v, this.time)) {
            ms = this.time.ms;
            ns = this.time.ns;
          } else out.badTimes++;
        }
      }
      if (ms < oldest) {
        out.rejected.push({
          index: i,
          reason: `entry too old: ${new Date(ms).toISOString()} is older than reject_older_than (${formatDuration(cfg.rejectOlderThanMs)}); Loki would reject it`,
        });
        continue;
      }

      // Rendered tenants are record data: checked against Loki's rules before anything is encoded
      // (an invalid header value used to wedge the HTTP pool for good, #17.1).
      const tenant = constTenant ? tenantConst : this.tenant!.render(rec.fields);
      if (!constTenant) {
        const bad = tenantProblem(tenant!);
        if (bad !== undefined) {
          out.rejected.push({ index: i, reason: `invalid tenant: ${bad}` });
          continue;
        }
      }

      const desc = this.labels.describe(rec, this.labelSource(rec));
      out.labelsDropped += desc.dropped;
      if (!guard.seen(desc, now)) {
        const source = guard.quota?.by.render(rec.fields);
        const why = guard.admit(desc, now, source);
        if (why !== undefined) {
          refused++;
          out.rejected.push({
            index: i,
            reason:
              why === 'quota'
                ? `stream_quota (${guard.quota!.max} per ${guard.quota!.by.source}) reached for "${source!.slice(0, 100)}": new stream ${desc.text} refused`
                : `max_streams (${cfg.maxStreams}) reached: new stream ${desc.text} refused`,
          });
          continue;
        }
      }

      let src: string;
      let cutFrom = -1;
      let cutTo = -1;
      let cuts: number[] | undefined;
      let suffix: string | undefined;
      let chars: number;
      const raw = rec.raw;
      const extra = rec.rawExtra;
      // UTF-8 length of the raw text: the plain-text check and the wire writer's ASCII test.
      const rawBytes = this.cutLines && raw !== undefined ? Buffer.byteLength(raw, 'utf8') : -1;
      let k = -1;
      let text = raw;
      let textBytes = rawBytes;
      if (rawBytes >= 0) {
        // A scanned record: the cuts from its member spans (when its text is canonical), or the
        // line rebuilt with its numbers as JSON.stringify writes them (93.910 → 93.91).
        // Read in place (a view of a record's pooled spans would be ~100 bytes a line).
        const sr = scannedRecord(rec);
        if (sr === undefined) k = findCuts(raw!, this.topDrops!, this.cutBuf, rawBytes);
        else if (canonicalSpans(sr.spans, sr.at))
          k = spanCuts(raw!, sr.spans, this.topDrops!, this.cutBuf, sr.at);
        else if (numberSpans(sr.spans, sr.at)) {
          // As line() does: re-serialised when a label field is in the record, else raw as is.
          k = spanCuts(raw!, sr.spans, this.topDrops!, this.cutBuf, sr.at);
          if (k > 0 || (extra !== undefined && extra.some((x) => this.topDrops!.includes(x)))) {
            text = fixedLine(raw!, sr.spans, this.topDrops!, this.cutBuf, sr.at, sr.len);
            textBytes = Buffer.byteLength(text, 'utf8');
            k = 0;
          }
        }
      }
      if (k >= 0) {
        src = text!;
        const cb = this.cutBuf;
        chars = src.length;
        for (let j = 0; j < k; j += 2) chars -= cb[j + 1] - cb[j];
        if (extra !== undefined) {
          // Input metadata (`file`) beside the raw line: its members are written after the cut
          // text in place of the closing brace (what appendRawExtra would build, no string copy).
          const members = this.extra.members(extraFields(rec), extra);
          if (members.length > 0) {
            const n = src.length;
            suffix = chars === 2 ? members.slice(1) + '}' : this.extra.closing(members);
            chars += suffix.length - 1;
            if (k > 0 && cb[k - 1] === n - 1) cb[k - 1] = n;
            else {
              cb[k++] = n - 1;
              cb[k++] = n;
            }
          }
        }
        if (k > 0) {
          cutFrom = cb[0];
          cutTo = cb[1];
          if (k > 2) cuts = cb.slice(2, k);
        }
      } else {
        src = this.line(rec);
        chars = src.length;
      }
      if (chars * 3 > cfg.maxLineBytes) {
        const line =
          cutFrom < 0 ? src : new Entry(0, 0, src, 0, undefined, cutFrom, cutTo, cuts, suffix).line;
        if (Buffer.byteLength(line) > cfg.maxLineBytes) {
          src = truncateUtf8(line, cfg.maxLineBytes);
          chars = src.length;
          cutFrom = cutTo = -1;
          cuts = undefined;
          suffix = undefined;
          out.truncated++;
        }
      }

      let meta: LabelPair[] | undefined;
      for (const m of this.metaPaths) {
        const v = getPath(rec.fields, m.path);
        if (v === undefined || v === null || v === '') continue;
        (meta ??= []).push({ name: m.name, value: stringifyValue(v) });
      }

      const tkey = tenant ?? '';
      let p = pushes.get(tkey);
      if (!p) {
        p = { push: { tenant, streams: [], count: 0, bytes: 0 }, streams: new Map() };
        pushes.set(tkey, p);
        out.pushes.push(p.push);
      }
      let st = p.streams.get(desc.text);
      if (!st) {
        st = { labels: desc.text, pairs: desc.pairs, entries: [] };
        p.streams.set(desc.text, st);
        p.push.streams.push(st);
      }
      const seconds = Math.floor(ms / 1000);
      st.entries.push(
        new Entry(
          seconds,
          (ms - seconds * 1000) * 1_000_000 + ns,
          src,
          i,
          meta,
          cutFrom,
          cutTo,
          cuts,
          suffix,
          cutFrom >= 0 ? textBytes : -1,
        ),
      );
      p.push.count++;
      p.push.bytes += chars + 32;
    }
    for (const p of out.pushes) for (const s of p.streams) sortEntries(s.entries);
    if (refused > 0) out.explodingLabel = guard.explodingLabel();
    return out;
  }

  /** Where a record's label templates read: its fields, or for a lazy record a view. */
  private labelSource(rec: LogRecord): Fields {
    const keys = this.viewKeys;
    if (keys === undefined || !(rec instanceof JsonRecord) || rec.materialised) return rec.fields;
    const view = this.labelView;
    for (let i = 0; i < keys.length; i++) {
      const v = topValue(rec, keys[i]);
      view[keys[i]] = v === MISSING ? undefined : v;
    }
    return view;
  }

  /** The line text of a record. */
  line(rec: LogRecord): string {
    const fields = rec.fields;
    if (this.cfg.lineFormat === 'message') {
      const v = getPath(fields, this.messagePath);
      if (typeof v === 'string') return v;
      if (v !== undefined && v !== null) return stringifyValue(v);
      return recordJson(rec);
    }
    // A raw line no filter parsed: ship the line itself, not {"message":"..."}.
    if (rec.raw === undefined && typeof fields.message === 'string' && onlyKey(fields, 'message'))
      return fields.message;
    const top = this.topDrops;
    if (top !== undefined && top.length > 0) {
      if (rec.raw !== undefined && (rec.rawExtra === undefined || this.cutLines)) {
        const spliced = spliceTopKeys(rec.raw, top, this.cutBuf);
        if (spliced !== undefined)
          return rec.rawExtra === undefined
            ? spliced
            : appendRawExtra(spliced, fields, rec.rawExtra, top);
      }
      for (let i = 0; i < top.length; i++) {
        if (Object.hasOwn(fields, top[i]) && typeof fields.toJSON !== 'function') {
          const masked = stringifyMasked(fields, top, this.saved);
          if (masked !== undefined) return masked;
          break;
        }
      }
    }
    const mixed = this.mixed;
    if (mixed !== undefined && rec.raw !== undefined) {
      const line = this.mixedLine(rec, mixed);
      if (line !== undefined) return line;
    }
    for (const p of this.dropPaths) {
      if (hasPath(fields, p)) return JSON.stringify(withoutPaths(fields, this.dropPaths));
    }
    return recordJson(rec);
  }

  /**
   * The line of a record with raw text when label fields are nested in its input metadata (the
   * kubernetes case): top-level label fields cut from the raw text, the metadata objects
   * serialised without their label fields and appended. Undefined when the shape does not fit
   * (a nested label field inside the parsed line): the caller copies the record instead.
   */
  private mixedLine(
    rec: LogRecord,
    mixed: { top: string[]; nested: Map<string, string[][]> },
  ): string | undefined {
    const fields = rec.fields;
    const extra = rec.rawExtra;
    for (const head of mixed.nested.keys()) {
      if (!Object.hasOwn(fields, head)) continue;
      if (extra === undefined || !extra.includes(head)) return undefined; // in the raw line
    }
    const raw = rec.raw!;
    const cut = mixed.top.length > 0 ? spliceTopKeys(raw, mixed.top, this.cutBuf) : raw;
    if (cut === undefined) return undefined;
    if (extra === undefined) return cut;
    return appendRawExtra(cut, fields, extra, mixed.top, (k, v) => {
      const tails = mixed.nested.get(k);
      if (tails === undefined || v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      return withoutPaths(v as Fields, tails);
    });
  }

  /**
   * A record for a dead letter, rebuilt from an entry as it was encoded (a sealed chunk no longer
   * holds its records): the line's JSON (or the message field) with the fields that became labels
   * put back, and the entry's time.
   */
  recordFromEntry(st: Stream, e: Entry): LogRecord {
    const line = e.line;
    let fields: Fields | undefined;
    if (this.cfg.lineFormat === 'json' && line.charCodeAt(0) === 123 /* { */) {
      try {
        const v: unknown = JSON.parse(line);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) fields = v as Fields;
      } catch {
        // not JSON: kept as the message below
      }
    }
    if (fields === undefined) {
      fields = {};
      setPath(fields, this.cfg.lineFormat === 'message' ? this.messagePath : ['message'], line);
    }
    for (const spec of this.labels.dynamic) {
      const f = spec.template.fields;
      if (f.length !== 1 || spec.template.source !== `{${f[0]}}`) continue;
      const pair = st.pairs.find((p) => p[0] === spec.name);
      if (pair !== undefined && getPath(fields, f[0]) === undefined) setPath(fields, f[0], pair[1]);
    }
    // Per-record labels (the `label` filter's): stream labels that the config does not set.
    let labels: Record<string, string> | undefined;
    for (const [name, value] of st.pairs) {
      if (this.labels.specs.some((s) => s.name === name)) continue;
      (labels ??= {})[name] = value;
    }
    const rec: LogRecord = {
      fields,
      timeMs: e.seconds * 1000 + Math.floor(e.nanos / 1e6),
      timeNs: e.nanos % 1e6,
    };
    if (labels !== undefined) rec.labels = labels;
    return rec;
  }
}

function sortEntries(entries: Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    if (cmpEntry(entries[i - 1], entries[i]) > 0) {
      entries.sort(cmpEntry); // stable: equal timestamps keep their order
      return;
    }
  }
}

function cmpEntry(a: Entry, b: Entry): number {
  return a.seconds - b.seconds || a.nanos - b.nanos;
}
