// Pod metadata from the API: the watcher against a fake kube-apiserver answering list and watch
// with real Pod JSON (pagination, a watch that drops and must resume from its resourceVersion,
// 410 Gone as an ERROR event and as a status forcing a relist), then the input end to end.

import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, startPipeline, tempDir, type Harness } from '../../../../test/helpers/harness.js';
import { KubeApiServer, makePod } from '../../../../test/receivers/kube-api.js';
import { PodWatcher } from './api.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await sleep(10);
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(): Promise<KubeApiServer> {
  const s = await KubeApiServer.start({ token: 'sekret' });
  cleanups.push(() => s.close());
  return s;
}

const tokenFiles = new WeakMap<PodWatcher, string>();
const w2TokenFile = (w: PodWatcher): string => tokenFiles.get(w)!;

/** A PodWatcher of node-1 against the fake API, with a token file of its own; stopped after the test. */
function watcher(
  api: KubeApiServer,
  errors: string[],
  token = 'sekret',
  o: Partial<ConstructorParameters<typeof PodWatcher>[0]> = {},
) {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'token'), token + '\n');
  const w = new PodWatcher({
    auth: { server: api.url, tokenFile: path.join(dir, 'token'), insecure: false },
    nodeName: 'node-1',
    watchTimeoutMs: 60_000,
    requestTimeoutMs: 5000,
    onError: (reason) => errors.push(reason),
    backoffMs: { initial: 20, max: 100 },
    pageSize: 2,
    ...o,
  });
  tokenFiles.set(w, path.join(dir, 'token'));
  cleanups.push(() => w.stop());
  return w;
}

/** The kubelet path of a container's 0.log (its directory created). */
function podDir(root: string, ns: string, name: string, uid: string, c = 'app'): string {
  const d = path.join(root, `${ns}_${name}_${uid}`, c);
  mkdirSync(d, { recursive: true });
  return path.join(d, '0.log');
}

/** One CRI line. */
const line = (msg: string, stream = 'stdout') =>
  `2026-03-05T10:15:02.123456789Z ${stream} F ${msg}\n`;

const running: Harness[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

/** The kubernetes input over `root` with metadata from the fake API, to a capture output. */
async function start(
  root: string,
  metadata: Record<string, unknown>,
  input: Record<string, unknown> = {},
  filters: Array<Record<string, unknown>> = [],
  cap = 'cap',
) {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'token'), 'sekret');
  const h = await startPipeline({
    pipeline: {
      inputs: [
        {
          type: 'kubernetes',
          id: 'pods',
          paths: [`${root}/*/*/*.log`],
          scan_interval: '100ms',
          metadata: {
            enabled: true,
            node_name: 'node-1',
            token_file: path.join(dir, 'token'),
            ...metadata,
          },
          ...input,
        },
      ],
      filters,
      outputs: [{ type: 'capture', id: cap }],
    },
  });
  running.push(h);
  return h;
}

