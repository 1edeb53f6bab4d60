// Deployment artefacts for the deploy-*.test.ts files: the example configs, the systemd unit, the
// Kubernetes manifests and the Dockerfile as data, the component registry of a build, and the
// single-file bundle installed like on a node (one file + the native addon) — built under a lock
// so that test files running in parallel never write dist/shiplog.mjs at once, and only when it
// is older than its sources (deploy-bundle.test.ts always builds it: that is its subject).

import { createHash } from 'node:crypto';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseDuration, parseSize } from '../../src/core/units.js';
import { tempDir } from './harness.js';
import { ROOT } from './proc.js';

export type Json = Record<string, unknown>;
export const KINDS = ['inputs', 'filters', 'outputs'] as const;
export type Kind = (typeof KINDS)[number];
export type Registry = Record<Kind, Set<string>>;

export const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  scripts: Record<string, string>;
};
export const EXAMPLES_DIR = path.join(ROOT, 'conf', 'examples');
export const EXAMPLES = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort();
export const UNIT = path.join(ROOT, 'systemd', 'shiplog.service');
export const K8S_DIR = path.join(ROOT, 'packaging', 'kubernetes');
export const DOCKERFILE = path.join(ROOT, 'packaging', 'Dockerfile');

export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/bin'])) {
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Component types registered in a build, read from its `shiplog schema` output. */
export function registryOf(schemaJson: string): Registry {
  const schema = JSON.parse(schemaJson) as {
    properties: { pipeline: { properties: Record<Kind, { items: Json }> } };
  };
  const out = {} as Registry;
  for (const k of KINDS) {
    const items = schema.properties.pipeline.properties[k].items;
    const alts = ((items.oneOf ?? items.anyOf ?? [items]) as Json[]).map(
      (a) => (a.properties as Record<string, { const?: string }> | undefined)?.type?.const,
    );
    out[k] = new Set(alts.filter((t): t is string => typeof t === 'string'));
  }
  // If the schema shape changed, a silent empty registry would skip every example: refuse.
  expect(out.inputs.has('demo') && out.outputs.has('stdout')).toBe(true);
  return out;
}

export interface ConfigDoc {
  service?: { data_dir?: string; http?: { listen?: string }; [k: string]: unknown };
  pipeline: Record<Kind, Array<{ type: string } & Json> | undefined>;
}

export function missingTypes(cfg: ConfigDoc, reg: Registry): string[] {
  const missing: string[] = [];
  for (const k of KINDS)
    for (const c of cfg.pipeline[k] ?? [])
      if (!reg[k].has(c.type)) missing.push(`${k.slice(0, -1)} ${c.type}`);
  return missing;
}

export function ms(v: string | number | undefined, fallback: string): number {
  const d = parseDuration(v ?? fallback);
  if (d === undefined) throw new Error(`bad duration ${String(v)}`);
  return d;
}

export function bytes(v: string | number | undefined, fallback: string): number {
  const b = parseSize(v ?? fallback);
  if (b === undefined) throw new Error(`bad size ${String(v)}`);
  return b;
}

