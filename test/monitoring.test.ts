// packaging/monitoring (issue #21 item 6): the Grafana dashboard and the Prometheus alert rules
// use only metric names shiplog exports, and every expression parses. No promtool here: a small
// PromQL checker (tokens, balanced brackets, label matchers, known functions and keywords, metric
// names) stands in for `promtool check rules`; the rules file is checked for promtool's schema.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../src/telemetry/metrics.js';
import { ROOT } from './helpers/proc.js';

const DIR = path.join(ROOT, 'packaging', 'monitoring');

/** Every metric name shiplog can export: the core registry, Node's defaults, component metrics. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>(['up']);
  const m = new Metrics();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram' || String(metric.type) === 'summary')
      for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
  }
  // Components register their own (shiplog_loki_..., shiplog_kubernetes_...) when they start.
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = path.join(dir, f);
      return statSync(p).isDirectory()
        ? walk(p)
        : p.endsWith('.ts') && !p.endsWith('.test.ts')
          ? [p]
          : [];
    });
  for (const file of walk(path.join(ROOT, 'src')))
    for (const [, name] of readFileSync(file, 'utf8').matchAll(/['"`](shiplog_[a-z0-9_]+)['"`]/g))
      names.add(name);
  return names;
}

const FUNCTIONS = new Set(
  'abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min count_over_time deriv exp floor histogram_quantile holt_winters idelta increase irate label_replace label_join last_over_time ln log2 log10 max_over_time min_over_time predict_linear quantile_over_time rate resets round scalar sort sort_desc sqrt stddev_over_time sum_over_time time timestamp vector'.split(
    ' ',
  ),
);
const AGGREGATIONS = new Set(
  'sum min max avg count stddev stdvar topk bottomk quantile count_values group'.split(' '),
);
const KEYWORDS = new Set(
  'by without and or unless on ignoring group_left group_right bool offset'.split(' '),
);

/** Metric names an expression uses; throws when it does not parse. */
function checkPromQL(expr: string): string[] {
  const tokens = [
    ...expr.matchAll(
      /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\$\{?[A-Za-z_]+\}?|[A-Za-z_:][A-Za-z0-9_:]*|\d+(?:\.\d+)?(?:e[+-]?\d+)?[smhdwy]?|=~|!~|!=|==|>=|<=|[-+*/%^(){}[\],=<>]|\s+|./g,
    ),
  ].map((m) => m[0]);
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  const metrics: string[] = [];
  let prevSignificant = '';
  let grouping = false; // inside by (...) / without (...) / on (...)
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (/^\s+$/.test(t)) continue;
    if (t.length === 1 && !/[-+*/%^(){}[\],=<>A-Za-z0-9_:]/.test(t))
      throw new Error(`unexpected "${t}" in ${expr}`);
    if ('({['.includes(t)) {
      stack.push(t);
      if (
        t === '(' &&
        ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(prevSignificant)
      )
        grouping = true;
    } else if (')}]'.includes(t)) {
      if (stack.pop() !== pairs[t]) throw new Error(`unbalanced "${t}" in ${expr}`);
      if (t === ')') grouping = false;
    } else if (/^[A-Za-z_:]/.test(t)) {
      const next = tokens.slice(i + 1).find((x) => !/^\s+$/.test(x)) ?? '';
      const inBraces = stack.at(-1) === '{';
      if (inBraces) {
        // label matcher: name op "value"
        const rest = tokens.slice(i + 1).filter((x) => !/^\s+$/.test(x));
        if (!['=', '!=', '=~', '!~'].includes(rest[0]) || !/^["']/.test(rest[1] ?? ''))
          throw new Error(`bad label matcher at "${t}" in ${expr}`);
      } else if (grouping || KEYWORDS.has(t)) {
        /* label names in by (...), keywords */
      } else if (AGGREGATIONS.has(t) && (next === 'by' || next === 'without')) {
        /* sum by (...) (...) */
      } else if (next === '(') {
        if (!FUNCTIONS.has(t) && !AGGREGATIONS.has(t))
          throw new Error(`unknown function ${t} in ${expr}`);
      } else if (stack.at(-1) !== '[') {
        metrics.push(t);
      }
    }
    prevSignificant = t;
  }
  if (stack.length) throw new Error(`unclosed "${stack.join('')}" in ${expr}`);
  return metrics;
}

describe('metric help texts', () => {
  it('list every result/reason label value the code uses', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const help = Object.fromEntries(
      (await m.registry.getMetricsAsJSON()).map((x) => [x.name, x.help]),
    );
    const src = (dir: string): string =>
      readdirSync(dir)
        .map((f) => path.join(dir, f))
        .map((p) =>
          statSync(p).isDirectory()
            ? src(p)
            : p.endsWith('.test.ts') || !p.endsWith('.ts')
              ? ''
              : readFileSync(p, 'utf8'),
        )
        .join('\n');
    const code = src(path.join(ROOT, 'src'));
    const values = (re: RegExp) => new Set([...code.matchAll(re)].map((x) => x[1]));
    const filterResults = values(/(?:results|r)\.add\('([a-z_]+)'/g);
    const dropReasons = new Set([
      ...values(/\.dropped\('([a-z_]+)'/g),
      ...values(/droppedRecords\.inc\(\s*\{[^}]*reason: '([a-z_]+)'/g),
    ]);
    const outputResults = values(/outputRecords\.inc\(\s*\{[^}]*result: '([a-z_]+)'/g);
    expect(filterResults).toContain('time_error');
    for (const v of filterResults) expect(help.shiplog_filter_records_total).toContain(v);
    for (const v of dropReasons) expect(help.shiplog_dropped_records_total).toContain(v);
    expect(outputResults.size).toBeGreaterThanOrEqual(3);
    for (const v of outputResults) expect(help.shiplog_output_records_total).toContain(v);
  });
});

describe('packaging/monitoring', () => {
  it('the checker catches what promtool would', () => {
    expect(() => checkPromQL('sum(rate(x[5m])')).toThrow(/unclosed/);
    expect(() => checkPromQL('rate(x{a="b"},c="d"}[5m])')).toThrow();
    expect(() => checkPromQL('frobnicate(x)')).toThrow(/unknown function/);
    expect(() => checkPromQL('x{a=b}')).toThrow(/label matcher/);
    expect(checkPromQL('sum by (component, le) (rate(a_bucket{x="1"}[5m])) > 0 and b')).toEqual([
      'a_bucket',
      'b',
    ]);
  });

  it('alert rules: promtool schema, every expression parses and uses exported metrics', async () => {
    const names = await exportedNames();
    const doc = parse(readFileSync(path.join(DIR, 'alerts.yaml'), 'utf8')) as {
      groups: Array<{ name: string; rules: Array<Record<string, unknown>> }>;
    };
    const alerts = doc.groups.flatMap((g) => g.rules.map((r) => r.alert));
    for (const want of [
      'ShiplogLagGrowing',
      'ShiplogRetrying',
      'ShiplogDeadLetters',
      'ShiplogQueueFull',
      'ShiplogOutputStuck',
    ])
      expect(alerts).toContain(want);
    for (const g of doc.groups) {
      expect(g.name).toBeTruthy();
      for (const r of g.rules) {
        expect(
          Object.keys(r).every((k) =>
            ['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for'].includes(k),
          ),
          JSON.stringify(r),
        ).toBe(true);
        expect(typeof r.alert).toBe('string');
        if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smhd]$/);
        expect((r.labels as Record<string, string>).severity).toMatch(/^(warning|critical)$/);
        expect((r.annotations as Record<string, string>).summary).toBeTruthy();
        for (const m of checkPromQL(r.expr as string))
          expect(names, `${String(r.alert)}: ${m}`).toContain(m);
      }
    }
  });

  it('Grafana dashboard: valid JSON, unique panel ids, every query parses and uses exported metrics', async () => {
    const names = await exportedNames();
    const d = JSON.parse(readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8')) as {
      panels: Array<{ id: number; targets: Array<{ expr: string }> }>;
    };
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const used = new Set<string>();
    for (const p of d.panels)
      for (const t of p.targets)
        for (const m of checkPromQL(t.expr)) {
          expect(names, `panel ${p.id}: ${m}`).toContain(m);
          used.add(m);
        }
    // The series an operator needs first are on it.
    for (const m of [
      'shiplog_file_lag_bytes',
      'shiplog_output_healthy',
      'shiplog_output_records_total',
      'process_resident_memory_bytes',
    ])
      expect(used).toContain(m);
  });
});
