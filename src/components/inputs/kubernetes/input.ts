// The `kubernetes` input: the `file` input's tailing (discovery, identity, checkpoints, rotation
// draining) composed with container-log decoding. The FileInput runs unchanged against a
// wrapped context: its batches (one file, one read) come back through `onBatch`, are decoded
// (CRI / docker json-file), joined (partial lines per file and stream, then multiline records
// per file and stream with the `multiline` option), enriched (path + API metadata) and re-tagged
// per file before they reach the pipeline. Its checkpoint trackers are wrapped too, so the
// position a batch commits can be held back to the first byte of a line still held (a partial
// line, a multiline record): a restart re-reads the held lines instead of losing them, and skips
// the lines of the other stream that were delivered (file-state.ts).
//
//   FileInput ── track(pos) ──▶ KeyedTracker (which file) ──▶ real tracker (pos copy we own)
//       └──── emit(batch) ──▶ onBatch: parse ─▶ FileState (FileMerger ─▶ StreamLines) ─▶ records
//                                ─▶ pos.o ≤ held start, pos.k ─▶ ctx.emit
//   timer: partial_timeout / flush_timeout flushes, pruning of deleted pods;
//   forget(key): EOF flush of a gone file

import type { AckToken, SourceTracker } from '../../../core/acks.js';
import type { Input, InputContext } from '../../../core/component.js';
import type { InputBatch } from '../../../core/record.js';
import type { Template } from '../../../core/template.js';
import { compileMultiline, type CompiledMultiline } from '../../_shared/multiline/index.js';
import type { FileInputConfig } from '../file/config.js';
import type { FilePosition } from '../file/identity.js';
import { FileInput } from '../file/input.js';
import { KubeError, PodWatcher, authWarnings, resolveAuth } from './api.js';
import type { KubernetesInputConfig } from './config.js';
import { FileState, NESTED, type KubePosition } from './file-state.js';
import { startOf } from './merge.js';
import { apiFields, type NamespaceMeta } from './metadata.js';
import { kubeMetrics, type KubeMetrics } from './metrics.js';
import { newParsedLine, parseLine, TimeParser } from './parse.js';
import { excludeGlobs, narrowPaths, parsePodPath } from './path-meta.js';
import { KeyedTracker } from './tracker.js';

/** A Loki label name for a pod label key (`app.kubernetes.io/name` → `app_kubernetes_io_name`). */
export function streamLabelName(key: string): string {
  const n = key.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(n) ? `_${n}` : n;
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
  private readonly multiline: CompiledMultiline | undefined;
  private tracked: { state: FileState; pos: KubePosition; token: AckToken } | undefined;
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
    this.multiline = cfg.multiline
      ? compileMultiline(cfg.multiline, `${ctx.id}.multiline`)
      : undefined;
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
      holdTimeoutMs: ctx.holdTimeoutMs,
      emit: (batch) => this.onBatch(batch),
      source: (key) => {
        const real = ctx.source(key);
        const state = this.state(key, real.committed);
        return new KeyedTracker(real, (r, pos) => this.onTrack(state, r, pos as FilePosition));
      },
      forget: (key) => this.onForget(key),
      savedSources: () => ctx.savedSources(),
    };
    this.file = new FileInput(fileCfg, inner);
    // Its multiline joins after the file input and cannot see unread bytes: reads of a growing
    // file are deferred at most half its flush_timeout (as for a multiline filter).
    if (this.multiline) this.file.capReadDelay(this.multiline.flushTimeout);
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
    const timeout = Math.min(this.cfg.partial_timeout, this.multiline?.flushTimeout ?? Infinity);
    const every = Math.max(20, Math.min(1000, Math.floor(timeout / 4)));
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
    await this.file.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Held partial lines and multiline records are not emitted: the checkpoint stays before them and the next run
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
      if (!s.held) continue;
      s.flushAll();
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

  private state(key: string, committed: unknown): FileState {
    let s = this.states.get(key);
    if (!s) {
      s = new FileState(key, this.cfg.max_merged_bytes, this.multiline);
      s.restore(committed);
      this.states.set(key, s);
    }
    return s;
  }

  /**
   * KeyedTracker.track: the file input hands out a position of `state`, usually right before it
   * emits a batch (onBatch holds the position back again once the batch's lines are joined).
   * A position without a batch (a file's start, a grown fingerprint) is held back at once.
   */
  private onTrack(state: FileState, real: SourceTracker, position: FilePosition): AckToken {
    const raw: FilePosition = { ...position };
    delete (raw as KubePosition).k;
    const pos: KubePosition = { ...raw };
    state.inner = real;
    state.rawPos = raw;
    if (pos.p !== state.path) {
      state.path = pos.p;
      state.meta = parsePodPath(pos.p);
      state.podRefSet = false;
    }
    state.hold(pos, raw);
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
      s.clear();
    } else {
      const now = Date.now();
      const p = this.parsed;
      for (const r of batch.records) {
        const raw = r.fields.message as string;
        const truncated = r.fields.truncated === true;
        const ok = parseLine(raw, p, this.time) !== undefined;
        if (s.delivered(startOf(r.sourceId), ok ? p.stream : undefined)) continue;
        if (!ok) {
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
    if (s.rawPos) s.hold(t.pos, s.rawPos);
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
      if (!s.held) continue;
      s.flushIdle(now, this.cfg.partial_timeout);
      if (s.out.length > 0) void this.emitFlushed(s);
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
      const pos: KubePosition = { ...s.rawPos };
      s.hold(pos, s.rawPos);
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
      if (s.held) {
        // End of the file: what is still joining will not be completed.
        s.flushAll();
        s.forgotten = true;
        void this.emitFlushed(s);
      }
      this.states.delete(key);
    }
    this.ctx.forget(key);
  }
}
