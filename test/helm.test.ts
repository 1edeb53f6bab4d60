// deploy/helm/shiplog (issue #21 item 9), without a helm binary: a small renderer of the template
// subset the chart uses ({{ .Values.x }}, .Release/.Chart, `| quote`, `| default`, toYaml with
// nindent, if/end with whitespace trimming) renders it; the result must parse as Kubernetes
// objects with the values applied, and its shiplog config must pass `shiplog validate`. A
// template construct the renderer does not know fails the test (the chart must stay in the subset).

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT } from './helpers/proc.js';

const CHART = path.join(ROOT, 'deploy', 'helm', 'shiplog');
type Obj = Record<string, unknown>;

function lookup(ctx: Obj, ref: string): unknown {
  let cur: unknown = ctx;
  for (const k of ref.replace(/^\./, '').split('.')) cur = (cur as Obj | undefined)?.[k];
  return cur;
}

function evalExpr(expr: string, ctx: Obj): unknown {
  const [head, ...pipes] = expr.split('|').map((s) => s.trim());
  let v: unknown;
  let m: RegExpExecArray | null;
  if ((m = /^toYaml (\.[\w.]+)$/.exec(head))) v = stringify(lookup(ctx, m[1])).trimEnd();
  else if (/^\.[\w.]+$/.test(head)) v = lookup(ctx, head);
  else throw new Error(`template expression not supported: ${expr}`);
  for (const p of pipes) {
    if (p === 'quote') v = JSON.stringify(String(v));
    else if ((m = /^default (\.[\w.]+)$/.exec(p)))
      v = v === '' || v === undefined ? lookup(ctx, m[1]) : v;
    else if ((m = /^nindent (\d+)$/.exec(p)))
      v =
        '\n' +
        String(v)
          .split('\n')
          .map((l) => ' '.repeat(Number(m![1])) + l)
          .join('\n');
    else throw new Error(`template function not supported: ${p}`);
  }
  return v;
}

export function render(template: string, ctx: Obj): string {
  // Whitespace trimming: `{{-` eats the whitespace (and newline) before the action.
  const src = template.replace(/\s*\{\{-/g, '{{');
  const out: string[] = [];
  const stack: boolean[] = [];
  const on = () => stack.every(Boolean);
  let pos = 0;
  for (const m of src.matchAll(/\{\{\s*(.*?)\s*-?\}\}/g)) {
    if (on()) out.push(src.slice(pos, m.index));
    pos = m.index + m[0].length;
    const action = m[1];
    let c: RegExpExecArray | null;
    if ((c = /^if (\.[\w.]+)$/.exec(action))) stack.push(Boolean(lookup(ctx, c[1])));
    else if (action === 'end') {
      if (!stack.length) throw new Error('end without if');
      stack.pop();
    } else if (on()) out.push(String(evalExpr(action, ctx)));
  }
  if (stack.length) throw new Error('if without end');
  out.push(src.slice(pos));
  return out.join('');
}

function renderChart(overrides: Obj = {}): Obj[] {
  const values = {
    ...(parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as Obj),
    ...overrides,
  };
  const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
  const ctx = {
    Values: values,
    Release: { Name: 'shiplog', Namespace: 'logging' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const docs: Obj[] = [];
  for (const f of readdirSync(path.join(CHART, 'templates')).filter((f) => f.endsWith('.yaml'))) {
    const text = render(readFileSync(path.join(CHART, 'templates', f), 'utf8'), ctx);
    for (const d of parseAllDocuments(text)) {
      expect(d.errors, `${f}: ${d.errors.map((e) => e.message).join('; ')}\n${text}`).toEqual([]);
      const o = d.toJS() as Obj | null;
      if (o) docs.push(o);
    }
  }
  return docs;
}

const kind = (docs: Obj[], k: string) => docs.filter((d) => d.kind === k);

describe('helm chart deploy/helm/shiplog', () => {
  it('the renderer refuses what it does not know', () => {
    expect(() => render('{{ include "x" . }}', {})).toThrow(/not supported/);
    expect(() => render('{{ if .a }}x', {})).toThrow(/if without end/);
    expect(render('a:{{- if .x }} {{ .y | quote }}{{- end }}', { x: 1, y: 2 })).toBe('a: "2"');
  });

  it('renders the DaemonSet with image, resources, tolerations, probes and config', () => {
    const docs = renderChart();
    const chart = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
    expect(kind(docs, 'ServiceMonitor')).toEqual([]);
    expect(kind(docs, 'PodMonitor')).toEqual([]);
    const [ds] = kind(docs, 'DaemonSet') as Array<{
      spec: { template: { spec: Obj & { containers: Obj[] } } };
    }>;
    const pod = ds.spec.template.spec;
    const c = pod.containers[0] as Obj & {
      livenessProbe: Obj;
      readinessProbe: Obj;
      resources: Obj;
    };
    expect(c.image).toBe(`ghcr.io/infrafabric/shiplog:${String(chart.appVersion)}`);
    expect(c.resources).toEqual({
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    expect(pod.tolerations).toHaveLength(2);
    expect(pod.priorityClassName).toBeUndefined();
    expect(JSON.stringify(c.livenessProbe)).toContain('/healthz');
    expect(JSON.stringify(c.readinessProbe)).toContain('/readyz');
    const [cm] = kind(docs, 'ConfigMap') as Array<{ data: Record<string, string> }>;
    const config = parse(cm.data['shiplog.yaml']) as {
      service: { http: { listen: string }; shutdown_timeout: string };
    };
    expect(config.service.http.listen).toBe('0.0.0.0:2020');
    expect(Number(pod.terminationGracePeriodSeconds) * 1000).toBeGreaterThan(30_000);
    const file = path.join(tempDir(), 'shiplog.yaml');
    writeFileSync(file, cm.data['shiplog.yaml']);
    const v = spawnSync(process.execPath, [BIN, 'validate', '--config-only', '-c', file], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NODE_NAME: 'node-1' },
    });
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
  });

  it('values: image tag, priority class, tolerations, ServiceMonitor and PodMonitor', () => {
    const docs = renderChart({
      image: { repository: 'r.example/shiplog', tag: '9.9.9', pullPolicy: 'Always' },
      priorityClassName: 'system-node-critical',
      tolerations: [{ operator: 'Exists' }],
      serviceMonitor: { enabled: true, interval: '15s' },
      podMonitor: { enabled: true, interval: '20s' },
    });
    const [ds] = kind(docs, 'DaemonSet') as Array<{
      spec: { template: { spec: Obj & { containers: Obj[] } } };
    }>;
    expect(ds.spec.template.spec.containers[0].image).toBe('r.example/shiplog:9.9.9');
    expect(ds.spec.template.spec.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.template.spec.tolerations).toEqual([{ operator: 'Exists' }]);
    const [sm] = kind(docs, 'ServiceMonitor') as Array<{ spec: { endpoints: Obj[] } }>;
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http-metrics', interval: '15s' });
    expect(kind(docs, 'Service')).toHaveLength(1);
    const [pm] = kind(docs, 'PodMonitor') as Array<{ spec: { podMetricsEndpoints: Obj[] } }>;
    expect(pm.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'http-metrics', interval: '20s' });
  });
});