/** Kubernetes quantity (512Mi, 1Gi, 500M, 1) in bytes. */
export function quantity(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) throw new Error(`bad quantity ${q}`);
  const mult: Record<string, number> = {
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

/** systemd size (768M = MiB, base 1024) in bytes. */
export function systemdSize(v: string): number {
  const m = /^(\d+)([KMGT])?$/.exec(v.trim());
  if (!m) throw new Error(`bad systemd size ${v}`);
  const exp = m[2] ? 'KMGT'.indexOf(m[2]) + 1 : 0;
  return Number(m[1]) * 1024 ** exp;
}

/** The unit file as section → key → values (repeated keys kept in order). */
export function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1];
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    ((out[section] ??= {})[key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

export function loadConfig(file: string): ConfigDoc {
  return parseYaml(readFileSync(file, 'utf8')) as ConfigDoc;
}

// ---------------------------------------------------------------------------------------------
// The bundle, installed in a temp dir: /usr/lib/shiplog/{shiplog.mjs,node_modules/{snappy,
// @napi-rs/snappy-<platform>}} and /usr/bin/shiplog -> shiplog.mjs, without the repository's
// node_modules.

export interface Install {
  dir: string;
  bundle: string;
  bin: string;
  registry: Registry;
}

/** Filled by installBundle() (in a beforeAll). */
export const install: Install = { dir: '', bundle: '', bin: '', registry: undefined as never };

export function shiplog(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(install.bin, args, {
    cwd: install.dir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

const BUNDLE = path.join(ROOT, 'dist', 'shiplog.mjs');

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = st.mtimeMs;
  for (const e of readdirSync(p)) t = Math.max(t, newestMtime(path.join(p, e)));
  return t;
}

/** dist/shiplog.mjs exists and is newer than everything it is built from. */
function bundleFresh(): boolean {
  if (!existsSync(BUNDLE)) return false;
  const sources = ['src', 'packaging', 'package.json', 'package-lock.json'].map((p) =>
    path.join(ROOT, p),
  );
  return statSync(BUNDLE).mtimeMs >= Math.max(...sources.map(newestMtime));
}

/** Run `fn` holding this checkout's bundle lock (a directory; taken over after 3 minutes). */
async function withBundleLock<T>(fn: () => T): Promise<T> {
  const key = createHash('sha1').update(ROOT).digest('hex').slice(0, 12);
  const lock = path.join(os.tmpdir(), `shiplog-bundle-${key}.lock`);
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true });
      } catch {
        // Released meanwhile.
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Build the bundle (always with `rebuild`, else when stale) and install a copy of it. */
export async function installBundle(o: { rebuild?: boolean } = {}): Promise<void> {
  await withBundleLock(() => {
    if (o.rebuild || !bundleFresh()) {
      const t0 = Date.now();
      const b = run('npm', ['run', '--silent', 'bundle']);
      expect(b.stderr.replace(/npm warn[^\n]*\n/gi, '')).toBe('');
      expect(b.status).toBe(0);
      expect(Date.now() - t0).toBeLessThan(60_000);
    }
    const dir = tempDir('shiplog-install-');
    const lib = path.join(dir, 'lib');
    mkdirSync(path.join(lib, 'node_modules', '@napi-rs'), { recursive: true });
    const bundle = path.join(lib, 'shiplog.mjs');
    copyFileSync(BUNDLE, bundle);
    chmodSync(bundle, 0o755);
    const nm = path.join(ROOT, 'node_modules');
    cpSync(path.join(nm, 'snappy'), path.join(lib, 'node_modules', 'snappy'), { recursive: true });
    for (const d of readdirSync(path.join(nm, '@napi-rs')).filter((d) => d.startsWith('snappy-')))
      cpSync(path.join(nm, '@napi-rs', d), path.join(lib, 'node_modules', '@napi-rs', d), {
        recursive: true,
      });
    mkdirSync(path.join(dir, 'bin'));
    const bin = path.join(dir, 'bin', 'shiplog');
    symlinkSync(bundle, bin);
    Object.assign(install, { dir, bundle, bin });
  });
  const s = shiplog(['schema']);
  expect(s.status).toBe(0);
  install.registry = registryOf(s.stdout);
}

// ---------------------------------------------------------------------------------------------
// Kubernetes manifests

export interface K8sDoc extends Json {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
}

export function k8sDocs(): K8sDoc[] {
  const docs: K8sDoc[] = [];
  for (const f of readdirSync(K8S_DIR).filter(
    (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
  )) {
    for (const d of parseAllDocuments(readFileSync(path.join(K8S_DIR, f), 'utf8'))) {
      expect(d.errors, f).toEqual([]);
      const js = d.toJS() as K8sDoc | null;
      if (js) docs.push(js);
    }
  }
  return docs;
}

export function byKind(kind: string): K8sDoc[] {
  return k8sDocs().filter((d) => d.kind === kind);
}

export interface Probe {
  httpGet: { path: string; port: string | number };
}
export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Json & { capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}
export interface PodSpec {
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
  tolerations?: Array<{ key?: string; operator?: string; effect?: string }>;
  containers: Container[];
  volumes: Array<
    { name: string; hostPath?: { path: string }; configMap?: { name: string } } & Json
  >;
}

export function daemonSet(): {
  ds: K8sDoc;
  pod: PodSpec;
  c: Container;
  annotations: Record<string, string>;
} {
  const [ds] = byKind('DaemonSet');
  const tpl = (
    ds.spec as { template: { metadata: { annotations: Record<string, string> }; spec: PodSpec } }
  ).template;
  return { ds, pod: tpl.spec, c: tpl.spec.containers[0], annotations: tpl.metadata.annotations };
}

export function daemonSetProbes(): Array<{ path: string; port: number }> {
  const { c } = daemonSet();
  const port = (p: string | number): number =>
    typeof p === 'number' ? p : c.ports!.find((x) => x.name === p)!.containerPort;
  return [c.livenessProbe!, c.readinessProbe!].map((p) => ({
    path: p.httpGet.path,
    port: port(p.httpGet.port),
  }));
}

export function configMapConfig(): { text: string; cfg: ConfigDoc; mountDir: string } {
  const { pod, c } = daemonSet();
  const vol = pod.volumes.find((v) => v.configMap)!;
  const cm = byKind('ConfigMap').find((d) => d.metadata.name === vol.configMap!.name)!;
  expect(cm, 'ConfigMap of the DaemonSet').toBeDefined();
  const mountDir = c.volumeMounts!.find((m) => m.name === vol.name)!.mountPath;
  const args = c.args ?? [];
  const cfgPath = args[args.indexOf('-c') + 1];
  expect(path.dirname(cfgPath)).toBe(mountDir);
  const text = (cm.data as Record<string, string>)[path.basename(cfgPath)];
  expect(text, `ConfigMap key ${path.basename(cfgPath)}`).toBeDefined();
  return { text, cfg: parseYaml(text) as ConfigDoc, mountDir };
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

export function dockerInstructions(): Array<{ op: string; args: string }> {
  const joined = readFileSync(DOCKERFILE, 'utf8')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const i = l.search(/\s/);
      return { op: l.slice(0, i).toUpperCase(), args: l.slice(i + 1).trim() };
    });
}

export function dockerHealthcheck(): string[] {
  const hc = dockerInstructions().find((i) => i.op === 'HEALTHCHECK');
  expect(hc, 'HEALTHCHECK').toBeDefined();
  const cmd = /\bCMD\s+(\[.*\])\s*$/.exec(hc!.args);
  expect(cmd, 'HEALTHCHECK in exec form').not.toBeNull();
  return JSON.parse(cmd![1]) as string[];
}