describe('PodWatcher', () => {
  it('lists (paginated, node-scoped), follows events, resumes a dropped watch from its resourceVersion', async () => {
    const api = await server();
    const uids: string[] = [];
    for (let i = 0; i < 5; i++)
      uids.push(
        api.add(makePod({ namespace: 'shop', name: `web-${i}`, node: 'node-1' })).metadata.uid,
      );
    api.add(makePod({ namespace: 'shop', name: 'elsewhere', node: 'node-2' }));
    const errors: string[] = [];
    const w = watcher(api, errors);
    w.start();
    await w.waitSynced(5000);
    expect(w.synced).toBe(true);
    expect([...w.pods.values()].map((p) => p.name).sort()).toEqual([
      'web-0',
      'web-1',
      'web-2',
      'web-3',
      'web-4',
    ]);
    expect(api.requests.filter((r) => r.kind === 'list').length).toBe(3); // 2 + 2 + 1
    expect(api.requests[0].query.fieldSelector).toBe('spec.nodeName=node-1');
    await until('watch', () => api.openWatches === 1);

    api.modify(uids[0], (p) => {
      (p.metadata.labels as Record<string, string>).version = 'v2';
    });
    api.delete(uids[1]);
    await until(
      'events',
      () =>
        w.pods.get(uids[0])?.labels.version === 'v2' &&
        w.pods.get(uids[1])?.deletedAt !== undefined,
    );
    const rvBeforeDrop = w.resourceVersion;
    expect(rvBeforeDrop).toBe(api.resourceVersion);

    // The connection drops; meanwhile a pod arrives. The watcher resumes from its last rv and
    // gets the missed event from the server's history, without listing again.
    api.dropWatches();
    const late = api.add(makePod({ namespace: 'shop', name: 'late', node: 'node-1' })).metadata.uid;
    await until('resume', () => w.pods.has(late));
    const watches = api.requests.filter((r) => r.kind === 'watch');
    expect(watches.at(-1)!.query.resourceVersion).toBe(rvBeforeDrop);
    expect(api.requests.filter((r) => r.kind === 'list').length).toBe(3);
    expect(errors).toContain('watch_dropped');
    expect(w.lists).toBe(1);
  });

  for (const goneAs of ['event', 'status'] as const) {
    it(`410 Gone (${goneAs}) after the history was compacted forces a relist`, async () => {
      const api = await KubeApiServer.start({ token: 'sekret', goneAs });
      cleanups.push(() => api.close());
      const a = api.add(makePod({ namespace: 'shop', name: 'a', node: 'node-1' })).metadata.uid;
      const errors: string[] = [];
      const w = watcher(api, errors);
      w.start();
      await w.waitSynced(5000);
      await until('watch', () => api.openWatches === 1);
      api.dropWatches();
      // While disconnected: a pod is deleted, another added, and the server compacts.
      api.delete(a);
      const b = api.add(makePod({ namespace: 'shop', name: 'b', node: 'node-1' })).metadata.uid;
      api.compact();
      await until('relist', () => w.lists === 2);
      expect(errors).toContain('gone');
      expect(w.pods.has(b)).toBe(true);
      expect(w.pods.get(a)?.deletedAt).toBeDefined(); // missing from the relist ⇒ deleted, kept for now
      await until('watch again', () => api.openWatches === 1);
      const c = api.add(makePod({ namespace: 'shop', name: 'c', node: 'node-1' })).metadata.uid;
      await until('live event', () => w.pods.has(c));
      w.prune(Date.now() + 1000, 500, () => false);
      expect(w.pods.has(a)).toBe(false);
    });
  }

  it('5xx and auth failures are counted and retried with backoff; the token file is re-read', async () => {
    const api = await server();
    api.add(makePod({ namespace: 'shop', name: 'a', node: 'node-1' }));
    api.failNext(500, 2);
    const errors: string[] = [];
    const w = watcher(api, errors);
    w.start();
    await w.waitSynced(5000);
    expect(w.synced).toBe(true);
    expect(errors).toEqual(['http_500', 'http_500']);
    // A rotated projected token: the file is re-read on every request.
    const badErrors: string[] = [];
    const w2 = watcher(api, badErrors, 'expired');
    w2.start();
    await until('auth errors', () => badErrors.length >= 2);
    expect(badErrors[0]).toBe('auth');
    expect(w2.synced).toBe(false);
    writeFileSync(w2TokenFile(w2), 'sekret');
    await w2.waitSynced(5000);
    expect(w2.synced).toBe(true);
  });
});

