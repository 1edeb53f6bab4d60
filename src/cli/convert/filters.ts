// Filters: kubernetes (options go to the kubernetes input; Merge_Log becomes parse_json), parser,
// modify, grep, record_modifier, nest (nest of listed keys), throttle; lua and the rest reported.

import { accessor, literal, type Conv, type Obj } from './context.js';
import { at, bool, list, seconds, type Entry, type Section } from './model.js';
import { parserFilters } from './parsers.js';
import type { RoutedInput } from './routing.js';

type Add = (obj: Obj, what?: string) => void;

export function convertFilter(
  c: Conv,
  s: Section,
  match: string | string[],
  inputs: RoutedInput[],
): void {
  let n = 0;
  const base = c.value(s, 'alias') ?? s.plugin;
  const add: Add = (obj, what) => {
    c.filters.push({
      obj: { type: obj.type, id: c.id(n++ === 0 ? base : `${base}_${n}`), match, ...obj },
      origin: `${c.origin(s)}${what ? ' ' + what : ''}`,
    });
  };
  switch (s.plugin) {
    case 'kubernetes':
      return kubernetes(c, s, add, inputs);
    case 'parser': {
      const key = c.value(s, 'key_name') ?? 'log';
      const parsers = c.useAll(s, 'parser');
      if (!parsers.length) {
        c.report.add(at(s), 'error', '[FILTER] parser', 'no Parser given', '');
        return;
      }
      const reserve = bool(c.value(s, 'reserve_data'), false);
      const preserve = bool(c.value(s, 'preserve_key'), false);
      for (const p of parsers)
        for (const f of parserFilters(c, p, list(p.value), accessor(key) ?? key, {
          reserve,
          preserve,
        }))
          add(f, `Parser ${p.value}`);
      c.leftovers(s, 'the parse filters');
      return;
    }
    case 'modify':
      return modify(c, s, add);
    case 'grep':
      return grep(c, s, add);
    case 'record_modifier': {
      const set: Obj = {};
      for (const e of c.useAll(s, 'record')) {
        const m = /^(\S+)\s+(.*)$/.exec(e.value);
        if (m) set[m[1]] = literal(m[2]);
      }
      const remove = c.useAll(s, 'remove_key').map((e) => e.value);
      if (Object.keys(set).length || remove.length)
        add({
          type: 'modify',
          ...(Object.keys(set).length ? { set } : {}),
          ...(remove.length ? { remove } : {}),
        });
      for (const k of ['allowlist_key', 'whitelist_key'])
        for (const e of c.useAll(s, k))
          c.report.add(
            at(e),
            'warning',
            `${e.rawKey} ${e.value}`,
            'shiplog modify removes listed fields; it has no allowlist',
            'list the fields to remove (modify remove)',
          );
      c.leftovers(s, 'modify');
      return;
    }
    case 'nest':
      return nest(c, s, add);
    case 'throttle':
      return throttle(c, s, add);
    case 'lua': {
      const script = c.value(s, 'script') ?? c.value(s, 'code') ?? '';
      c.report.add(
        at(s),
        'error',
        `[FILTER] lua ${script} ${c.value(s, 'call') ?? ''}`.trim(),
        'shiplog runs no scripts: a Lua filter has no equivalent and was not converted',
        'express the script with modify/enrich/grep/label/redact filters (see docs/migrating-from-fluent-bit.md), or open an issue with what it does',
      );
      c.consumeAll(s);
      return;
    }
    default:
      c.report.add(
        at(s),
        'error',
        `[FILTER] ${s.plugin || '(no Name)'}`,
        `shiplog has no ${s.plugin} filter; it was not converted`,
        'filters: parse_json, parse_regex, parse_logfmt, enrich, label, modify, grep, throttle, redact',
      );
  }
}

