// Pod metadata from the API, as the records carry it. Pure: turns a Pod object (the JSON the
// API server returns) into the fields added under `kubernetes.` — Fluent Bit's kubernetes filter
// names (labels, annotations, host, container_image, container_hash, docker_id) plus `owner`
// (the workload: Deployment through its ReplicaSet, StatefulSet, DaemonSet, Job, …).

export interface ContainerMeta {
  image?: string;
  /** imageID of the running image (`container_hash` in Fluent Bit). */
  imageId?: string;
  /** Runtime container id of the current instance, without the `containerd://` scheme. */
  containerId?: string;
  restartCount?: number;
  /** Id of the previous instance (lastState.terminated). */
  lastContainerId?: string;
}

export interface PodMeta {
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  host?: string;
  owner?: { kind: string; name: string };
  containers: Map<string, ContainerMeta>;
  resourceVersion?: string;
  /** Set when the API reported the pod deleted (ms); kept while its files are read. */
  deletedAt?: number;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function stringMap(v: unknown): Record<string, string> {
  const o = obj(v);
  const out: Record<string, string> = {};
  if (!o) return out;
  for (const k of Object.keys(o)) if (typeof o[k] === 'string') out[k] = o[k];
  return out;
}

function stripScheme(id: string | undefined): string | undefined {
  if (!id) return undefined;
  const i = id.indexOf('://');
  return i >= 0 ? id.slice(i + 3) : id;
}

/** The workload that owns a pod. A ReplicaSet named `<deployment>-<pod-template-hash>` ⇒ Deployment. */
export function ownerOf(
  refs: unknown,
  labels: Record<string, string>,
): { kind: string; name: string } | undefined {
  const list = arr(refs)
    .map(obj)
    .filter((r): r is Obj => r !== undefined);
  const ref = list.find((r) => r.controller === true) ?? list[0];
  if (!ref) return undefined;
  const kind = str(ref.kind);
  const name = str(ref.name);
  if (!kind || !name) return undefined;
  if (kind === 'ReplicaSet') {
    const hash = labels['pod-template-hash'];
    if (hash && name.endsWith(`-${hash}`))
      return { kind: 'Deployment', name: name.slice(0, -hash.length - 1) };
    // Without the label: the ReplicaSet name pattern (`<deployment>-<hash>`, the hash in the
    // alphabet Kubernetes' SafeEncodeString uses).
    const m = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}$/.exec(name);
    if (m) return { kind: 'Deployment', name: m[1] };
  }
  if (kind === 'Job') {
    // A CronJob names its Jobs `<cronjob>-<scheduled time in minutes>`.
    const m = /^(.+)-\d{8,}$/.exec(name);
    if (m) return { kind: 'CronJob', name: m[1] };
  }
  return { kind, name };
}

/** Never shipped, whatever the allowlist: it holds the whole last applied object, secrets too. */
export const NEVER_SHIPPED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Annotations as configured: false = none, true = all, a list = those keys. */
export function selectAnnotations(
  all: Record<string, string>,
  allow: boolean | readonly string[],
): Record<string, string> | undefined {
  if (allow === false) return undefined;
  const out: Record<string, string> = {};
  let n = 0;
  if (allow === true) {
    for (const k of Object.keys(all))
      if (k !== NEVER_SHIPPED) {
        out[k] = all[k];
        n++;
      }
  } else {
    for (const k of allow)
      if (k !== NEVER_SHIPPED && all[k] !== undefined) {
        out[k] = all[k];
        n++;
      }
  }
  return n > 0 ? out : undefined;
}

