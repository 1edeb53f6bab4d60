// `kubernetes`: container logs of the pods on this node, from the kubelet's /var/log/pods tree,
// with the file input's tailing and checkpoints, CRI/docker decoding, partial-line joining and
// pod metadata. See README.md and input.ts.

import { defineInput, type Input } from '../../../core/component.js';
import { ConfigError } from '../../../core/errors.js';
import { compileTemplate, type Template } from '../../../core/template.js';
import { DEFAULT_TAG } from './config.js';
import { meta } from './meta.js';
import { KubernetesInput } from './input.js';
import { K8S_NAME } from './path-meta.js';

export default defineInput({
  ...meta,
  create(config, ctx): Input {
    const bad = (path: string, message: string): ConfigError =>
      new ConfigError([{ code: 'SHIPLOG_CONFIG_INVALID', path: `${ctx.id}.${path}`, message }]);
    for (const key of ['include_namespaces', 'exclude_namespaces'] as const)
      for (const ns of config[key])
        if (!K8S_NAME.test(ns)) throw bad(key, `"${ns}" is not a namespace name`);
    // The common `tag` defaults to the id: then the per-file kube.<ns>.<pod>.<container> template.
    const source = config.tag === ctx.id ? DEFAULT_TAG : config.tag;
    let tag: Template;
    try {
      tag = compileTemplate(source);
    } catch (e) {
      throw bad('tag', (e as Error).message);
    }
    const env = process.env;
    const ns = env.POD_NAMESPACE;
    const pod = env.POD_NAME;
    const ownPod =
      config.exclude_own_pod && ns && pod && K8S_NAME.test(ns) && K8S_NAME.test(pod)
        ? { ns, pod }
        : undefined;
    return new KubernetesInput(config, ctx, { tag, ownPod, env });
  },
});