function kubernetes(c: Conv, s: Section, add: Add, inputs: RoutedInput[]): void {
  const kube = c.inputs.filter(
    (i) =>
      i.obj.type === 'kubernetes' &&
      inputs.some(
        (r) => r.tagGlob === `${String(i.obj.tag).split('{')[0]}*` || r.tag === i.obj.tag,
      ),
  );
  if (!kube.length) {
    c.report.add(
      at(s),
      'error',
      '[FILTER] kubernetes',
      "it matches no tail input on /var/log/containers: pod metadata comes from shiplog's kubernetes input",
      'read container logs with the kubernetes input',
    );
    c.leftovers(s, 'the kubernetes input');
    return;
  }
  for (const k of kube) {
    const meta: Obj = { enabled: true };
    const url = c.value(s, 'kube_url');
    if (url) meta.api_server = url;
    const ca = c.value(s, 'kube_ca_file');
    if (ca) meta.ca_file = ca;
    const token = c.value(s, 'kube_token_file');
    if (token) meta.token_file = token;
    if (!bool(c.value(s, 'labels'), true)) meta.labels = false;
    if (!bool(c.value(s, 'annotations'), true)) meta.annotations = false;
    if (bool(c.value(s, 'tls.verify'), true) === false) meta.insecure_skip_verify = true;
    k.obj.metadata = meta;
    if (bool(c.value(s, 'k8s-logging.exclude'), false)) {
      k.obj.exclude_annotation = 'fluentbit.io/exclude';
      // Fluent Bit lets every pod opt out; shiplog only pods of the listed namespaces (#17.15).
      k.obj.exclude_annotation_namespaces = ['*'];
    }
  }
  const parserAnn = c.use(s, 'k8s-logging.parser');
  if (parserAnn && bool(parserAnn.value, false))
    c.report.add(
      at(parserAnn),
      'warning',
      `${parserAnn.rawKey} ${parserAnn.value}`,
      'shiplog does not read the fluentbit.io/parser pod annotation',
      "add parse filters matching those pods' tags (kube.<ns>.<pod>.*)",
    );
  if (bool(c.value(s, 'merge_log'), false)) {
    const target = c.value(s, 'merge_log_key');
    add(
      {
        type: 'parse_json',
        field: 'log',
        keep_original: bool(c.value(s, 'keep_log'), true),
        ...(target ? { target } : {}),
      },
      'Merge_Log',
    );
  } else c.use(s, 'keep_log');
  c.report.add(
    at(s),
    'info',
    '[FILTER] kubernetes',
    'pod metadata (kubernetes.namespace_name, pod_name, pod_id, container_name, labels, annotations, host, container_image, docker_id) is added by the kubernetes input (metadata.enabled: true, one node-scoped watch); it needs NODE_NAME from the downward API and get/list/watch on pods',
    'set NODE_NAME in the DaemonSet (packaging/kubernetes/)',
  );
  c.noted(s, {
    buffer_size: ['API responses are streamed'],
    kube_tag_prefix: ['metadata comes from the file path, not the tag'],
    kube_meta_cache_ttl: ['metadata is kept from a watch, not a cache with TTL'],
    use_kubelet: ['the API server is watched (one node-scoped watch)'],
    kubelet_port: ['the API server is watched'],
    merge_log_trim: ['parse_json trims'],
  });
  c.leftovers(s, 'the kubernetes input');
}

type Op = 'rename' | 'copy' | 'set' | 'remove' | 'add';
const RANK: Record<Op, number> = { rename: 0, copy: 1, set: 2, remove: 4, add: 5 };

