// Fluent Bit's classic config format: `[SECTION]` headers, indented `Key Value` entries,
// `@INCLUDE file` (relative to the including file, `*` globs allowed), `@SET KEY=VALUE` variables
// (`${KEY}`; variables not set with @SET are left as `${KEY}` for shiplog's own environment
// interpolation), `#` comments. Every entry keeps its file and line for the report.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FluentBitConfigError, type Entry, type Section, type SectionKind } from './model.js';

const KINDS: Record<string, SectionKind> = {
  service: 'service',
  input: 'input',
  filter: 'filter',
  output: 'output',
  parser: 'parser',
  multiline_parser: 'multiline_parser',
};

export interface ClassicState {
  vars: Map<string, string>;
  /** Files being read (include cycles). */
  stack: string[];
}

/** Files an @INCLUDE names: one path, or the files of a `*` glob in its last segment. */
function includeTargets(pattern: string, from: string, line: number): string[] {
  const full = path.resolve(path.dirname(from), pattern);
  const base = path.basename(full);
  if (!base.includes('*')) {
    if (!existsSync(full))
      throw new FluentBitConfigError(from, line, `@INCLUDE ${pattern}: no such file (${full})`);
    return [full];
  }
  const dir = path.dirname(full);
  const re = new RegExp(
    '^' +
      base
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    throw new FluentBitConfigError(from, line, `@INCLUDE ${pattern}: cannot read ${dir}`);
  }
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Replace `${VAR}` set with @SET; leave others for the environment. */
export function substitute(value: string, vars: Map<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => vars.get(name) ?? m);
}

/** Read a classic file (and its includes) into sections, in order. */
export function readClassic(
  file: string,
  state: ClassicState = { vars: new Map(), stack: [] },
): Section[] {
  const abs = path.resolve(file);
  if (state.stack.includes(abs))
    throw new FluentBitConfigError(abs, 1, `@INCLUDE cycle: ${[...state.stack, abs].join(' -> ')}`);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new FluentBitConfigError(abs, 1, `cannot read: ${(e as Error).message}`);
  }
  state.stack.push(abs);
  const sections: Section[] = [];
  let current: Section | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i].replace(/\s+$/, '');
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    if (/^@include\s/i.test(t)) {
      const target = substitute(t.slice(8).trim(), state.vars);
      for (const f of includeTargets(target, abs, lineNo)) sections.push(...readClassic(f, state));
      current = undefined;
      continue;
    }
    if (/^@set\s/i.test(t)) {
      const m = /^@set\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/i.exec(t);
      if (!m) throw new FluentBitConfigError(abs, lineNo, `invalid @SET (expected @SET KEY=VALUE)`);
      state.vars.set(m[1], substitute(m[2].trim(), state.vars));
      continue;
    }
    const header = /^\[\s*([A-Za-z_]+)\s*\]$/.exec(t);
    if (header) {
      const name = header[1];
      current = {
        kind: KINDS[name.toLowerCase()] ?? 'other',
        header: name.toUpperCase(),
        plugin: '',
        entries: [],
        file: abs,
        line: lineNo,
      };
      sections.push(current);
      continue;
    }
    if (t.startsWith('[')) throw new FluentBitConfigError(abs, lineNo, `invalid section header`);
    if (!current)
      throw new FluentBitConfigError(abs, lineNo, `entry outside a section: "${t.slice(0, 60)}"`);
    const m = /^(\S+)(?:\s+(.*))?$/.exec(t)!;
    const entry: Entry = {
      key: m[1].toLowerCase(),
      rawKey: m[1],
      value: substitute((m[2] ?? '').trim(), state.vars),
      file: abs,
      line: lineNo,
    };
    current.entries.push(entry);
    if (entry.key === 'name') current.plugin = entry.value.toLowerCase();
  }
  state.stack.pop();
  return sections;
}
