// The pod watcher: ONE node-scoped list + watch of pods (fieldSelector=spec.nodeName=<node>),
// kept in a cache by pod uid. undici rather than @kubernetes/client-node: undici is already a
// dependency (outputs use it), the two endpoints we need are plain HTTP, and the client library
// would add ~10 MB of dependencies and its own informer to a daemon that must stay small.
//
//   list (paginated) ──rv──▶ watch?resourceVersion=rv ──events──▶ cache (rv advances)
//        ▲                         │ stream ends (timeoutSeconds, dropped connection)
//        │                         └──▶ watch again from the last rv
//        └──── 410 Gone (rv too old, as status or ERROR event) ◀─┘
// Errors back off 1s → 30s with jitter; the cache keeps serving what it has meanwhile.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { parse as parseYaml } from 'yaml';
import type { MetadataConfig } from './config.js';
import { namespaceMeta, podMeta, type PodMeta } from './metadata.js';

export interface KubeAuth {
  server: string;
  ca?: Buffer;
  token?: string;
  tokenFile?: string;
  insecure: boolean;
}

export class KubeError extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;

function named(list: unknown, name: unknown, field: string): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  const e = list.map(obj).find((x) => x?.name === name);
  return obj(e?.[field]);
}

/**
 * Where the API is and how to authenticate: a kubeconfig (current context: server,
 * certificate-authority[-data], token / tokenFile), else the in-cluster service account.
 * Reads files: call at start, not at create.
 */
export function resolveAuth(cfg: MetadataConfig, env: NodeJS.ProcessEnv = process.env): KubeAuth {
  if (cfg.kubeconfig) {
    const file = cfg.kubeconfig;
    const doc = obj(parseYaml(readFileSync(file, 'utf8')));
    if (!doc) throw new KubeError(`kubeconfig ${file}: not a mapping`, 'config');
    const ctxName = doc['current-context'];
    const context = named(doc.contexts, ctxName, 'context');
    if (!context) throw new KubeError(`kubeconfig ${file}: no current context`, 'config');
    const cluster = named(doc.clusters, context.cluster, 'cluster');
    const user = named(doc.users, context.user, 'user') ?? {};
    const server = cfg.api_server ?? (typeof cluster?.server === 'string' ? cluster.server : '');
    if (!server) throw new KubeError(`kubeconfig ${file}: the cluster has no server`, 'config');
    const rel = (p: string): string => path.resolve(path.dirname(file), p);
    let ca: Buffer | undefined;
    if (typeof cluster?.['certificate-authority-data'] === 'string')
      ca = Buffer.from(cluster['certificate-authority-data'], 'base64');
    else if (typeof cluster?.['certificate-authority'] === 'string')
      ca = readFileSync(rel(cluster['certificate-authority']));
    return {
      server,
      ca,
      token: typeof user.token === 'string' ? user.token : undefined,
      tokenFile: typeof user.tokenFile === 'string' ? rel(user.tokenFile) : undefined,
      insecure: cfg.insecure_skip_verify || cluster?.['insecure-skip-tls-verify'] === true,
    };
  }
  let server = cfg.api_server;
  if (!server) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host)
      throw new KubeError(
        'not in a cluster (KUBERNETES_SERVICE_HOST unset) and no metadata.api_server or metadata.kubeconfig',
        'config',
      );
    server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  let ca: Buffer | undefined;
  if (!cfg.insecure_skip_verify && server.startsWith('https:')) {
    try {
      ca = readFileSync(cfg.ca_file);
    } catch {
      ca = undefined; // system CAs
    }
  }
  return { server, ca, tokenFile: cfg.token_file, insecure: cfg.insecure_skip_verify };
}

/** Why the API connection is not protected (#17.13): warned at start, empty when it is. */
export function authWarnings(auth: KubeAuth): string[] {
  const out: string[] = [];
  if (auth.server.startsWith('http:'))
    out.push(
      'kubernetes API server over plain http: the service-account token and pod metadata cross the network unencrypted',
    );
  else if (auth.insecure)
    out.push(
      'kubernetes API: insecure_skip_verify is on: the API server certificate is not checked (anyone on the path can read the token and feed false metadata)',
    );
  return out;
}

export interface WatcherOptions {
  auth: KubeAuth;
  nodeName: string;
  watchTimeoutMs: number;
  requestTimeoutMs: number;
  /** A counted, rate-limited warning (the caller owns metrics and logs). */
  onError(reason: string, err: Error): void;
  /** Every list that replaced the cache (the first one, and relists after 410 Gone). */
  onList?(): void;
  /** Backoff bounds (tests shorten them). */
  backoffMs?: { initial: number; max: number };
  pageSize?: number;
  /** What is watched: the node's pods (default), or the cluster's namespaces (keyed by name). */
  resource?: 'pods' | 'namespaces';
  /** Bound of the cache: beyond it, deleted entries go first, then the oldest not `inUse`. */
  maxEntries?: number;
  /** Entries whose files are being read (kept when the cache is over its bound, if possible). */
  inUse?: (uid: string) => boolean;
}

