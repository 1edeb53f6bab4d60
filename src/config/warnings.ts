// What is valid but probably not meant (issue #21 item 7), reported once: by `validate` as
// `warning:` lines, by `run` as one log line each. An output or filter whose `match` matches no
// input's tag gets nothing; a file input's glob that matches no file reads nothing (yet).

import { statSync } from 'node:fs';
import { compileMatch } from '../core/glob.js';
import { compileGlob, walkGlob } from '../components/inputs/file/glob.js';
import { DEFAULT_TAG as KUBE_TAG } from '../components/inputs/kubernetes/config.js';
import type { ShiplogConfig } from './schema.js';

/** The literal start of a tag template or match pattern (up to its first placeholder/wildcard). */
const literalPrefix = (s: string, stop: RegExp): string =>
  s.slice(0, s.search(stop) < 0 ? s.length : s.search(stop));

function couldMatch(patterns: string | string[], tags: string[]): boolean {
  const list = typeof patterns === 'string' ? [patterns] : patterns;
  const m = compileMatch(list);
  for (const tag of tags) {
    if (!tag.includes('{')) {
      if (m(tag)) return true;
      continue;
    }
    // A templated tag (kube.{namespace}...): possible when the literal parts agree.
    const t = literalPrefix(tag, /\{/);
    for (const p of list) {
      const lp = literalPrefix(p, /[*?]/);
      if (t.startsWith(lp) || lp.startsWith(t)) return true;
    }
  }
  return false;
}

/** `files: false` (validate --config-only): the config alone, not this host's files. */
export async function configWarnings(
  config: ShiplogConfig,
  o: { files?: boolean } = {},
): Promise<string[]> {
  const out: string[] = [];
  // The kubernetes input's tag defaults (tag = id) to its per-file kube.<ns>.<pod>.<container> template.
  const tags = config.pipeline.inputs.map((i) =>
    i.type === 'kubernetes' && i.tag === i.id ? KUBE_TAG : i.tag,
  );
  config.pipeline.outputs.forEach((o, i) => {
    if (!couldMatch(o.match, tags))
      out.push(
        `pipeline.outputs[${i}] (${o.id}): match ${JSON.stringify(o.match)} matches no input's tag (tags: ${tags.join(', ')}): it will receive nothing`,
      );
  });
  config.pipeline.filters.forEach((f, i) => {
    if (!couldMatch(f.match, tags))
      out.push(
        `pipeline.filters[${i}] (${f.id}): match ${JSON.stringify(f.match)} matches no input's tag (tags: ${tags.join(', ')}): it will see nothing`,
      );
  });
  for (const [i, input] of config.pipeline.inputs.entries()) {
    if (input.type !== 'file' || o.files === false) continue;
    for (const p of (input.paths as string[] | undefined) ?? []) {
      const files = await walkGlob(compileGlob(p), { onError: () => undefined });
      const any = files.some((f) => {
        try {
          return statSync(f).isFile();
        } catch {
          return false;
        }
      });
      if (!any)
        out.push(
          `pipeline.inputs[${i}] (${input.id}): ${JSON.stringify(p)} matches no file now (files that appear later are read)`,
        );
    }
  }
  return out;
}
