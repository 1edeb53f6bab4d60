// Inputs: tail → file (or kubernetes for container logs), systemd → journald, stdin → stdin.
// Each converted input gets the tag Fluent Bit would stamp (see routing.ts) and, for files, a
// `modify` pre-filter that gives records Fluent Bit's shape (`log`, the Path_Key).

import { Conv, type Obj } from './context.js';
import { at, bool, list, seconds, size, type Section } from './model.js';
import { expandTailTag } from './routing.js';
import { parserFilters, parserRegex } from './parsers.js';

const CONTAINER_DIRS = /^\/var\/log\/(containers|pods)\//;

const TAIL_NOTES: Record<string, [string, string?]> = {
  db: [
    'shiplog keeps its own checkpoints (file identity + offset) under service.data_dir; the offsets in this SQLite DB are not imported',
    'on the first start shiplog reads files according to read_from; stop Fluent Bit after shiplog has caught up',
  ],
  'db.sync': ['checkpoints are written atomically every service.checkpoint_interval'],
  'db.locking': ['no shared database'],
  'db.journal_mode': ['no shared database'],
  mem_buf_limit: [
    'memory is bounded by one budget, service.memory_limit, and per-output buffers; a full buffer pauses the input (no records dropped)',
    'set service.memory_limit if the default (256MiB) does not fit',
  ],
  'storage.type': [
    'every output has a durable disk queue by default (buffer.type: disk); storage is not chosen per input',
  ],
  'storage.pause_on_chunks_overlimit': [
    'inputs pause when an output queue is full (when_full: block)',
  ],
  inotify_watcher: ['files are found by inotify watches and a periodic rescan (scan_interval)'],
  threaded: ['not applicable'],
  buffer_chunk_size: ['read size is read_buffer (64KiB by default)'],
};

function tagFor(c: Conv, s: Section, index: number): string {
  return c.value(s, 'tag') ?? `${s.plugin}.${index}`;
}

export function convertInput(c: Conv, s: Section, index: number): void {
  switch (s.plugin) {
    case 'tail': {
      const paths = list(c.value(s, 'path') ?? '');
      if (paths.some((p) => CONTAINER_DIRS.test(p))) return kubernetesInput(c, s, index, paths);
      return tail(c, s, index, paths);
    }
    case 'systemd':
      return systemd(c, s, index);
    case 'stdin': {
      const tag = tagFor(c, s, index);
      const id = c.id(c.value(s, 'alias') ?? `stdin_${index}`);
      c.inputs.push({ obj: { type: 'stdin', id, tag }, origin: c.origin(s) });
      c.routed.push(staticRoute(s, tag));
      normalise(c, s, tag, id, 'log', false);
      c.leftovers(s, 'the stdin input');
      return;
    }
    default:
      c.report.add(
        at(s),
        'error',
        `[INPUT] ${s.plugin || '(no Name)'}`,
        `shiplog has no ${s.plugin || 'unnamed'} input (inputs: file, kubernetes, journald, stdin, demo); the input was not converted`,
        'collect these logs another way (e.g. have the source write to a file shiplog tails) or keep Fluent Bit for them',
      );
  }
}

function staticRoute(s: Section, tag: string) {
  return {
    section: s,
    fbTag: tag,
    fbStaticPrefix: tag,
    tag,
    sampleTag: tag,
    tagGlob: tag,
    varies: false,
  };
}

/** Pre-filter giving file records Fluent Bit's shape: message → Key (log), file.path → Path_Key. */
function normalise(
  c: Conv,
  s: Section,
  tag: string,
  inputId: string,
  key: string,
  hasFile: boolean,
  pathKey?: string,
): void {
  const obj: Obj = { type: 'modify', id: c.id(`${inputId}_shape`), match: tag };
  if (key !== 'message') obj.rename = { message: key };
  if (hasFile) {
    if (pathKey) obj.rename = { ...(obj.rename as Obj), 'file.path': pathKey };
    obj.remove = ['file'];
  }
  if (obj.rename || obj.remove) c.prefilters.push({ obj, origin: `${c.origin(s)} (record shape)` });
}