/** A namespace in the watcher's cache shape (keyed by name). */
function namespaceEntry(o: unknown): PodMeta | undefined {
  const n = namespaceMeta(o);
  if (!n) return undefined;
  const rv = obj(obj(o)?.metadata)?.resourceVersion;
  return {
    uid: n.name,
    namespace: n.name,
    name: n.name,
    labels: n.labels,
    annotations: n.annotations,
    containers: new Map(),
    resourceVersion: typeof rv === 'string' ? rv : undefined,
  };
}

export class PodWatcher {
  readonly pods = new Map<string, PodMeta>();
  /** Entries dropped because the cache was at its bound. */
  evicted = 0;
  private readonly decode: (o: unknown) => PodMeta | undefined;
  /** Last resourceVersion seen (list or event): where a dropped watch resumes. */
  resourceVersion: string | undefined;
  lists = 0;
  watches = 0;
  synced = false;
  private readonly dispatcher: Dispatcher;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private syncWaiters: Array<() => void> = [];
  private sleepTimer: NodeJS.Timeout | undefined;
  private sleepResolve: (() => void) | undefined;

  constructor(private readonly o: WatcherOptions) {
    this.decode = o.resource === 'namespaces' ? namespaceEntry : podMeta;
    this.dispatcher = new Agent({
      connect: { ca: o.auth.ca, rejectUnauthorized: !o.auth.insecure },
      keepAliveTimeout: 30_000,
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves after the first successful list, or after `ms`. */
  waitSynced(ms: number): Promise<void> {
    if (this.synced || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const waiters = this.syncWaiters;
      function done(): void {
        clearTimeout(t);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepResolve?.();
    await this.loop;
    await this.dispatcher.close().catch(() => undefined);
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async run(): Promise<void> {
    const bo = this.o.backoffMs ?? { initial: 1000, max: 30_000 };
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === undefined) await this.list();
        const began = Date.now();
        await this.watch();
        failures = 0;
        // A server that ends watches at once must not make this a busy loop.
        if (!this.stopped && Date.now() - began < 1000) await this.sleep(1000);
      } catch (e) {
        if (this.stopped) break;
        const err = e as KubeError;
        if (err.status === 410) {
          // The resourceVersion is older than the server keeps: start over with a fresh list.
          this.resourceVersion = undefined;
          this.o.onError('gone', err);
          continue;
        }
        this.o.onError(err.reason ?? 'request', err);
        failures++;
        const ceiling = Math.min(bo.max, bo.initial * 2 ** Math.min(failures - 1, 10));
        await this.sleep(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepResolve = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' };
    let token = this.o.auth.token;
    if (this.o.auth.tokenFile) {
      try {
        // Re-read every time: projected service account tokens rotate (about hourly).
        token = readFileSync(this.o.auth.tokenFile, 'utf8').trim();
      } catch {
        token ??= undefined;
      }
    }
    if (token) h.authorization = `Bearer ${token}`;
    return h;
  }

  private url(params: Record<string, string>): string {
    const base = this.o.auth.server.replace(/\/+$/, '');
    if (this.o.resource === 'namespaces')
      return `${base}/api/v1/namespaces?${new URLSearchParams(params).toString()}`;
    const q = new URLSearchParams({ fieldSelector: `spec.nodeName=${this.o.nodeName}`, ...params });
    return `${base}/api/v1/pods?${q.toString()}`;
  }

  /** Put an entry, keeping the cache within maxEntries. */
  private put(m: PodMeta): void {
    this.pods.delete(m.uid); // re-inserted last: the Map's order is the age of the last change
    this.pods.set(m.uid, m);
    const max = this.o.maxEntries;
    if (max === undefined || this.pods.size <= max) return;
    let victim: string | undefined;
    for (const [uid, e] of this.pods)
      if (e.deletedAt !== undefined && uid !== m.uid) {
        victim = uid;
        break;
      }
    if (victim === undefined)
      for (const uid of this.pods.keys())
        if (uid !== m.uid && !this.o.inUse?.(uid)) {
          victim = uid;
          break;
        }
    victim ??= this.pods.keys().next().value;
    if (victim !== undefined) {
      this.pods.delete(victim);
      this.evicted++;
    }
  }

  private async call(url: string, watch: boolean): Promise<Dispatcher.ResponseData> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        dispatcher: this.dispatcher,
        headers: this.headers(),
        signal: this.abort.signal,
        headersTimeout: this.o.requestTimeoutMs,
        bodyTimeout: watch ? this.o.watchTimeoutMs + 30_000 : this.o.requestTimeoutMs,
      });
    } catch (e) {
      throw new KubeError((e as Error).message, 'network');
    }
    if (res.statusCode !== 200) {
      let text = '';
      try {
        text = (await res.body.text()).slice(0, 300);
      } catch {
        text = '';
      }
      let msg = text;
      try {
        const s = obj(JSON.parse(text));
        if (typeof s?.message === 'string') msg = s.message;
      } catch {
        // not a Status object
      }
      const reason =
        res.statusCode === 401 || res.statusCode === 403 ? 'auth' : `http_${res.statusCode}`;
      throw new KubeError(`${res.statusCode} from the API server: ${msg}`, reason, res.statusCode);
    }
    return res;
  }

  /** Paginated list; replaces the cache. Pods missing from it were deleted while we were away. */
  private async list(): Promise<void> {
    const seen = new Set<string>();
    let cont: string | undefined;
    let rv: string | undefined;
    const now = Date.now();
    do {
      const params: Record<string, string> = { limit: String(this.o.pageSize ?? 500) };
      if (cont) params.continue = cont;
      const res = await this.call(this.url(params), false);
      let body: unknown;
      try {
        body = await res.body.json();
      } catch (e) {
        throw new KubeError(`bad pod list: ${(e as Error).message}`, 'decode');
      }
      const b = obj(body);
      const md = obj(b?.metadata);
      if (!b || !Array.isArray(b.items)) throw new KubeError('bad pod list: no items', 'decode');
      for (const item of b.items) {
        const m = this.decode(item);
        if (!m) continue;
        seen.add(m.uid);
        this.put(m);
      }
      rv = typeof md?.resourceVersion === 'string' ? md.resourceVersion : rv;
      cont = typeof md?.continue === 'string' && md.continue !== '' ? md.continue : undefined;
    } while (cont && !this.stopped);
    for (const [uid, m] of this.pods)
      if (!seen.has(uid) && m.deletedAt === undefined) m.deletedAt = now;
    this.resourceVersion = rv ?? '';
    this.lists++;
    this.o.onList?.();
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** One watch from the current resourceVersion, until the server ends it. */
  private async watch(): Promise<void> {
    const params: Record<string, string> = {
      watch: 'true',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(Math.max(1, Math.round(this.o.watchTimeoutMs / 1000))),
    };
    if (this.resourceVersion) params.resourceVersion = this.resourceVersion;
    const res = await this.call(this.url(params), true);
    this.watches++;
    let carry = '';
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const text = carry + chunk.toString('utf8');
        let start = 0;
        for (;;) {
          const nl = text.indexOf('\n', start);
          if (nl === -1) break;
          const line = text.slice(start, nl).trim();
          start = nl + 1;
          if (line) this.event(line);
        }
        carry = text.slice(start);
        if (carry.length > 16 * 1024 * 1024)
          throw new KubeError('watch event larger than 16 MiB', 'decode');
      }
    } catch (e) {
      if (e instanceof KubeError) throw e;
      if (this.stopped) return;
      // A dropped connection: resume from the last resourceVersion.
      throw new KubeError((e as Error).message, 'watch_dropped');
    } finally {
      res.body.destroy();
    }
    if (carry.trim()) this.event(carry.trim());
  }

  private event(line: string): void {
    let ev: Obj | undefined;
    try {
      ev = obj(JSON.parse(line));
    } catch {
      throw new KubeError('undecodable watch event', 'decode');
    }
    const type = ev?.type;
    const o = obj(ev?.object);
    if (type === 'ERROR') {
      const code = typeof o?.code === 'number' ? o.code : undefined;
      const msg = typeof o?.message === 'string' ? o.message : 'watch error';
      throw new KubeError(msg, code === 410 ? 'gone' : 'watch_error', code);
    }
    const rv = obj(o?.metadata)?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (typeof rv === 'string') this.resourceVersion = rv;
      return;
    }
    const m = this.decode(o);
    if (!m) return;
    if (type === 'ADDED' || type === 'MODIFIED') {
      this.put(m);
    } else if (type === 'DELETED') {
      const prev = this.pods.get(m.uid);
      m.deletedAt = prev?.deletedAt ?? Date.now();
      this.put(m);
    }
    if (typeof rv === 'string') this.resourceVersion = rv;
  }

  /** Drop deleted pods older than `graceMs` that `inUse` does not name. */
  prune(now: number, graceMs: number, inUse: (uid: string) => boolean): void {
    for (const [uid, m] of this.pods)
      if (m.deletedAt !== undefined && now - m.deletedAt >= graceMs && !inUse(uid))
        this.pods.delete(uid);
  }
}
