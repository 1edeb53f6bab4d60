// The `kubernetes` input: the `file` input's tailing (discovery, identity, checkpoints, rotation
// draining) composed with container-log decoding. The FileInput runs unchanged against a
// wrapped context: its batches (one file, one read) come back through `onBatch`, are decoded
// (CRI / docker json-file), joined (partial lines per file and stream), enriched (path + API
// metadata) and re-tagged per file before they reach the pipeline. Its checkpoint trackers are
// wrapped too, so the position a batch commits can be held back to the first byte of a partial
// line that is not complete yet: a restart re-reads the held chunks instead of losing them.
//
//   FileInput ── track(pos) ──▶ KeyedTracker (which file) ──▶ real tracker (pos copy we own)
//       └──── emit(batch) ──▶ onBatch: parse ─▶ FileMerger ─▶ records ─▶ pos.o ≤ held start ─▶ ctx.emit
//   timer: partial_timeout flushes, pruning of deleted pods;  forget(key): EOF flush of a gone file

import * as fs from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { SourceTracker, type AckToken } from '../../../core/acks.js';
import type { Input, InputContext } from '../../../core/component.js';
import type { InputBatch, LogRecord } from '../../../core/record.js';
import type { Template } from '../../../core/template.js';
import type { FileInputConfig } from '../file/config.js';
import { hashBytes, keyDevIno, readAt, TAIL_BYTES, type FilePosition } from '../file/identity.js';
import { FileInput } from '../file/input.js';
import { KubeError, PodWatcher, authWarnings, resolveAuth } from './api.js';
import type { KubernetesInputConfig } from './config.js';
import { FileMerger, type JoinSink } from './merge.js';
import { apiFields, type NamespaceMeta, type PodMeta } from './metadata.js';
import { newParsedLine, parseLine, TimeParser } from './parse.js';
import { excludeGlobs, narrowPaths, parsePodPath, type PathMeta } from './path-meta.js';

interface KubeMetrics {
  malformed: Counter<'component' | 'format'>;
  cut: Counter<'component'>;
  metadataErrors: Counter<'component' | 'reason'>;
  metadataTruncated: Counter<'component'>;
  pods: Gauge<'component'>;
}

function kubeMetrics(registry: Registry): KubeMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    malformed: counter(
      'shiplog_kubernetes_malformed_lines_total',
      'Lines that are neither CRI nor docker json-file (passed on as plain messages).',
      ['component', 'format'],
    ),
    cut: counter(
      'shiplog_kubernetes_cut_lines_total',
      'Partial lines longer than max_merged_bytes, emitted in pieces flagged truncated.',
      ['component'],
    ),
    metadataErrors: counter(
      'shiplog_kubernetes_metadata_errors_total',
      'Kubernetes API failures by reason (records keep flowing with path metadata).',
      ['component', 'reason'],
    ),
    metadataTruncated: counter(
      'shiplog_kubernetes_metadata_truncated_total',
      'Files whose API metadata was over max_metadata_bytes (maps left out, records flagged).',
      ['component'],
    ),
    pods:
      (registry.getSingleMetric('shiplog_kubernetes_metadata_pods') as
        Gauge<'component'> | undefined) ??
      new Gauge({
        name: 'shiplog_kubernetes_metadata_pods',
        help: 'Pods in the metadata cache (deleted ones included until their grace ends).',
        labelNames: ['component'],
        registers: [registry],
      }),
  };
}

/** Nested metadata objects: copied per record, since filters may mutate fields in place. */
const NESTED = [
  'labels',
  'annotations',
  'owner',
  'namespace_labels',
  'namespace_annotations',
] as const;

/** Per-record bytes of a record beyond its message (fields, objects), for the buffer budget. */
const RECORD_BYTES = 400;

/** A Loki label name for a pod label key (`app.kubernetes.io/name` → `app_kubernetes_io_name`). */
export function streamLabelName(key: string): string {
  const n = key.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(n) ? `_${n}` : n;
}

/** One container log file (one checkpoint identity) as this input sees it. */
class FileState implements JoinSink {
  inner: SourceTracker | undefined;
  path = '';
  meta: PathMeta | undefined;
  readonly merger: FileMerger;
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
  private tailAt = -1;
  private tailTh = '';
  private tailTl = 0;

