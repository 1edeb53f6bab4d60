// Fluent Bit's YAML config format (`env`, `includes`, `service`, `parsers`, `multiline_parsers`,
// `pipeline: { inputs, filters, outputs }`) read into the same sections as the classic format,
// with line numbers. `${VAR}` set under `env:` is substituted; others stay for the environment.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { substitute } from './classic.js';
import { FluentBitConfigError, type Entry, type Section, type SectionKind } from './model.js';

/** Keys whose list value is one comma-separated Fluent Bit value. */
const COMMA_KEYS = new Set([
  'path',
  'exclude_path',
  'multiline.parser',
  'label_keys',
  'labels',
  'remove_keys',
  'parser',
]);

interface Ctx {
  file: string;
  lines: LineCounter;
  vars: Map<string, string>;
}

function lineOf(ctx: Ctx, node: Node | null | undefined): number {
  const off = node?.range?.[0];
  return off === undefined ? 1 : ctx.lines.linePos(off).line;
}

function scalarText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  return String(v);
}

function entriesOf(ctx: Ctx, node: Node, section: Section): void {
  if (!isMap(node)) return;
  for (const pair of node.items) {
    const k = pair.key as Node;
    const rawKey = isScalar(k) ? String(k.value) : '';
    const key = rawKey.toLowerCase();
    const v = pair.value as Node | null;
    const line = lineOf(ctx, k);
    const push = (value: string, ln = line): void => {
      section.entries.push({
        key,
        rawKey,
        value: substitute(value, ctx.vars),
        file: ctx.file,
        line: ln,
      });
    };
    if (isSeq(v)) {
      const items = v.items as Node[];
      if (key === 'rules' && section.kind === 'multiline_parser') {
        for (const r of items) {
          const o = (r as Node & { toJSON(): unknown }).toJSON() as Record<string, unknown>;
          section.entries.push({
            key: 'rule',
            rawKey: 'rule',
            value: `"${scalarText(o.state)}" "${scalarText(o.regex)}" "${scalarText(o.next_state)}"`,
            file: ctx.file,
            line: lineOf(ctx, r),
          });
        }
      } else if (items.every((i) => isScalar(i))) {
        const vals = items.map((i) => scalarText((i as { value: unknown }).value));
        if (COMMA_KEYS.has(key)) push(vals.join(','));
        else items.forEach((i, n) => push(vals[n], lineOf(ctx, i)));
      } else push('[structured]');
    } else if (isMap(v)) {
      push('[structured]');
    } else {
      push(scalarText(isScalar(v) ? v.value : undefined));
    }
    if (key === 'name') section.plugin = section.entries.at(-1)!.value.toLowerCase();
  }
}

function section(ctx: Ctx, kind: SectionKind, header: string, node: Node): Section {
  const s: Section = {
    kind,
    header,
    plugin: '',
    entries: [],
    file: ctx.file,
    line: lineOf(ctx, node),
  };
  entriesOf(ctx, node, s);
  return s;
}

export function readYaml(file: string, vars = new Map<string, string>(), stack: string[] = []) {
  const abs = path.resolve(file);
  if (stack.includes(abs)) throw new FluentBitConfigError(abs, 1, 'includes cycle');
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new FluentBitConfigError(abs, 1, `cannot read: ${(e as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new FluentBitConfigError(abs, lines.linePos(e.pos[0]).line, e.message.split('\n')[0]);
  }
  const ctx: Ctx = { file: abs, lines, vars };
  const root = doc.contents;
  if (!isMap(root)) throw new FluentBitConfigError(abs, 1, 'expected a YAML mapping');
  const sections: Section[] = [];
  const top = (name: string): Node | undefined => root.get(name, true) as Node | undefined;
  const env = top('env');
  if (isMap(env))
    for (const p of env.items)
      vars.set(
        String((p.key as { value: unknown }).value),
        scalarText((p.value as { value?: unknown })?.value),
      );
  const service = top('service');
  if (service) sections.push(section(ctx, 'service', 'SERVICE', service));
  for (const [key, kind, header] of [
    ['parsers', 'parser', 'PARSER'],
    ['multiline_parsers', 'multiline_parser', 'MULTILINE_PARSER'],
  ] as const) {
    const seq = top(key);
    if (isSeq(seq))
      for (const n of seq.items as Node[]) sections.push(section(ctx, kind, header, n));
  }
  const pipeline = top('pipeline');
  if (isMap(pipeline)) {
    for (const [key, kind, header] of [
      ['inputs', 'input', 'INPUT'],
      ['filters', 'filter', 'FILTER'],
      ['outputs', 'output', 'OUTPUT'],
    ] as const) {
      const seq = pipeline.get(key, true) as Node | undefined;
      if (isSeq(seq))
        for (const n of seq.items as Node[]) sections.push(section(ctx, kind, header, n));
    }
  }
  for (const p of root.items) {
    const k = String((p.key as { value: unknown }).value);
    if (['env', 'service', 'parsers', 'multiline_parsers', 'pipeline', 'includes'].includes(k))
      continue;
    const s = section(ctx, 'other', k.toUpperCase(), p.key as Node);
    sections.push(s);
  }
  const includes = top('includes');
  if (isSeq(includes)) {
    for (const n of includes.items as Node[]) {
      const target = path.resolve(path.dirname(abs), scalarText((n as { value?: unknown }).value));
      try {
        readFileSync(target);
      } catch {
        throw new FluentBitConfigError(abs, lineOf(ctx, n), `includes: no such file (${target})`);
      }
      sections.push(...readYaml(target, vars, [...stack, abs]));
    }
  }
  return sections;
}

export type { Entry };
