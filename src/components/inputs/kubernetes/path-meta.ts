// Metadata from the kubelet's log path: `<dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log`
// (rotated files: `<restart>.log.<timestamp>`). Namespace and pod names are DNS names and cannot
// contain `_`; the uid is a UUID (or a hash for static pods). Also the path-level selection:
// namespace include/exclude and shiplog's own pod as globs for the file input, so excluded files
// are never opened.

export interface PathMeta {
  namespace_name: string;
  pod_name: string;
  pod_id: string;
  container_name: string;
  restart_count: number;
}

export function parsePodPath(p: string): PathMeta | undefined {
  const parts = p.split('/');
  if (parts.length < 3) return undefined;
  const file = parts[parts.length - 1];
  const container = parts[parts.length - 2];
  const podDir = parts[parts.length - 3];
  const m = /^(\d+)\.log/.exec(file);
  const a = podDir.indexOf('_');
  const b = podDir.lastIndexOf('_');
  if (!m || a <= 0 || b <= a + 1 || b === podDir.length - 1 || !container) return undefined;
  return {
    namespace_name: podDir.slice(0, a),
    pod_name: podDir.slice(a + 1, b),
    pod_id: podDir.slice(b + 1),
    container_name: container,
    restart_count: Number(m[1]),
  };
}

/** Kubernetes object names: DNS labels/subdomains. Anything else would be a glob injection. */
export const K8S_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/** Exclude globs (full-path patterns of the file input) for namespaces and one pod. */
export function excludeGlobs(namespaces: readonly string[], ownPod?: { ns: string; pod: string }) {
  const out = namespaces.map((ns) => `/**/${ns}_*/*/*`);
  if (ownPod) out.push(`/**/${ownPod.ns}_${ownPod.pod}_*/*/*`);
  return out;
}

/**
 * Narrow `<dir>/*\/*\/*.log`-shaped globs to the included namespaces (`<dir>/{a,b}_*\/*\/*.log`)
 * so other namespaces' files are not even opened; other shapes are filtered after reading.
 */
export function narrowPaths(paths: readonly string[], include: readonly string[]): string[] {
  if (include.length === 0) return [...paths];
  const seg = include.length === 1 ? `${include[0]}_*` : `{${include.join(',')}}_*`;
  return paths.map((p) => {
    const parts = p.split('/');
    if (parts.length >= 4 && parts[parts.length - 3] === '*') parts[parts.length - 3] = seg;
    return parts.join('/');
  });
}
