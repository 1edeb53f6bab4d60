// The converted config as YAML (every component with a comment naming its Fluent Bit origin) and
// the report as text or JSON.

import { Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Component, Conv } from './context.js';
import type { Finding, Report } from './model.js';

export function emitYaml(c: Conv, file: string): string {
  const inputs = c.inputs.length
    ? c.inputs
    : [{ obj: { type: 'stdin', id: 'placeholder' }, origin: 'no input was converted' }];
  const outputs = c.outputs.length
    ? c.outputs
    : [{ obj: { type: 'stdout', id: 'placeholder' }, origin: 'no output was converted' }];
  const filters = [...c.prefilters, ...c.filters];
  const root: Record<string, unknown> = {};
  if (Object.keys(c.service).length) root.service = c.service;
  root.pipeline = {
    inputs: inputs.map((x) => x.obj),
    ...(filters.length ? { filters: filters.map((x) => x.obj) } : {}),
    outputs: outputs.map((x) => x.obj),
  };
  const doc = new Document(root);
  doc.commentBefore =
    ` Converted from ${c.report.rel(file)} by \`shiplog convert\`.\n` +
    ` Review the report it printed on stderr, then: shiplog validate -c <this file>`;
  const pipeline = doc.get('pipeline', true) as YAMLMap;
  const annotate = (key: string, list: Component[]): void => {
    const seq = pipeline.get(key, true) as YAMLSeq | undefined;
    if (!isSeq(seq)) return;
    seq.items.forEach((n, i) => {
      if (isMap(n)) n.commentBefore = ` ${list[i].origin}`;
    });
  };
  annotate('inputs', inputs);
  annotate('filters', filters);
  annotate('outputs', outputs);
  return doc.toString({ lineWidth: 0 });
}

const ORDER = { error: 0, warning: 1, info: 2 };

export function sortedFindings(r: Report): Finding[] {
  return [...r.findings].sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || ORDER[a.severity] - ORDER[b.severity],
  );
}

export function formatReport(
  r: Report,
  summary: { file: string; inputs: number; filters: number; outputs: number },
  json: boolean,
): string {
  const findings = sortedFindings(r);
  const count = (s: Finding['severity']): number => findings.filter((f) => f.severity === s).length;
  const totals = { errors: count('error'), warnings: count('warning'), info: count('info') };
  if (json)
    return (
      JSON.stringify({
        file: r.rel(summary.file),
        converted: { inputs: summary.inputs, filters: summary.filters, outputs: summary.outputs },
        ...totals,
        findings: findings.map((f) => ({ ...f, file: r.rel(f.file) })),
      }) + '\n'
    );
  let out =
    `shiplog convert: ${r.rel(summary.file)}: ${summary.inputs} input(s), ${summary.filters} filter(s), ${summary.outputs} output(s); ` +
    `${totals.errors} error(s) (not converted), ${totals.warnings} warning(s) (behaviour differs), ${totals.info} note(s)\n`;
  for (const f of findings) {
    out += `${r.rel(f.file)}:${f.line}: ${f.severity}: ${f.directive}: ${f.why}\n`;
    if (f.action) out += `    -> ${f.action}\n`;
  }
  return out;
}