function modify(c: Conv, s: Section, add: Add): void {
  const conds = s.entries.filter((e) => e.key === 'condition');
  if (conds.length) {
    for (const e of c.useAll(s, 'condition'))
      c.report.add(
        at(e),
        'error',
        `${e.rawKey} ${e.value}`,
        'modify conditions have no equivalent; the whole modify filter was not converted (applying it unconditionally would change records it must not touch)',
        'split the records by tag or use grep to route them, then modify',
      );
    c.consumeAll(s);
    return;
  }
  // Fluent Bit applies the rules in the order written; shiplog's modify has a fixed order
  // (rename, copy, set, remove), so a new filter starts whenever that order would be broken.
  let cur: Obj | undefined;
  let last = -1;
  const flush = (): void => {
    if (cur) add(cur);
    cur = undefined;
    last = -1;
  };
  for (const e of s.entries) {
    const op = OPS[e.key];
    if (!op) continue;
    c.use(s, e.key);
    const args = e.value.split(/\s+/);
    const [k, ...rest] = args;
    const v = rest.join(' ');
    const rank = RANK[op.op];
    if (!cur || rank < last || (op.op === 'add') !== (cur.type === 'enrich')) {
      flush();
      cur = op.op === 'add' ? { type: 'enrich', add: {} } : { type: 'modify' };
    }
    last = rank;
    const bucket = op.op === 'remove' ? undefined : ((cur[op.op] ??= {}) as Obj);
    if (op.op === 'remove') ((cur.remove ??= []) as string[]).push(k);
    else if (op.op === 'set' || op.op === 'add') bucket![k] = literal(v);
    else bucket![k] = v;
    if (op.note) c.report.add(at(e), 'info', `${e.rawKey} ${e.value}`, op.note, '');
  }
  flush();
  for (const k of ['remove_wildcard', 'remove_regex', 'move_to_start', 'move_to_end'])
    for (const e of c.useAll(s, k))
      c.report.add(
        at(e),
        'warning',
        `${e.rawKey} ${e.value}`,
        `${e.rawKey} has no equivalent (modify takes exact field names)`,
        'list the fields explicitly (modify remove)',
      );
  c.leftovers(s, 'modify');
}

const OPS: Record<string, { op: Op; note?: string }> = {
  set: { op: 'set' },
  add: { op: 'add' },
  remove: { op: 'remove' },
  rename: {
    op: 'rename',
    note: 'shiplog rename replaces an existing target field; Fluent Bit Rename skips the record when the target exists (Hard_rename replaces)',
  },
  hard_rename: { op: 'rename' },
  copy: {
    op: 'copy',
    note: 'shiplog copy replaces an existing target field; Fluent Bit Copy skips the record when the target exists (Hard_copy replaces)',
  },
  hard_copy: { op: 'copy' },
};

function grep(c: Conv, s: Section, add: Add): void {
  const op = (c.value(s, 'logical_op') ?? 'legacy').toLowerCase();
  const regex = c.useAll(s, 'regex');
  const exclude = c.useAll(s, 'exclude');
  const pair = (e: Entry): [string, string] | undefined => {
    const m = /^(\S+)\s+(.*)$/.exec(e.value);
    const key = m ? accessor(m[1]) : undefined;
    if (!m || !key) {
      c.report.add(at(e), 'error', `${e.rawKey} ${e.value}`, 'expected KEY REGEX', '');
      return undefined;
    }
    return [key, m[2]];
  };
  if (op === 'or' && regex.length > 1) {
    c.report.add(
      at(s),
      'error',
      'Logical_Op or',
      'grep include needs every listed field to match; "any of several Regex" has no equivalent',
      'combine the conditions into one regex over one field if possible',
    );
    return;
  }
  if (op === 'and' && exclude.length > 1) {
    c.report.add(
      at(s),
      'error',
      'Logical_Op and',
      'grep exclude drops a record when any listed field matches; "all of several Exclude" has no equivalent',
      '',
    );
    return;
  }
  // Without Logical_Op, Fluent Bit evaluates the rules in order and the first Regex decides:
  // Exclude rules before it drop on a match, the Regex keeps on a match and drops otherwise, and
  // rules after it are never evaluated.
  let regexRules = regex;
  let excludeRules = exclude;
  if (op === 'legacy' && regex.length) {
    const rules = s.entries.filter((e) => e.key === 'regex' || e.key === 'exclude');
    const first = rules.findIndex((e) => e.key === 'regex');
    regexRules = [rules[first]];
    excludeRules = rules.slice(0, first);
    for (const e of rules.slice(first + 1))
      c.report.add(
        at(e),
        'warning',
        `${e.rawKey} ${e.value}`,
        'without Logical_Op, Fluent Bit decides at the first Regex rule and never evaluates this one; it was not converted',
        'set Logical_Op and/or in Fluent Bit if this rule was meant to apply, and convert again',
      );
  }
  // One filter per include rule on the same key (an object holds one regex per field).
  const includes: Array<Record<string, string>> = [{}];
  for (const e of regexRules) {
    const p = pair(e);
    if (!p) continue;
    let slot = includes.find((o) => !(p[0] in o));
    if (!slot) includes.push((slot = {}));
    slot[p[0]] = p[1];
  }
  const excl: Record<string, string> = {};
  const moreExcl: Array<Record<string, string>> = [];
  for (const e of excludeRules) {
    const p = pair(e);
    if (!p) continue;
    if (p[0] in excl) moreExcl.push({ [p[0]]: p[1] });
    else excl[p[0]] = p[1];
  }
  includes.forEach((inc, i) => {
    if (!Object.keys(inc).length && !(i === 0 && Object.keys(excl).length)) return;
    add({
      type: 'grep',
      ...(Object.keys(inc).length ? { include: inc } : {}),
      ...(i === 0 && Object.keys(excl).length ? { exclude: excl } : {}),
    });
  });
  for (const x of moreExcl) add({ type: 'grep', exclude: x });
  c.leftovers(s, 'grep');
}