function tail(c: Conv, s: Section, index: number, paths: string[]): void {
  const rawTag = c.value(s, 'tag');
  const id = c.id(c.value(s, 'alias') ?? `tail_${index}`);
  const varies = rawTag !== undefined && rawTag.includes('*');
  let tag = rawTag ?? `tail.${index}`;
  let fbTag = tag;
  let fbStaticPrefix = tag;
  if (varies) {
    // One tag per input: the expansion of the first path glob (glob characters as `_`).
    fbTag = expandTailTag(rawTag, paths[0] ?? 'file');
    fbStaticPrefix = rawTag.split('*')[0];
    tag = expandTailTag(rawTag, (paths[0] ?? 'file').replace(/[*?[\]{}]/g, '_'));
    c.report.add(
      at(c.use(s, 'tag')!),
      'info',
      `Tag ${rawTag}`,
      `Fluent Bit expands "*" per file; shiplog tags per input: records of this input are tagged "${tag}" and the file path is in the record`,
      'filters/outputs that matched single files of this input were widened to the whole input (see the warnings below, if any)',
    );
  }
  c.routed.push({
    section: s,
    fbTag,
    fbStaticPrefix,
    tag,
    sampleTag: tag,
    tagGlob: tag,
    varies,
  });
  const obj: Obj = { type: 'file', id, tag, paths };
  const excl = c.value(s, 'exclude_path');
  if (excl) obj.exclude = list(excl);
  obj.read_from = bool(c.value(s, 'read_from_head'), false) ? 'head' : 'tail';
  fileOptions(c, s, obj);
  const ml = multiline(c, s);
  if (ml) obj.multiline = ml;
  c.inputs.push({ obj, origin: c.origin(s) });
  normalise(c, s, tag, id, c.value(s, 'key') ?? 'log', true, c.value(s, 'path_key'));
  skipLongLines(c, s, tag, id);
  const parser = c.use(s, 'parser');
  if (parser) {
    const fields = c.value(s, 'key') ?? 'log';
    for (const f of parserFilters(c, parser, list(parser.value), fields, { reserve: true }))
      c.prefilters.push({
        obj: { type: f.type, id: c.id(`${id}_parser`), match: tag, ...f },
        origin: `${c.origin(s)} Parser`,
      });
  }
  c.noted(s, TAIL_NOTES);
  c.leftovers(s, 'the file input');
}

/** Options the file and kubernetes inputs share. */
function fileOptions(c: Conv, s: Section, obj: Obj): void {
  const maxSize = c.value(s, 'buffer_max_size');
  if (maxSize && size(maxSize)) obj.max_line_bytes = size(maxSize);
  else if (bool(s.entries.find((e) => e.key === 'skip_long_lines')?.value, false))
    obj.max_line_bytes = '32KiB'; // Fluent Bit's Buffer_Max_Size default
  for (const [fb, sl] of [
    ['refresh_interval', 'scan_interval'],
    ['rotate_wait', 'rotate_wait'],
    ['ignore_older', 'ignore_older_than'],
  ] as const) {
    const e = c.use(s, fb);
    if (!e) continue;
    const d = seconds(e.value);
    if (d) obj[sl] = d;
    else c.report.add(at(e), 'warning', `${e.rawKey} ${e.value}`, 'not a duration', `set ${sl}`);
  }
}

