// A fake Kubernetes API server for the `kubernetes` input's metadata watcher, on 127.0.0.1:0.
//
// What it does like kube-apiserver (core/v1 pods):
// - `GET /api/v1/pods?fieldSelector=spec.nodeName=<node>[&limit=N&continue=T]`: a PodList
//   (`kind`, `apiVersion`, `metadata.resourceVersion`, `metadata.continue`, `items`), paginated.
// - `...&watch=true&resourceVersion=RV[&timeoutSeconds=S&allowWatchBookmarks=true]`: 200 with a
//   stream of `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}\n` events: first the
//   events after RV from its history, then live ones; the stream ends after timeoutSeconds. A RV
//   older than the compaction point ⇒ an `ERROR` event with a 410 `Expired` Status (what a real
//   server sends on a watch), or with `goneAs: 'status'` an HTTP 410 Status response.
// - `Authorization: Bearer <token>` required when `token` is set (401 Status otherwise).
// Namespaces: `GET /api/v1/namespaces` (list, watch from a resourceVersion), set with
// `setNamespace()`, logged in `nsRequests`.
// Faults on demand: `dropWatches()` cuts every open watch connection mid-stream, `compact()`
// forgets history (so resuming from an older RV gets 410), `failNext(status, n)` answers the next
// requests with an error Status, `down`/`up` refuse connections.

import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Pod = Record<string, unknown> & {
  metadata: Record<string, unknown> & { uid: string; name: string; namespace: string };
  spec: Record<string, unknown> & { nodeName?: string };
};

export interface PodSpecInput {
  namespace: string;
  name: string;
  uid?: string;
  node: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers?: Array<{ name: string; image: string; restartCount?: number }>;
  /** Owner kind and name, e.g. ReplicaSet web-7d9f6c5b8d (then pod-template-hash is added). */
  owner?: { kind: string; name: string };
}

/** A Pod object in the shape the API returns (recorded from a 1.29 cluster, trimmed). */
export function makePod(p: PodSpecInput): Pod {
  const uid = p.uid ?? randomUUID();
  const containers = p.containers ?? [{ name: 'app', image: 'registry.example/app:1.0' }];
  const labels = { ...(p.labels ?? {}) };
  if (p.owner?.kind === 'ReplicaSet') labels['pod-template-hash'] = p.owner.name.split('-').pop()!;
  const created = '2026-03-05T10:00:00Z';
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: p.name,
      generateName: p.owner ? `${p.owner.name}-` : undefined,
      namespace: p.namespace,
      uid,
      resourceVersion: '0',
      creationTimestamp: created,
      labels,
      annotations: p.annotations ?? {},
      ownerReferences: p.owner
        ? [
            {
              apiVersion: p.owner.kind === 'Job' ? 'batch/v1' : 'apps/v1',
              kind: p.owner.kind,
              name: p.owner.name,
              uid: randomUUID(),
              controller: true,
              blockOwnerDeletion: true,
            },
          ]
        : undefined,
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: created,
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': { 'f:labels': {} } },
        },
      ],
    },
    spec: {
      volumes: [
        {
          name: 'kube-api-access-abcde',
          projected: {
            sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }],
          },
        },
      ],
      containers: containers.map((c) => ({
        name: c.name,
        image: c.image,
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      })),
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      nodeName: p.node,
      schedulerName: 'default-scheduler',
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: created },
      ],
      hostIP: '10.0.0.11',
      podIP: '10.244.1.23',
      podIPs: [{ ip: '10.244.1.23' }],
      startTime: created,
      containerStatuses: containers.map((c, i) => ({
        name: c.name,
        state: { running: { startedAt: created } },
        lastState:
          (c.restartCount ?? 0) > 0
            ? {
                terminated: {
                  exitCode: 1,
                  reason: 'Error',
                  containerID: `containerd://${'b'.repeat(63)}${i}`,
                },
              }
            : {},
        ready: true,
        restartCount: c.restartCount ?? 0,
        image: c.image,
        imageID: `${c.image.split(':')[0]}@sha256:${'c'.repeat(64)}`,
        containerID: `containerd://${'a'.repeat(63)}${i}`,
        started: true,
      })),
      qosClass: 'BestEffort',
    },
  };
}

interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  pod: Pod;
}

export interface KubeApiOptions {
  token?: string;
  /** How a too-old resourceVersion is refused on a watch: an ERROR event (default) or HTTP 410. */
  goneAs?: 'event' | 'status';
}

export interface RequestEntry {
  kind: 'list' | 'watch';
  query: Record<string, string>;
  status: number;
}

export class KubeApiServer {
  readonly server: http.Server;
  url = '';
  readonly requests: RequestEntry[] = [];
  private rv = 100;
  private compactedRv = 0;
  private readonly pods = new Map<string, Pod>();
  private readonly history: Event[] = [];
  private readonly watches = new Set<{ res: http.ServerResponse; node: string; from: number }>();
  private readonly sockets = new Set<Socket>();
  private failures: number[] = [];
  /** Namespaces (`/api/v1/namespaces`, cluster-scoped): kept apart from the pod bookkeeping. */
  private readonly namespaces = new Map<string, Record<string, unknown>>();
  private readonly nsHistory: Array<{ rv: number; type: Event['type']; ns: unknown }> = [];
  private readonly nsWatches = new Set<http.ServerResponse>();
  /** Namespace requests (list / watch), apart from `requests` (pods). */
  readonly nsRequests: RequestEntry[] = [];

  private constructor(private readonly o: KubeApiOptions) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  static async start(o: KubeApiOptions = {}): Promise<KubeApiServer> {
    const k = new KubeApiServer(o);
    await new Promise<void>((resolve) => k.server.listen(0, '127.0.0.1', resolve));
    k.url = `http://127.0.0.1:${(k.server.address() as AddressInfo).port}`;
    return k;
  }

  async close(): Promise<void> {
    for (const w of this.nsWatches) w.destroy();
    for (const w of this.watches) w.res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  get openWatches(): number {
    return this.watches.size;
  }

  add(pod: Pod): Pod {
    return this.record('ADDED', pod);
  }

  modify(uid: string, change: (p: Pod) => void): Pod {
    const p = structuredClone(this.pods.get(uid)!);
    change(p);
    return this.record('MODIFIED', p);
  }

  delete(uid: string): void {
    const p = this.pods.get(uid)!;
    this.record('DELETED', structuredClone(p));
  }

  /** Add or change a namespace (ADDED / MODIFIED to namespace watches). */
  setNamespace(
    name: string,
    labels: Record<string, string> = {},
    annotations: Record<string, string> = {},
  ): void {
    this.rv++;
    const type = this.namespaces.has(name) ? 'MODIFIED' : 'ADDED';
    const ns = {
      kind: 'Namespace',
      apiVersion: 'v1',
      metadata: {
        name,
        uid: randomUUID(),
        resourceVersion: String(this.rv),
        labels: { 'kubernetes.io/metadata.name': name, ...labels },
        annotations,
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
    this.namespaces.set(name, ns);
    this.nsHistory.push({ rv: this.rv, type, ns });
    for (const w of this.nsWatches) w.write(JSON.stringify({ type, object: ns }) + '\n');
  }

  private handleNamespaces(
    res: http.ServerResponse,
    query: Record<string, string>,
    watch: boolean,
  ): void {
    this.nsRequests.push({ kind: watch ? 'watch' : 'list', query, status: 200 });
    if (!watch) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'NamespaceList',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(this.rv) },
          items: [...this.namespaces.values()],
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = Number(query.resourceVersion ?? '0');
    for (const ev of this.nsHistory)
      if (ev.rv > from) res.write(JSON.stringify({ type: ev.type, object: ev.ns }) + '\n');
    this.nsWatches.add(res);
    const timeout = Number(query.timeoutSeconds ?? '0');
    const t = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      if (t) clearTimeout(t);
      this.nsWatches.delete(res);
    });
  }