/** A namespace as the records carry it. */
export interface NamespaceMeta {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function namespaceMeta(ns: unknown): NamespaceMeta | undefined {
  const md = obj(obj(ns)?.metadata);
  const name = str(md?.name);
  if (!md || !name) return undefined;
  return { name, labels: stringMap(md.labels), annotations: stringMap(md.annotations) };
}

export function podMeta(pod: unknown): PodMeta | undefined {
  const p = obj(pod);
  const md = obj(p?.metadata);
  const uid = str(md?.uid);
  const namespace = str(md?.namespace);
  const name = str(md?.name);
  if (!p || !md || !uid || !namespace || !name) return undefined;
  const spec = obj(p.spec);
  const status = obj(p.status);
  const labels = stringMap(md.labels);
  const containers = new Map<string, ContainerMeta>();
  for (const list of [spec?.initContainers, spec?.containers, spec?.ephemeralContainers]) {
    for (const c of arr(list)) {
      const n = str(obj(c)?.name);
      if (n) containers.set(n, { image: str(obj(c)?.image) });
    }
  }
  for (const list of [
    status?.initContainerStatuses,
    status?.containerStatuses,
    status?.ephemeralContainerStatuses,
  ]) {
    for (const cs of arr(list)) {
      const s = obj(cs);
      const n = str(s?.name);
      if (!s || !n) continue;
      const c = containers.get(n) ?? {};
      c.image ??= str(s.image);
      c.imageId = str(s.imageID) || undefined;
      c.containerId = stripScheme(str(s.containerID));
      c.restartCount = typeof s.restartCount === 'number' ? s.restartCount : undefined;
      c.lastContainerId = stripScheme(str(obj(obj(s.lastState)?.terminated)?.containerID));
      containers.set(n, c);
    }
  }
  return {
    uid,
    namespace,
    name,
    labels,
    annotations: stringMap(md.annotations),
    host: str(spec?.nodeName),
    owner: ownerOf(md.ownerReferences, labels),
    containers,
    resourceVersion: str(md.resourceVersion),
  };
}

export interface EnrichOptions {
  labels: boolean;
  annotations: boolean | readonly string[];
  namespaceLabels?: boolean;
  namespaceAnnotations?: boolean | readonly string[];
  /** Cap of the API metadata of one file (its JSON size); the largest maps go first. */
  maxBytes?: number;
}

/**
 * The API fields for one container log file (container name and restart number from its path),
 * added next to the path fields. Nested objects are copied per record by the caller.
 */
export function apiFields(
  pod: PodMeta,
  container: string,
  restart: number,
  opts: EnrichOptions,
  ns?: NamespaceMeta,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (pod.host) out.host = pod.host;
  const c = pod.containers.get(container);
  if (c?.image) out.container_image = c.image;
  if (c?.imageId) out.container_hash = c.imageId;
  // The path's restart number is the instance: the current one, or the one before it.
  const id =
    c?.restartCount === undefined || c.restartCount === restart
      ? c?.containerId
      : c.restartCount === restart + 1
        ? c.lastContainerId
        : undefined;
  if (id) out.docker_id = id;
  if (opts.labels && Object.keys(pod.labels).length > 0) out.labels = pod.labels;
  const ann = selectAnnotations(pod.annotations, opts.annotations);
  if (ann) out.annotations = ann;
  if (pod.owner) out.owner = pod.owner;
  if (ns) {
    if (opts.namespaceLabels && Object.keys(ns.labels).length > 0) out.namespace_labels = ns.labels;
    const nsAnn = selectAnnotations(ns.annotations, opts.namespaceAnnotations ?? false);
    if (nsAnn) out.namespace_annotations = nsAnn;
  }
  if (opts.maxBytes !== undefined) capMetadata(out, opts.maxBytes);
  return out;
}

/** Maps dropped first when a file's metadata is over its cap. */
const DROP_ORDER = ['annotations', 'namespace_annotations', 'labels', 'namespace_labels', 'owner'];

/**
 * Keep `out` (API fields) within `maxBytes` of JSON: drop whole maps, annotations first, and
 * flag `metadata_truncated`. Returns the final size.
 */
export function capMetadata(out: Record<string, unknown>, maxBytes: number): number {
  let size = JSON.stringify(out).length;
  for (const k of DROP_ORDER) {
    if (size <= maxBytes) break;
    if (out[k] === undefined) continue;
    delete out[k];
    out.metadata_truncated = true;
    size = JSON.stringify(out).length;
  }
  return size;
}
