// packaging/kubernetes: the manifests keep their invariants (pinned images, read-only RBAC and
// mounts, probes on paths the running bundle serves, grace period ≥ shutdown_timeout), and the
// ConfigMap's config validates with the bundle.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { tempDir } from './helpers/harness.js';
import { ROOT } from './helpers/proc.js';
import {
  bytes,
  byKind,
  configMapConfig,
  daemonSet,
  daemonSetProbes,
  install,
  installBundle,
  k8sDocs,
  KINDS,
  missingTypes,
  ms,
  PKG,
  quantity,
  shiplog,
  type Json,
  K8S_DIR,
  type Container,
  type PodSpec,
} from './helpers/deploy.js';

beforeAll(() => installBundle({ rebuild: false }), 150_000);

describe('packaging/kubernetes', () => {
  it('parses, and kustomization.yaml applies every manifest', () => {
    const kinds = k8sDocs().map((d) => d.kind);
    for (const k of [
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'NetworkPolicy',
    ])
      expect(kinds).toContain(k);
    // #17.8: only the telemetry port of shiplog's own pods, ingress only.
    const [np] = byKind('NetworkPolicy') as unknown as Array<{
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: Array<{ ports: Array<{ port: number }> }>;
      };
    }>;
    expect(np.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'shiplog' });
    expect(np.spec.policyTypes).toEqual(['Ingress']);
    expect(np.spec.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([2020]);
    const kz = parseYaml(readFileSync(path.join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    expect(kz.resources.sort()).toEqual(
      readdirSync(K8S_DIR)
        .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
        .sort(),
    );
  });

  it('RBAC is read-only: get/list/watch on pods and namespaces, bound to the DaemonSet account', () => {
    const [role] = byKind('ClusterRole');
    const rules = role.rules as Array<{
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }>;
    const granted = new Set<string>();
    for (const r of rules) {
      expect(r.apiGroups).toEqual(['']);
      for (const v of r.verbs) expect(['get', 'list', 'watch']).toContain(v);
      for (const res of r.resources) {
        expect(['pods', 'namespaces']).toContain(res);
        for (const v of r.verbs) granted.add(`${res}:${v}`);
      }
    }
    expect([...granted].sort()).toEqual(
      ['pods', 'namespaces']
        .flatMap((r) => ['get', 'list', 'watch'].map((v) => `${r}:${v}`))
        .sort(),
    );
    expect(byKind('Role')).toEqual([]);
    const [binding] = byKind('ClusterRoleBinding');
    const [sa] = byKind('ServiceAccount');
    const { ds, pod } = daemonSet();
    expect(binding.roleRef).toMatchObject({ kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(ds.metadata.namespace).toBe(sa.metadata.namespace);
  });

  it('images are pinned to this release, never latest', () => {
    for (const f of readdirSync(K8S_DIR))
      expect(readFileSync(path.join(K8S_DIR, f), 'utf8')).not.toMatch(/:latest\b/);
    const { pod } = daemonSet();
    for (const c of pod.containers) {
      const m = /^[^:@\s]+(?::([\w.-]+))?(@sha256:[0-9a-f]{64})?$/.exec(c.image);
      expect(m, c.image).not.toBeNull();
      expect(m![1] ?? m![2]).toBeDefined();
      if (m![1]) expect(m![1]).toBe(PKG.version);
    }
  });

  it('probes and scrape annotations point at the served paths on the configured port', () => {
    const { c, annotations } = daemonSet();
    const { cfg } = configMapConfig();
    const listen = cfg.service?.http?.listen ?? '';
    const m = /^(.*):(\d+)$/.exec(listen);
    expect(m, 'service.http.listen').not.toBeNull();
    expect(m![1]).toBe('0.0.0.0'); // reachable from the kubelet and Prometheus
    const port = Number(m![2]);
    expect(daemonSetProbes()).toEqual([
      { path: '/healthz', port },
      { path: '/readyz', port },
    ]);
    expect(c.ports!.map((p) => p.containerPort)).toContain(port);
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/port']).toBe(String(port));
    expect(annotations['prometheus.io/path']).toBe('/metrics');
  });

  it('mounts only /var/log/pods read-only and the checkpoint directory at data_dir (#17.16)', () => {
    const { pod, c } = daemonSet();
    const { cfg } = configMapConfig();
    const mountOf = (hostPath: string) => {
      const v = pod.volumes.find((v) => v.hostPath?.path === hostPath);
      expect(v, `hostPath ${hostPath}`).toBeDefined();
      return c.volumeMounts!.find((m) => m.name === v!.name)!;
    };
    expect(mountOf('/var/log/pods')).toMatchObject({ mountPath: '/var/log/pods', readOnly: true });
    // Nothing else of the host's /var/log: the config reads pod logs only.
    expect(pod.volumes.filter((v) => v.hostPath?.path.startsWith('/var/log'))).toHaveLength(1);
    const inputs = cfg.pipeline.inputs ?? [];
    for (const i of inputs)
      for (const p of (i.paths as string[] | undefined) ?? [])
        expect(p.startsWith('/var/log/pods/'), p).toBe(true);
    const state = mountOf('/var/lib/shiplog');
    expect(state.readOnly ?? false).toBe(false);
    expect(state.mountPath).toBe(cfg.service?.data_dir);
    // No other host path is mounted writable.
    for (const v of pod.volumes.filter((v) => v.hostPath && v.hostPath.path !== '/var/lib/shiplog'))
      expect(c.volumeMounts!.find((m) => m.name === v.name)?.readOnly, v.name).toBe(true);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.securityContext!.privileged ?? false).toBe(false);
  });

  it('runs non-root; only an init container with CHOWN alone hands it the state directory (#17.16)', () => {
    const { pod, c } = daemonSet();
    const sc = c.securityContext as Json & { runAsUser?: number; runAsNonRoot?: boolean };
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.runAsUser).not.toBe(0);
    // The 0640 root:root pod logs are read through the root group, not as root.
    expect(
      (pod as PodSpec & { securityContext?: { supplementalGroups?: number[] } }).securityContext
        ?.supplementalGroups,
    ).toEqual([0]);
    const inits = (pod as PodSpec & { initContainers?: Container[] }).initContainers ?? [];
    for (const i of inits) {
      expect(i.securityContext?.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN'] });
      expect(i.securityContext).toMatchObject({ allowPrivilegeEscalation: false });
      for (const m of i.volumeMounts ?? []) expect(m.mountPath).toBe('/var/lib/shiplog');
      expect(i.image).toBe(c.image);
    }
  });

  it('sets each environment variable once (no duplicate NODE_OPTIONS) (#17.16)', () => {
    const { c } = daemonSet();
    const names = (c.env ?? []).map((e) => e.name);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n === 'NODE_OPTIONS')).toHaveLength(1);
  });

  it('the deployment docs show the image pinned by digest (#17.16)', () => {
    const text = readFileSync(path.join(ROOT, 'docs', 'deployment.md'), 'utf8');
    expect(text).toMatch(/ghcr\.io\/infrafabric\/shiplog:[\w.-]+@sha256:/);
    expect(text).toMatch(/digest: sha256:/);
  });

  it('has NODE_NAME, control-plane tolerations, resources, and a grace period above shutdown_timeout', () => {
    const { pod, c } = daemonSet();
    const { cfg } = configMapConfig();
    expect(c.env!.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'spec.nodeName',
    );
    expect(pod.tolerations).toEqual(
      expect.arrayContaining([
        { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      ]),
    );
    const { requests, limits } = c.resources ?? {};
    for (const r of ['cpu', 'memory']) {
      expect(requests?.[r], `requests.${r}`).toBeDefined();
      expect(limits?.[r], `limits.${r}`).toBeDefined();
    }
    expect(quantity(limits!.memory)).toBeGreaterThanOrEqual(quantity(requests!.memory));
    expect(quantity(limits!.memory)).toBeGreaterThanOrEqual(
      2 * bytes(cfg.service?.memory_limit as string | undefined, '256MiB'),
    );
    const shutdown = ms(cfg.service?.shutdown_timeout as string | undefined, '30s');
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(shutdown + 5_000);
  });

  it('the ConfigMap config validates in full with the bundle', () => {
    const { cfg } = configMapConfig();
    const types = KINDS.flatMap((k) => (cfg.pipeline[k] ?? []).map((c) => c.type));
    expect(types).toEqual(expect.arrayContaining(['kubernetes', 'loki']));
    expect(missingTypes(cfg, install.registry)).toEqual([]);
    const env = { NODE_NAME: 'node-1' };
    const dir = tempDir();
    const full = path.join(dir, 'shiplog.yaml');
    writeFileSync(full, configMapConfig().text);
    const r = shiplog(['validate', '--config-only', '-c', full], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