/** Skip_Long_Lines On: Fluent Bit skips such lines; shiplog truncates and flags them, so drop those. */
function skipLongLines(c: Conv, s: Section, tag: string, id: string): void {
  const e = c.use(s, 'skip_long_lines');
  if (!e || !bool(e.value, false)) return;
  c.prefilters.push({
    obj: {
      type: 'grep',
      id: c.id(`${id}_skip_long_lines`),
      match: tag,
      exclude: { truncated: '^true$' },
    },
    origin: `${c.origin(s)} Skip_Long_Lines`,
  });
  c.report.add(
    at(e),
    'info',
    `${e.rawKey} ${e.value}`,
    'shiplog cuts lines longer than max_line_bytes and flags them truncated: true; a grep filter drops those, as Fluent Bit skips them',
    'remove that grep filter to keep the first max_line_bytes of long lines instead',
  );
}

/** multiline.parser / Multiline + Parser_Firstline → the file input's multiline joining. */
function multiline(c: Conv, s: Section): Obj | undefined {
  const old = c.use(s, 'multiline');
  const first = c.use(s, 'parser_firstline');
  if (old && bool(old.value, false) && first) {
    const re = parserRegex(c, first.value);
    if (re) return { start_pattern: re };
  }
  const e = c.use(s, 'multiline.parser');
  if (!e) return undefined;
  const names = list(e.value);
  for (const n of names) {
    const custom = c.multilineParsers.get(n.toLowerCase());
    if (custom) {
      const rules = custom.entries.filter((x) => x.key === 'rule');
      const start = rules
        .map(
          (r) =>
            /^"([^"]*)"\s+"\/(.*)\/"\s+"([^"]*)"/.exec(r.value) ??
            /^"([^"]*)"\s+"(.*)"\s+"([^"]*)"/.exec(r.value),
        )
        .find((m) => m?.[1] === 'start_state');
      if (!start) continue;
      const timeout = custom.entries.find((x) => x.key === 'flush_timeout')?.value;
      c.report.add(
        at(e),
        'info',
        `${e.rawKey} ${e.value}`,
        `multiline parser "${n}": its start_state regex becomes multiline.start_pattern; lines that do not match it join the record before (the continuation rules are not evaluated)`,
        'check the joined records on sample logs',
      );
      const ml: Obj = { start_pattern: start[2] };
      if (timeout && /^\d+$/.test(timeout)) ml.timeout = `${timeout}ms`;
      return ml;
    }
    if (['java', 'python', 'go', 'ruby'].includes(n.toLowerCase())) {
      c.report.add(
        at(e),
        'info',
        `${e.rawKey} ${e.value}`,
        `the built-in "${n}" stack-trace parser becomes "indented lines and 'Caused by'/'Traceback' lines join the line before"`,
        'check the joined records on sample logs; adjust multiline.continue_pattern',
      );
      return {
        continue_pattern: '^(\\s|Caused by:|Traceback|During handling|\\.\\.\\. \\d+ more)',
      };
    }
  }
  c.report.add(
    at(e),
    'warning',
    `${e.rawKey} ${e.value}`,
    names.some((n) => ['docker', 'cri'].includes(n.toLowerCase()))
      ? "docker/cri decoding exists only in shiplog's kubernetes input (files under /var/log/containers or /var/log/pods)"
      : 'unknown multiline parser',
    'tail container logs with the kubernetes input, or set multiline.start_pattern',
  );
  return undefined;
}

/** Exclude_Path on /var/log/containers/<pod>_<ns>_<container>-<id>.log → /var/log/pods globs. */
function podExclude(p: string): string | undefined {
  const m = /^\/var\/log\/containers\/(.+?)(\.log)?$/.exec(p);
  if (!m) return CONTAINER_DIRS.test(p) ? p : undefined;
  const parts = m[1].split('_');
  if (parts.length === 1)
    return `/var/log/pods/*_${parts[0].endsWith('*') ? parts[0] : parts[0] + '*'}_*/*/*.log`;
  if (parts.length === 3) {
    const container = parts[2].replace(/-[^-*]*$/, '').replace(/-\*$/, '*') || '*';
    return `/var/log/pods/${parts[1]}_${parts[0]}_*/${container}/*.log`;
  }
  return undefined;
}