function nest(c: Conv, s: Section, add: Add): void {
  const op = (c.value(s, 'operation') ?? '').toLowerCase();
  const wild = c.useAll(s, 'wildcard').map((e) => e.value);
  const under = c.value(s, 'nest_under');
  const prefix = c.value(s, 'remove_prefix');
  if (op === 'nest' && under && wild.length && wild.every((w) => !w.includes('*'))) {
    const rename: Record<string, string> = {};
    for (const w of wild)
      rename[w] = `${under}.${prefix && w.startsWith(prefix) ? w.slice(prefix.length) : w}`;
    add({ type: 'modify', rename });
    c.leftovers(s, 'modify');
    return;
  }
  c.report.add(
    at(s),
    'error',
    `[FILTER] nest ${op}${wild.length ? ' ' + wild.join(' ') : ''}`,
    op === 'lift'
      ? 'lifting every key of a map (unknown at conversion time) has no equivalent'
      : 'nesting keys chosen by a wildcard has no equivalent (modify takes exact field names)',
    'list the fields with modify rename (a.b → a, or x → under.x)',
  );
  c.consumeAll(s);
}

function throttle(c: Conv, s: Section, add: Add): void {
  const rate = Number(c.value(s, 'rate') ?? '1');
  const window = Number(c.value(s, 'window') ?? '5');
  const interval = seconds(c.value(s, 'interval') ?? '1s') ?? '1s';
  const secs =
    Number(/^(\d+(?:\.\d+)?)/.exec(interval)?.[1] ?? '1') *
    ({ s: 1, m: 60, h: 3600, d: 86400 }[interval.replace(/^[\d.]+/, '')] ?? 1);
  const perSecond = rate / secs;
  add({
    type: 'throttle',
    key: 'all',
    rate: perSecond,
    burst: Math.max(1, Math.round(rate * window)),
    action: 'drop',
  });
  c.report.add(
    at(s),
    'info',
    `[FILTER] throttle Rate ${rate} Window ${window} Interval ${interval}`,
    `Fluent Bit averages over a sliding window; shiplog uses a token bucket: rate ${perSecond}/s with a burst of Rate × Window`,
    'use key: "{tag}" or a field template to limit per source instead of globally',
  );
  c.noted(s, {
    print_status: [
      'dropped records are counted in metrics and summarised in the log (summary_interval)',
    ],
  });
  c.leftovers(s, 'throttle');
}