  /** Cut every open watch mid-stream (a dropped connection, an apiserver restart). */
  dropWatches(): void {
    for (const w of this.watches) w.res.socket?.destroy();
    this.watches.clear();
  }

  /** Forget the history: resuming a watch from any older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  /** Answer the next `n` requests with `status`. */
  failNext(status: number, n = 1): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  private record(type: Event['type'], pod: Pod): Pod {
    this.rv++;
    pod.metadata.resourceVersion = String(this.rv);
    if (type === 'DELETED') this.pods.delete(pod.metadata.uid);
    else this.pods.set(pod.metadata.uid, pod);
    const ev: Event = { rv: this.rv, type, pod };
    this.history.push(ev);
    for (const w of this.watches) if (w.node === pod.spec.nodeName) this.send(w.res, ev);
    return pod;
  }

  private send(res: http.ServerResponse, ev: Event): void {
    res.write(JSON.stringify({ type: ev.type, object: ev.pod }) + '\n');
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason,
        code,
      }),
    );
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(u.searchParams);
    const watch = query.watch === 'true' || query.watch === '1';
    const log = (status: number): void => {
      this.requests.push({ kind: watch ? 'watch' : 'list', query, status });
    };
    if (u.pathname === '/api/v1/namespaces' && req.method === 'GET') {
      if (this.o.token && req.headers.authorization !== `Bearer ${this.o.token}`)
        return this.status(res, 401, 'Unauthorized', 'Unauthorized');
      return this.handleNamespaces(res, query, watch);
    }
    if (u.pathname !== '/api/v1/pods' || req.method !== 'GET') {
      log(404);
      return this.status(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    if (this.o.token && req.headers.authorization !== `Bearer ${this.o.token}`) {
      log(401);
      return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    }
    const fail = this.failures.shift();
    if (fail !== undefined) {
      log(fail);
      return this.status(res, fail, 'InternalError', 'injected failure');
    }
    const m = /^spec\.nodeName=(.+)$/.exec(query.fieldSelector ?? '');
    if (!m) {
      log(400);
      return this.status(
        res,
        400,
        'BadRequest',
        'this test server needs fieldSelector=spec.nodeName=<node>',
      );
    }
    const node = m[1];
    if (!watch) return this.list(res, node, query, log);
    const from = Number(query.resourceVersion ?? '0');
    if (query.resourceVersion && from < this.compactedRv) {
      const message = `too old resource version: ${from} (${this.compactedRv})`;
      if (this.o.goneAs === 'status') {
        log(410);
        return this.status(res, 410, 'Expired', message);
      }
      log(200);
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.end(
        JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message,
            reason: 'Expired',
            code: 410,
          },
        }) + '\n',
      );
      return;
    }
    log(200);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w = { res, node, from };
    if (query.resourceVersion) {
      for (const ev of this.history)
        if (ev.rv > from && ev.pod.spec.nodeName === node) this.send(res, ev);
    } else {
      // No resourceVersion: synthetic ADDED events for the current state.
      for (const p of this.pods.values())
        if (p.spec.nodeName === node) this.send(res, { rv: this.rv, type: 'ADDED', pod: p });
    }
    this.watches.add(w);
    const timeout = Number(query.timeoutSeconds ?? '0');
    const t = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      if (t) clearTimeout(t);
      this.watches.delete(w);
    });
  }

  private list(
    res: http.ServerResponse,
    node: string,
    query: Record<string, string>,
    log: (s: number) => void,
  ): void {
    const all = [...this.pods.values()].filter((p) => p.spec.nodeName === node);
    const limit = Number(query.limit ?? '0') || all.length;
    const start = Number(query.continue ?? '0');
    const items = all.slice(start, start + limit);
    const next = start + limit < all.length ? String(start + limit) : undefined;
    log(200);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.rv), continue: next },
        items,
      }),
    );
  }
}