function kubernetesInput(c: Conv, s: Section, index: number, paths: string[]): void {
  const rawTag = c.value(s, 'tag') ?? `tail.${index}`;
  const id = c.id(c.value(s, 'alias') ?? 'kubernetes');
  const prefix = rawTag.includes('*') ? rawTag.split('*')[0] : undefined;
  const template = `${prefix ?? ''}{kubernetes.namespace_name}.{kubernetes.pod_name}.{kubernetes.container_name}`;
  const tag = prefix !== undefined ? template : rawTag;
  const sample = `${prefix ?? ''}ns.pod.container`;
  c.routed.push({
    section: s,
    fbTag:
      prefix !== undefined
        ? expandTailTag(rawTag, '/var/log/containers/pod_ns_container-0123.log')
        : rawTag,
    fbStaticPrefix: prefix ?? rawTag,
    tag,
    sampleTag: prefix !== undefined ? sample : rawTag,
    tagGlob: prefix !== undefined ? `${prefix}*` : rawTag,
    varies: prefix !== undefined,
  });
  const obj: Obj = { type: 'kubernetes', id, tag };
  const pe = c.use(s, 'path')!;
  c.report.add(
    at(pe),
    'info',
    `${pe.rawKey} ${pe.value}`,
    `container logs are read by the kubernetes input from /var/log/pods (the files /var/log/containers links to): CRI and docker formats are detected per line, partial lines joined${prefix !== undefined ? `; tags are ${template} instead of ${rawTag} expanded with the file name` : ''}`,
    'mount /var/log/pods (and /var/log/containers is not needed)',
  );
  if (
    paths.some(
      (p) => !/^\/var\/log\/containers\/\*(\.log)?$/.test(p) && !p.startsWith('/var/log/pods/'),
    )
  )
    c.report.add(
      at(pe),
      'warning',
      `${pe.rawKey} ${pe.value}`,
      'the path selects some containers only; the kubernetes input reads all pods',
      'narrow with include_namespaces / exclude_namespaces or exclude globs over /var/log/pods/<ns>_<pod>_<uid>/<container>/*.log',
    );
  const excl = c.use(s, 'exclude_path');
  if (excl) {
    const out: string[] = [];
    for (const p of list(excl.value)) {
      const q = podExclude(p);
      if (q) out.push(q);
      else
        c.report.add(
          at(excl),
          'warning',
          `Exclude_Path ${p}`,
          'cannot be translated to /var/log/pods',
          'add an exclude glob by hand',
        );
    }
    if (out.length) obj.exclude = out;
  }
  obj.read_from = bool(c.value(s, 'read_from_head'), false) ? 'head' : 'tail';
  fileOptions(c, s, obj);
  const ml = c.use(s, 'multiline.parser');
  if (ml && !list(ml.value).every((n) => ['docker', 'cri'].includes(n.toLowerCase())))
    c.report.add(
      at(ml),
      'warning',
      `${ml.rawKey} ${ml.value}`,
      'only docker/cri decoding (built in) is converted; stack-trace joining of container logs is not',
      'join stack traces in the application (JSON logs) or keep Fluent Bit for these pods',
    );
  const parser = c.use(s, 'parser');
  if (parser && !['docker', 'cri'].includes(parser.value.toLowerCase()))
    c.report.add(
      at(parser),
      'warning',
      `Parser ${parser.value}`,
      'the kubernetes input decodes docker/cri itself; another parser on the container line is not applied',
      'add a parse filter on the log field',
    );
  c.use(s, 'docker_mode');
  c.inputs.push({ obj, origin: c.origin(s) });
  normalise(
    c,
    s,
    prefix !== undefined ? `${prefix}*` : rawTag,
    id,
    c.value(s, 'key') ?? 'log',
    false,
  );
  skipLongLines(c, s, prefix !== undefined ? `${prefix}*` : rawTag, id);
  c.noted(s, TAIL_NOTES);
  c.leftovers(s, 'the kubernetes input');
}

