// `shiplog convert FILE`: a Fluent Bit config (classic or YAML) → a shiplog config, and a report
// of every directive that has no exact equivalent (file:line, why, what to do).

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Conv } from './context.js';
import { readClassic } from './classic.js';
import { readYaml } from './yaml-format.js';
import { convertInput } from './inputs.js';
import { convertFilter } from './filters.js';
import { convertOutput } from './outputs.js';
import { convertService } from './service.js';
import { select } from './routing.js';
import { emitYaml } from './emit.js';
import { at, Report, type Section } from './model.js';

export { FluentBitConfigError } from './model.js';
export { formatReport } from './emit.js';

export interface ConvertResult {
  yaml: string;
  report: Report;
  counts: { inputs: number; filters: number; outputs: number };
}

function isYaml(file: string): boolean {
  return /\.ya?ml$/i.test(file);
}

function read(file: string): Section[] {
  return isYaml(file) ? readYaml(file) : readClassic(file);
}

/** Parsers from Parsers_File entries (relative to the main config's directory) and the config. */
function loadParsers(c: Conv, main: string, sections: Section[]): void {
  const add = (list: Section[]): void => {
    for (const s of list) {
      const name = s.entries.findLast((e) => e.key === 'name')?.value.toLowerCase();
      if (!name) continue;
      if (s.kind === 'parser') c.parsers.set(name, s);
      else if (s.kind === 'multiline_parser') c.multilineParsers.set(name, s);
    }
  };
  add(sections);
  for (const s of sections.filter((x) => x.kind === 'service'))
    for (const e of c.useAll(s, 'parsers_file')) {
      let file = path.resolve(path.dirname(main), e.value);
      const beside = path.join(path.dirname(main), path.basename(e.value));
      if (!existsSync(file) && existsSync(beside)) {
        c.report.add(
          at(e),
          'info',
          `${e.rawKey} ${e.value}`,
          `not found; read ${c.report.rel(beside)} (the same name beside the config) instead`,
          '',
        );
        file = beside;
      }
      if (!existsSync(file)) {
        c.report.add(
          at(e),
          'info',
          `${e.rawKey} ${e.value}`,
          "file not found here; parsers it defines are unknown (Fluent Bit's stock json, docker, cri and logfmt are assumed where used)",
          'run convert where the parsers file exists (or copy it beside the config)',
        );
        continue;
      }
      add(read(file));
    }
}

export function convert(file: string, cwd = process.cwd()): ConvertResult {
  const report = new Report(cwd);
  const c = new Conv(report);
  const sections = read(file);
  loadParsers(c, path.resolve(file), sections);
  for (const s of sections.filter((x) => x.kind === 'service')) convertService(c, s);
  const counters = new Map<string, number>();
  const next = (s: Section): number => {
    const n = counters.get(`${s.kind}:${s.plugin}`) ?? 0;
    counters.set(`${s.kind}:${s.plugin}`, n + 1);
    return n;
  };
  for (const s of sections.filter((x) => x.kind === 'input')) convertInput(c, s, next(s));
  for (const s of sections) {
    if (s.kind !== 'filter' && s.kind !== 'output') continue;
    const index = next(s);
    const m = c.use(s, 'match');
    const r = c.use(s, 'match_regex');
    let sel;
    try {
      sel = select(c.routed, m?.value, r?.value);
    } catch (e) {
      report.add(
        at(r ?? s),
        'error',
        `Match_Regex ${r?.value ?? ''}`,
        `not a JavaScript regular expression: ${(e as Error).message}`,
        'use Match with a wildcard',
      );
      continue;
    }
    const what = `[${s.header}] ${s.plugin}`;
    if (sel.kind === 'none') {
      report.add(
        at(s),
        'warning',
        what,
        'no Match or Match_Regex: Fluent Bit routes no records to it; it was not converted',
        'add a match if it should receive records',
      );
      continue;
    }
    if (sel.resolved)
      report.add(
        at(r ?? m ?? s),
        'info',
        r ? `Match_Regex ${r.value}` : `Match ${m!.value}`,
        `resolved at conversion time to the converted inputs' tags: ${JSON.stringify(sel.match)}`,
        'an input added later needs its tag added to this match',
      );
    for (const p of sel.partial)
      report.add(
        at(m ?? s),
        'warning',
        `Match ${m?.value ?? ''}`,
        `selects only some files of the input at ${report.rel(p.section.file)}:${p.section.line} by their per-file tag; shiplog tags that input "${p.tag}", so it now applies to all of its records`,
        'narrow with a grep filter on file.path / kubernetes.* fields, or split the input',
      );
    if (s.kind === 'filter') convertFilter(c, s, sel.match, sel.inputs);
    else convertOutput(c, s, sel.match, index);
  }
  for (const s of sections.filter((x) => x.kind === 'other'))
    report.add(
      at(s),
      'warning',
      `[${s.header}]`,
      'no equivalent section in shiplog; not converted',
      '',
    );
  const counts = {
    inputs: c.inputs.length,
    filters: c.prefilters.length + c.filters.length,
    outputs: c.outputs.length,
  };
  if (!c.outputs.length)
    report.add(
      { file: path.resolve(file), line: 1 },
      'error',
      '(no outputs)',
      'no output was converted; shiplog needs at least one',
      'add an output',
    );
  return { yaml: emitYaml(c, path.resolve(file)), report, counts };
}