describe('kubernetes input with metadata.enabled', () => {
  it('adds labels, annotations, host, owner, container image; honours the exclude annotation; keeps deleted pods', async () => {
    const api = await server();
    const web = api.add(
      makePod({
        namespace: 'shop',
        name: 'web-7d9f6c5b8d-x2v4q',
        node: 'node-1',
        labels: { app: 'web', tier: 'front' },
        annotations: { 'team.example/owner': 'checkout' },
        containers: [{ name: 'app', image: 'registry.example/web:2.1' }],
        owner: { kind: 'ReplicaSet', name: 'web-7d9f6c5b8d' },
      }),
    );
    const quiet = api.add(
      makePod({
        namespace: 'shop',
        name: 'noisy-0',
        node: 'node-1',
        annotations: { 'shiplog.io/exclude': 'true' },
        owner: { kind: 'StatefulSet', name: 'noisy' },
      }),
    );
    const root = tempDir('pods-');
    const webLog = podDir(root, 'shop', web.metadata.name, web.metadata.uid);
    writeFileSync(webLog, line('web|one'));
    writeFileSync(
      podDir(root, 'shop', quiet.metadata.name, quiet.metadata.uid),
      line('quiet|never'),
    );
    writeFileSync(
      podDir(root, 'shop', 'unknown-0', '99999999-0000-0000-0000-000000000000'),
      line('unknown|path only'),
    );
    await start(
      root,
      { api_server: api.url, annotations: true },
      { exclude_annotation_namespaces: ['shop'] },
    );
    await capture('cap').waitFor(2);
    const byMsg = () =>
      new Map(capture('cap').records.map((r) => [r.record.fields.message as string, r]));
    const w = byMsg().get('web|one')!;
    expect(w.tag).toBe('kube.shop.web-7d9f6c5b8d-x2v4q.app');
    expect(w.record.fields.kubernetes).toEqual({
      namespace_name: 'shop',
      pod_name: 'web-7d9f6c5b8d-x2v4q',
      pod_id: web.metadata.uid,
      container_name: 'app',
      restart_count: 0,
      host: 'node-1',
      container_image: 'registry.example/web:2.1',
      container_hash: `registry.example/web@sha256:${'c'.repeat(64)}`,
      docker_id: `${'a'.repeat(63)}0`,
      labels: { app: 'web', tier: 'front', 'pod-template-hash': '7d9f6c5b8d' },
      annotations: { 'team.example/owner': 'checkout' },
      owner: { kind: 'Deployment', name: 'web' },
    });
    expect(byMsg().get('unknown|path only')!.record.fields.kubernetes).toEqual({
      namespace_name: 'shop',
      pod_name: 'unknown-0',
      pod_id: '99999999-0000-0000-0000-000000000000',
      container_name: 'app',
      restart_count: 0,
    });
    // A pod scheduled after start: its metadata arrives by the watch before its first line.
    const late = api.add(
      makePod({ namespace: 'shop', name: 'late-0', node: 'node-1', labels: { app: 'late' } }),
    );
    await sleep(200);
    writeFileSync(podDir(root, 'shop', late.metadata.name, late.metadata.uid), line('late|hi'));
    // The web pod is deleted; its remaining lines still carry its metadata.
    api.delete(web.metadata.uid);
    await sleep(200);
    writeFileSync(webLog, line('web|last words'), { flag: 'a' });
    await capture('cap').waitFor(4);
    await sleep(300);
    expect(
      (byMsg().get('late|hi')!.record.fields.kubernetes as Record<string, unknown>).labels,
    ).toEqual({ app: 'late' });
    expect(
      (byMsg().get('web|last words')!.record.fields.kubernetes as Record<string, unknown>).owner,
    ).toEqual({
      kind: 'Deployment',
      name: 'web',
    });
    expect(byMsg().has('quiet|never')).toBe(false);
    expect(capture('cap').records.length).toBe(4);
  });

  it('API unavailable: records flow with path metadata and the failure is counted', async () => {
    const api = await KubeApiServer.start();
    const url = api.url;
    await api.close(); // nothing listens there now
    const root = tempDir('pods-');
    writeFileSync(
      podDir(root, 'shop', 'web-0', '88888888-0000-0000-0000-000000000000'),
      line('web|hello'),
    );
    const h = await start(root, { api_server: url, initial_wait: '300ms' });
    await capture('cap').waitFor(1);
    expect(capture('cap').records[0].record.fields.kubernetes).toMatchObject({
      namespace_name: 'shop',
      pod_name: 'web-0',
    });
    const m = await h.metrics.registry
      .getSingleMetric('shiplog_kubernetes_metadata_errors_total')!
      .get();
    expect(m.values.find((v) => v.labels.reason === 'network')?.value).toBeGreaterThanOrEqual(1);
  });
});