function systemd(c: Conv, s: Section, index: number): void {
  const rawTag = c.value(s, 'tag') ?? `systemd.${index}`;
  const id = c.id(c.value(s, 'alias') ?? `systemd_${index}`);
  const obj: Obj = { type: 'journald', id };
  const filters = c.useAll(s, 'systemd_filter');
  const type = (c.value(s, 'systemd_filter_type') ?? 'or').toLowerCase();
  const units: string[] = [];
  const matches: Record<string, string[]> = {};
  for (const f of filters) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(f.value.trim());
    if (!m) {
      c.report.add(
        at(f),
        'warning',
        `${f.rawKey} ${f.value}`,
        'expected FIELD=value',
        'add journald matches by hand',
      );
      continue;
    }
    if (m[1] === '_SYSTEMD_UNIT') units.push(m[2]);
    else (matches[m[1]] ??= []).push(m[2]);
  }
  const fieldsUsed = (units.length ? 1 : 0) + Object.keys(matches).length;
  if (fieldsUsed > 1 && type === 'or')
    c.report.add(
      at(filters[0]),
      'warning',
      'Systemd_Filter (several fields, Systemd_Filter_Type Or)',
      'shiplog ANDs different fields (journalctl semantics); Fluent Bit ORs every filter here',
      'split into several journald inputs, one per field',
    );
  if (units.length) obj.units = units;
  if (Object.keys(matches).length)
    obj.matches = Object.fromEntries(
      Object.entries(matches).map(([k, v]) => [k, v.length === 1 ? v[0] : v]),
    );
  const dir = c.value(s, 'path');
  if (dir) obj.journal_directory = dir;
  obj.read_from = bool(c.value(s, 'read_from_tail'), false) ? 'tail' : 'head';
  let tag = rawTag;
  if (rawTag.includes('*')) {
    tag = rawTag.replace('*', units.length === 1 ? units[0] : 'journal');
    c.report.add(
      at(c.use(s, 'tag')!),
      'info',
      `Tag ${rawTag}`,
      `Fluent Bit puts the unit name in place of "*"; shiplog tags per input: "${tag}"; the unit is in the record (unit)`,
      'match on the unit field (grep) instead of the tag where a single unit mattered',
    );
  }
  obj.tag = tag;
  c.routed.push({
    section: s,
    fbTag: rawTag.includes('*') ? rawTag.replace('*', units[0] ?? 'unit.service') : rawTag,
    fbStaticPrefix: rawTag.split('*')[0],
    tag,
    sampleTag: tag,
    tagGlob: tag,
    varies: rawTag.includes('*') && units.length !== 1,
  });
  c.report.add(
    at(s),
    'info',
    '[INPUT] systemd',
    'journal records are shaped message, level, unit, hostname, pid, syslog_identifier plus journal.<FIELD> for the rest; Fluent Bit keeps the raw MESSAGE, _SYSTEMD_UNIT, … names',
    'rewrite filters, labels and queries that used raw journal field names',
  );
  c.noted(s, {
    db: [
      'the journal cursor is checkpointed under service.data_dir; the DB cursor is not imported',
      'the first start reads per read_from',
    ],
    'db.sync': ['checkpoints are written atomically'],
    max_entries: ['journalctl is read as a stream; backpressure pauses it'],
    max_fields: ['fields: all keeps every field under journal.'],
    strip_underscores: [
      'field names are mapped (unit, pid, …); the rest stays under journal.<FIELD>',
    ],
    lowercase: ['field names are mapped; the rest stays under journal.<FIELD>'],
    mem_buf_limit: TAIL_NOTES.mem_buf_limit,
    'storage.type': TAIL_NOTES['storage.type'],
    systemd_filter_type: ['see Systemd_Filter'],
  });
  c.inputs.push({ obj, origin: c.origin(s) });
  c.leftovers(s, 'the journald input');
}