  constructor(
    readonly key: string,
    maxMerged: number,
  ) {
    this.merger = new FileMerger(maxMerged, this);
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

  joined(
    stream: 'stdout' | 'stderr',
    message: string,
    timeMs: number,
    timeNs: number,
    sourceId: string | undefined,
    truncated: boolean,
  ): void {
    const fields: Record<string, unknown> = { message, stream, kubernetes: this.kube() };
    if (truncated || this.rawTruncated) fields.truncated = true;
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

  /**
   * Hold `pos` back to the first byte of the oldest partial line still joining, so a checkpoint
   * never passes it. The tail hash that verifies the position is recomputed from the file (when
   * the path still names this inode), else left out (the fingerprint still verifies it).
   */
  hold(pos: FilePosition): void {
    const held = this.merger.heldStart();
    if (held < 0 || held >= pos.o) return;
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

/**
 * The file input's view of a checkpoint source: the real tracker, plus a note of which file a
 * batch is about to come from (track() is called right before emit(), synchronously).
 */
class KeyedTracker extends SourceTracker {
  constructor(
    private readonly real: SourceTracker,
    private readonly owner: KubernetesInput,
    private readonly state: FileState,
  ) {
    super(real.key, undefined);
  }

  override track(position: unknown): AckToken {
    return this.owner.onTrack(this.state, this.real, position as FilePosition);
  }

  override get committed(): unknown {
    return this.real.committed;
  }

  override get inFlight(): number {
    return this.real.inFlight;
  }

  override onCommit(fn: (pos: unknown) => void): void {
    this.real.onCommit(fn);
  }
}

export interface KubernetesInputOptions {
  tag: Template;
  ownPod?: { ns: string; pod: string };
  env: NodeJS.ProcessEnv;
  /** Tests: shorter API backoff. */
  apiBackoffMs?: { initial: number; max: number };
}

export class KubernetesInput implements Input {
  private readonly file: FileInput;
  private readonly states = new Map<string, FileState>();
  private readonly m: KubeMetrics;
  private readonly parsed = newParsedLine();
  private readonly time = new TimeParser();
  private readonly include: Set<string> | undefined;
  private tracked: { state: FileState; pos: FilePosition; token: AckToken } | undefined;
  private watcher: PodWatcher | undefined;
  private namespaces: PodWatcher | undefined;
  private readonly excludeAnnotationNs: Set<string>;
  private timer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  private stopped = false;

  constructor(
    private readonly cfg: KubernetesInputConfig,
    private readonly ctx: InputContext,
    private readonly o: KubernetesInputOptions,
  ) {
    this.m = kubeMetrics(ctx.metrics.registry);
    this.include = cfg.include_namespaces.length ? new Set(cfg.include_namespaces) : undefined;
    this.excludeAnnotationNs = new Set(cfg.exclude_annotation_namespaces);
    const fileCfg: FileInputConfig = {
      paths: narrowPaths(cfg.paths, cfg.include_namespaces),
      exclude: [...cfg.exclude, ...excludeGlobs(cfg.exclude_namespaces, o.ownPod)],
      read_from: cfg.read_from,
      max_line_bytes: cfg.max_line_bytes,
      multiline: undefined,
      encoding: 'utf-8',
      ignore_older_than: cfg.ignore_older_than,
      close_inactive: cfg.close_inactive,
      max_open_files: cfg.max_open_files,
      rotate_wait: cfg.rotate_wait,
      fingerprint_bytes: cfg.fingerprint_bytes,
      scan_interval: cfg.scan_interval,
      read_buffer: cfg.read_buffer,
      follow_symlinks: cfg.follow_symlinks,
    };
    const inner: InputContext = {
      id: ctx.id,
      type: ctx.type,
      tag: ctx.tag,
      log: ctx.log,
      metrics: ctx.metrics,
      dataDir: ctx.dataDir,
      signal: ctx.signal,
      checkpoints: ctx.checkpoints,
      oneShot: ctx.oneShot,
      emit: (batch) => this.onBatch(batch),
      source: (key) => {
        const real = ctx.source(key);
        return new KeyedTracker(real, this, this.state(key));
      },
      forget: (key) => this.onForget(key),
      savedSources: () => ctx.savedSources(),
    };
    this.file = new FileInput(fileCfg, inner);
  }

  async start(): Promise<void> {
    if (this.stopped || this.timer) return;
    const md = this.cfg.metadata;
    if (md.enabled) {
      try {
        const auth = resolveAuth(md, this.o.env);
        for (const w of authWarnings(auth)) this.ctx.log.warn(w, { api_server: auth.server });
        const node = md.node_name ?? this.o.env.NODE_NAME;
        if (!node)
          throw new KubeError('no node name: set NODE_NAME or metadata.node_name', 'config');
        const onError = (reason: string, err: Error): void => {
          this.m.metadataErrors.inc({ component: this.ctx.id, reason });
          this.ctx.log.warn('kubernetes API: records keep flowing with path metadata', {
            reason,
            error: err.message,
          });
        };
        this.watcher = new PodWatcher({
          auth,
          nodeName: node,
          watchTimeoutMs: md.watch_timeout,
          requestTimeoutMs: md.request_timeout,
          backoffMs: this.o.apiBackoffMs,
          maxEntries: md.max_pods,
          inUse: (uid) => this.podInUse(uid),
          onError,
        });
        this.watcher.start();
        if (md.namespace_labels || md.namespace_annotations !== false) {
          this.namespaces = new PodWatcher({
            auth,
            nodeName: node,
            resource: 'namespaces',
            watchTimeoutMs: md.watch_timeout,
            requestTimeoutMs: md.request_timeout,
            backoffMs: this.o.apiBackoffMs,
            maxEntries: md.max_namespaces,
            inUse: (name) => this.namespaceInUse(name),
            onError: (reason, err) => onError(`namespaces_${reason}`, err),
          });
          this.namespaces.start();
        }
        await Promise.all([
          this.watcher.waitSynced(md.initial_wait),
          this.namespaces?.waitSynced(md.initial_wait),
        ]);
      } catch (e) {
        this.m.metadataErrors.inc({ component: this.ctx.id, reason: 'config' });
        this.ctx.log.warn('kubernetes metadata disabled: records carry path metadata only', {
          error: (e as Error).message,
        });
      }
    }
    const every = Math.max(20, Math.min(1000, Math.floor(this.cfg.partial_timeout / 4)));
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
    await this.file.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Held partial lines are not emitted: the checkpoint stays before them and the next run
    // reads them again.
    if (this.timer) clearInterval(this.timer);
    await this.file.stop();
    await this.watcher?.stop();
    await this.namespaces?.stop();
  }

  private podInUse(uid: string): boolean {
    for (const s of this.states.values()) if (s.meta?.pod_id === uid) return true;
    return false;
  }

  private namespaceInUse(name: string): boolean {
    for (const s of this.states.values()) if (s.meta?.namespace_name === name) return true;
    return false;
  }

  async drained(): Promise<void> {
    await this.file.drained();
    // One-shot: every file is at its end, so what is still joining is complete.
    for (const s of this.states.values()) {
      if (!s.merger.held) continue;
      s.merger.flushAll();
      await this.emitFlushed(s);
    }
  }

  /** The pod cache (tests, diagnostics). */
  get pods(): PodWatcher | undefined {
    return this.watcher;
  }

  /** The namespace cache (tests, diagnostics). */
  get namespaceCache(): PodWatcher | undefined {
    return this.namespaces;
  }

  private state(key: string): FileState {
    let s = this.states.get(key);
    if (!s) {
      s = new FileState(key, this.cfg.max_merged_bytes);
      this.states.set(key, s);
    }
    return s;
  }

  /** @internal KeyedTracker.track: the file input is about to emit a batch of `state`. */
  onTrack(state: FileState, real: SourceTracker, position: FilePosition): AckToken {
    const pos = { ...position };
    state.inner = real;
    state.rawPos = { ...position };
    if (pos.p !== state.path) {
      state.path = pos.p;
      state.meta = parsePodPath(pos.p);
      state.podRefSet = false;
    }
    const token = real.track(pos);
    this.tracked = { state, pos, token };
    return token;
  }

  private onBatch(batch: InputBatch): Promise<void> | undefined {
    const t = this.tracked;
    this.tracked = undefined;
    if (!t || t.token !== batch.token) {
      // Not from a tracked read (cannot happen with the current file input): pass it on.
      return this.ctx.emit({ ...batch, tag: this.o.tag.render({}) });
    }
    const s = t.state;
    this.refresh(s);
    if (s.excluded) {
      if (batch.records.length)
        this.ctx.metrics.droppedRecords.inc(
          { component: this.ctx.id, reason: 'excluded' },
          batch.records.length,
        );
      s.merger.clear();
    } else {
      const now = Date.now();
      const p = this.parsed;
      for (const r of batch.records) {
        const raw = r.fields.message as string;
        const truncated = r.fields.truncated === true;
        if (parseLine(raw, p, this.time) === undefined) {
          this.malformed(s, raw);
          s.plain(raw, r.timeMs, r.sourceId, truncated);
          continue;
        }
        if (truncated) {
          // Cut by max_line_bytes: the content is incomplete either way; end the join here.
          p.partial = false;
          s.rawTruncated = true;
          s.merger.add(p, r.sourceId, now);
          s.rawTruncated = false;
        } else s.merger.add(p, r.sourceId, now);
      }
      const cut = s.merger.cutLines;
      if (cut) {
        this.m.cut.inc({ component: this.ctx.id }, cut);
        s.merger.cutLines = 0;
      }
    }
    s.hold(t.pos);
    const { records, bytes } = s.take();
    return this.ctx.emit({ tag: s.tag, records, bytes, token: batch.token });
  }

  private malformed(s: FileState, raw: string): void {
    const format = raw.charCodeAt(0) === 123 ? 'docker' : 'cri';
    this.m.malformed.inc({ component: this.ctx.id, format });
    this.ctx.log.warn('malformed container log line; passed on as a plain message', {
      path: s.path,
      format,
    });
  }

  /** Path + API metadata, tag and exclusion of a file; rebuilt when its pod's metadata changed. */
  private refresh(s: FileState): void {
    const pod = s.meta ? this.watcher?.pods.get(s.meta.pod_id) : undefined;
    const nsEntry = s.meta ? this.namespaces?.pods.get(s.meta.namespace_name) : undefined;
    if (s.podRefSet && pod === s.podRef && nsEntry === s.nsRef) return;
    s.podRef = pod;
    s.nsRef = nsEntry;
    s.podRefSet = true;
    const meta = s.meta;
    const base: Record<string, unknown> = meta ? { ...meta } : {};
    s.hasNested = false;
    s.metaBytes = 0;
    s.labels = undefined;
    if (pod && meta) {
      const md = this.cfg.metadata;
      const ns: NamespaceMeta | undefined = nsEntry
        ? { name: nsEntry.name, labels: nsEntry.labels, annotations: nsEntry.annotations }
        : undefined;
      const api = apiFields(
        pod,
        meta.container_name,
        meta.restart_count,
        {
          labels: md.labels,
          annotations: md.annotations,
          namespaceLabels: md.namespace_labels,
          namespaceAnnotations: md.namespace_annotations,
          maxBytes: md.max_metadata_bytes,
        },
        ns,
      );
      if (api.metadata_truncated === true) this.m.metadataTruncated.inc({ component: this.ctx.id });
      s.metaBytes = JSON.stringify(api).length * 2;
      Object.assign(base, api);
      s.hasNested = NESTED.some((n) => base[n] !== undefined);
      if (md.stream_labels.length > 0) {
        const labels: Record<string, string> = {};
        let n = 0;
        for (const k of md.stream_labels) {
          const v = pod.labels[k];
          if (v === undefined) continue;
          labels[streamLabelName(k)] = v;
          n++;
        }
        if (n > 0) s.labels = labels;
      }
    }
    s.base = base;
    s.tag = this.o.tag.render({ kubernetes: base });
    const own = this.o.ownPod;
    s.excluded =
      meta !== undefined &&
      ((this.include !== undefined && !this.include.has(meta.namespace_name)) ||
        this.cfg.exclude_namespaces.includes(meta.namespace_name) ||
        (own !== undefined && own.ns === meta.namespace_name && own.pod === meta.pod_name) ||
        (pod?.annotations[this.cfg.exclude_annotation] === 'true' &&
          (this.excludeAnnotationNs.has('*') ||
            this.excludeAnnotationNs.has(meta.namespace_name))));
  }

  private tick(): void {
    const now = Date.now();
    for (const s of this.states.values()) {
      if (s.merger.held && s.merger.flushIdle(now, this.cfg.partial_timeout))
        void this.emitFlushed(s);
    }
    const w = this.watcher;
    if (w && now - this.lastPrune >= 1000) {
      this.lastPrune = now;
      const live = new Set<string>();
      for (const s of this.states.values()) if (s.meta) live.add(s.meta.pod_id);
      w.prune(now, this.cfg.metadata.deleted_grace, (uid) => live.has(uid));
      this.m.pods.set({ component: this.ctx.id }, w.pods.size);
      this.namespaces?.prune(now, this.cfg.metadata.deleted_grace, (n) => this.namespaceInUse(n));
    }
  }

  /** Emit what a flush produced, committing up to the file input's last position (if tracked). */
  private async emitFlushed(s: FileState): Promise<void> {
    if (s.out.length === 0) return;
    this.refresh(s);
    let token: AckToken | undefined;
    if (!s.forgotten && s.inner && s.rawPos) {
      const pos = { ...s.rawPos };
      s.hold(pos);
      token = s.inner.track(pos);
    }
    const { records, bytes } = s.take();
    if (s.excluded) {
      records.length = 0;
    }
    await this.ctx.emit({ tag: s.tag, records, bytes, token });
  }

  /** The file input is done with a source (drained after rotation or deletion). */
  private onForget(key: string): void {
    const s = this.states.get(key);
    if (s) {
      if (s.merger.held) {
        // End of the file: what is still joining will not be completed.
        s.merger.flushAll();
        s.forgotten = true;
        void this.emitFlushed(s);
      }
      this.states.delete(key);
    }
    this.ctx.forget(key);
  }
}