describe('kubernetes metadata parity and limits (#18, #17.2, #17.15)', () => {
  const kube = (msg: string) =>
    capture('cap2').records.find((r) => r.record.fields.message === msg)!.record.fields
      .kubernetes as Record<string, unknown>;

  it('annotations off by default, allowlisted, never last-applied-configuration; namespace labels; stream_labels; exclude annotation only where allowed', async () => {
    const api = await server();
    api.setNamespace('shop', { team: 'checkout' }, { 'ns.example/contact': 'ops' });
    api.setNamespace('other', { team: 'infra' });
    const annotations = {
      'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"Pod","password":"hunter2"}',
      'team.example/owner': 'checkout',
      'shiplog.io/exclude': 'true',
    };
    const mk = (ns: string, name: string) =>
      api.add(
        makePod({
          namespace: ns,
          name,
          node: 'node-1',
          labels: { 'app.kubernetes.io/name': name, secret_ish: 'x' },
          annotations,
        }),
      );
    const a = mk('shop', 'a-0');
    const b = mk('other', 'b-0');
    const root = tempDir('pods-');
    writeFileSync(podDir(root, 'shop', a.metadata.name, a.metadata.uid), line('a|1'));
    writeFileSync(podDir(root, 'other', b.metadata.name, b.metadata.uid), line('b|1'));
    await start(
      root,
      { api_server: api.url, stream_labels: ['app.kubernetes.io/name'] },
      // Only pods in `other` may opt out with the annotation: `shop`'s one is ignored.
      { exclude_annotation_namespaces: ['other'] },
      [],
      'cap2',
    );
    await capture('cap2').waitFor(1);
    await sleep(500);
    expect(capture('cap2').records.map((r) => r.record.fields.message)).toEqual(['a|1']);
    const k = kube('a|1');
    expect(k.annotations).toBeUndefined();
    expect(k.namespace_labels).toEqual({ 'kubernetes.io/metadata.name': 'shop', team: 'checkout' });
    expect(k.namespace_annotations).toBeUndefined();
    expect(capture('cap2').records[0].record.labels).toEqual({ app_kubernetes_io_name: 'a-0' });
    expect(JSON.stringify(capture('cap2').records)).not.toContain('hunter2');
  });

  it('annotations: true or an allowlist never ship last-applied-configuration', async () => {
    const { apiFields, podMeta, selectAnnotations, NEVER_SHIPPED } = await import('./metadata.js');
    const all = { [NEVER_SHIPPED]: 'secret', a: '1', b: '2' };
    expect(selectAnnotations(all, true)).toEqual({ a: '1', b: '2' });
    expect(selectAnnotations(all, ['b', NEVER_SHIPPED])).toEqual({ b: '2' });
    expect(selectAnnotations(all, false)).toBeUndefined();
    const pod = podMeta(makePod({ namespace: 'n', name: 'p', node: 'x', annotations: all }))!;
    expect(apiFields(pod, 'app', 0, { labels: true, annotations: true }).annotations).toEqual({
      a: '1',
      b: '2',
    });
  });

  it('per-pod metadata is capped (8 KiB) and its size counts in the batch bytes', async () => {
    const api = await server();
    const big = api.add(
      makePod({
        namespace: 'shop',
        name: 'big-0',
        node: 'node-1',
        labels: { app: 'big' },
        annotations: { 'example.com/blob': 'x'.repeat(100_000) },
      }),
    );
    const root = tempDir('pods-');
    let text = '';
    for (let i = 0; i < 50; i++) text += line(`big|${i}`);
    writeFileSync(podDir(root, 'shop', big.metadata.name, big.metadata.uid), text);
    // A filter on the route: the pipeline re-estimates the bytes, never below what the input counted.
    await start(
      root,
      { api_server: api.url, annotations: true, namespace_labels: false },
      {},
      [{ type: 'grep', exclude: { message: '^never$' } }],
      'cap2',
    );
    await capture('cap2').waitFor(50);
    const k = kube('big|0');
    expect(k.annotations).toBeUndefined();
    expect(k.metadata_truncated).toBe(true);
    expect(k.labels).toEqual({ app: 'big' });
    expect(JSON.stringify(k).length).toBeLessThan(8192 + 500);
    // Each record's share of the batch bytes includes its metadata (about 2 bytes per char).
    const batches = capture('cap2').batches;
    const bytes = batches.reduce((n, b) => n + b.bytes, 0);
    expect(bytes / 50).toBeGreaterThan(JSON.stringify(k).length * 2);
  });

  it('owner from the ReplicaSet name pattern without pod-template-hash, and CronJob from a Job name', async () => {
    const { ownerOf } = await import('./metadata.js');
    const ref = (kind: string, name: string) => [{ kind, name, controller: true }];
    expect(ownerOf(ref('ReplicaSet', 'api-5c9b7f6d4x'), {})).toEqual({
      kind: 'Deployment',
      name: 'api',
    });
    expect(ownerOf(ref('ReplicaSet', 'plain'), {})).toEqual({ kind: 'ReplicaSet', name: 'plain' });
    expect(ownerOf(ref('Job', 'nightly-report-29417280'), {})).toEqual({
      kind: 'CronJob',
      name: 'nightly-report',
    });
    expect(ownerOf(ref('DaemonSet', 'node-exporter'), {})).toEqual({
      kind: 'DaemonSet',
      name: 'node-exporter',
    });
  });

  it('the pod cache stays within max_pods with 1,000 pods; the namespace cache within its bound', async () => {
    const api = await server();
    for (let i = 0; i < 1000; i++)
      api.add(makePod({ namespace: `ns${i % 40}`, name: `p-${i}`, node: 'node-1' }));
    for (let i = 0; i < 40; i++) api.setNamespace(`ns${i}`);
    const errors: string[] = [];
    const mk = (resource: 'pods' | 'namespaces', max: number) =>
      watcher(api, errors, 'sekret', {
        pageSize: 100,
        resource,
        maxEntries: max,
        backoffMs: undefined,
      });
    const w = mk('pods', 300);
    const n = mk('namespaces', 10);
    w.start();
    n.start();
    await w.waitSynced(10_000);
    await n.waitSynced(10_000);
    expect(w.pods.size).toBe(300);
    expect(w.evicted).toBe(700);
    expect(n.pods.size).toBe(10);
    // Later events keep it bounded too.
    for (let i = 0; i < 50; i++)
      api.add(makePod({ namespace: 'late', name: `late-${i}`, node: 'node-1' }));
    await sleep(300);
    expect(w.pods.size).toBe(300);
    expect([...w.pods.values()].some((p) => p.name === 'late-49')).toBe(true);
    expect(errors).toEqual([]);
  });
});
