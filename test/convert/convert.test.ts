// `shiplog convert` on the fixture corpus (test/fixtures/convert/): every converted config passes
// `shiplog validate`, the mappings that matter are checked, secrets never leave the input, the
// report points at real lines, and the CLI's usage and exit codes. Real processes throughout.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempDir } from '../helpers/harness.js';
import { BIN, ROOT } from '../helpers/proc.js';
import { cli, convertFixture, FIXTURES, type ConvertReport } from './lib.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FIXTURE_ENV = {
  DATA_DIR: '/tmp/shiplog-convert-validate',
  APP_LOG: '/tmp/app.log',
  ACCESS_LOG: '/tmp/access.log',
  LOKI_HOST: '127.0.0.1',
  LOKI_PORT: '3100',
  ES_PORT: '9200',
  ES_PASSWORD: 'x',
  LOKI_0_PASSWORD: 'x',
};

const CORPUS = [
  'helm-default/fluent-bit.conf',
  'loki-kubernetes/fluent-bit.conf',
  'es-s3/fluent-bit.conf',
  'classic-include/fluent-bit.conf',
  'yaml-loki/fluent-bit.yaml',
  'es-logstash/fluent-bit.conf',
  'unsupported/fluent-bit.conf',
];

function converted(fixture: string): { cfg: Obj; report: ConvertReport; text: string } {
  const dir = tempDir('shiplog-convert-');
  const { config, report } = convertFixture(fixture, dir);
  const text = readFileSync(config, 'utf8');
  return { cfg: parse(text) as Obj, report, text };
}

const find = (list: Obj[], type: string): Obj[] => list.filter((c) => c.type === type);

describe('shiplog convert: the corpus', () => {
  for (const fixture of CORPUS) {
    it(`${fixture}: the converted config passes shiplog validate; every finding names a real line`, () => {
      const dir = tempDir('shiplog-convert-');
      const { config, report } = convertFixture(fixture, dir);
      const v = cli(['validate', '--config-only', '-c', config], FIXTURE_ENV);
      expect(v.status, `${v.stdout}${v.stderr}\n${readFileSync(config, 'utf8')}`).toBe(0);
      for (const f of report.findings) {
        const lines = readFileSync(path.resolve(ROOT, f.file), 'utf8').split('\n');
        expect(f.line, JSON.stringify(f)).toBeGreaterThan(0);
        expect(lines[f.line - 1]?.trim(), JSON.stringify(f)).not.toBe('');
        expect(['info', 'warning', 'error']).toContain(f.severity);
        expect(f.why).not.toBe('');
      }
    });
  }

  it("the Helm chart's default config: kubernetes input with metadata, journald for kubelet, two ES outputs by tag", () => {
    const { cfg, report } = converted('helm-default/fluent-bit.conf');
    expect(cfg.service.http).toEqual({ listen: '0.0.0.0:2020' });
    const [kube] = find(cfg.pipeline.inputs, 'kubernetes');
    expect(kube).toMatchObject({
      tag: 'kube.{kubernetes.namespace_name}.{kubernetes.pod_name}.{kubernetes.container_name}',
      read_from: 'tail',
      metadata: { enabled: true },
      exclude_annotation: 'fluentbit.io/exclude',
    });
    expect(find(cfg.pipeline.inputs, 'journald')[0]).toMatchObject({
      units: ['kubelet.service'],
      read_from: 'tail',
      tag: 'host.kubelet.service',
    });
    // Merge_Log On, Keep_Log Off: the log field parsed as JSON, removed when it parsed.
    expect(find(cfg.pipeline.filters, 'parse_json')[0]).toMatchObject({
      match: 'kube.*',
      field: 'log',
      keep_original: false,
    });
    const es = find(cfg.pipeline.outputs, 'elasticsearch');
    expect(es.map((o) => [o.match, o.index, o.url])).toEqual([
      ['kube.*', 'logstash-%Y.%m.%d', 'http://elasticsearch-master:9200'],
      ['host.*', 'node-%Y.%m.%d', 'http://elasticsearch-master:9200'],
    ]);
    const parserAnn = report.findings.find((f) => f.directive.startsWith('K8S-Logging.Parser'));
    expect(parserAnn).toMatchObject({ severity: 'warning', line: 31 });
    expect(report.errors).toBe(0);
  });

  it('secrets written inline are never copied: they become ${ENV} references, and the report says which', () => {
    const dir = tempDir('shiplog-convert-');
    const out = cli(['convert', path.join(FIXTURES, 'loki-kubernetes/fluent-bit.conf')]);
    expect(out.status).toBe(0);
    expect(out.stdout + out.stderr).not.toContain('s3cr3t-inline-password');
    const cfg = parse(out.stdout) as Obj;
    expect(cfg.pipeline.outputs[0].auth).toEqual({
      type: 'basic',
      user: 'loki',
      password: '${LOKI_0_PASSWORD}',
    });
    expect(out.stderr).toMatch(
      /fluent-bit\.conf:57: warning: HTTP_Passwd \(value not shown\): a secret written inline.*\n\s+-> export LOKI_0_PASSWORD/,
    );
    // An ${ENV} reference is kept as it is.
    const { cfg: es } = converted('es-s3/fluent-bit.conf');
    expect(es.pipeline.outputs[0].auth).toEqual({
      type: 'basic',
      user: 'fluent',
      password: '${ES_PASSWORD}',
    });
    void dir;
  });

  it('loki: labels with record accessors, tenant, remove_keys kept where labels need the fields', () => {
    const { cfg, report } = converted('loki-kubernetes/fluent-bit.conf');
    const [loki] = cfg.pipeline.outputs;
    expect(loki).toMatchObject({
      url: 'https://loki-gateway.monitoring.svc:443',
      tenant: 'team-a',
      labels: {
        job: 'fluent-bit',
        namespace: '{kubernetes.namespace_name}',
        container: '{kubernetes.container_name}',
        stream: '{stream}',
      },
      workers: 2,
    });
    expect(report.findings.some((f) => f.directive.startsWith('Auto_Kubernetes_Labels'))).toBe(
      true,
    );
    expect(report.findings.find((f) => f.directive === 'Remove_Keys kubernetes')?.severity).toBe(
      'warning',
    );
    const k = find(cfg.pipeline.inputs, 'kubernetes')[0];
    expect(k.exclude).toEqual([
      '/var/log/pods/*_fluent-bit*_*/*/*.log',
      '/var/log/pods/kube-system_*_*/*/*.log',
    ]);
    expect(k).toMatchObject({ scan_interval: '10s', rotate_wait: '30s', read_from: 'tail' });
    expect(k.metadata).toMatchObject({
      api_server: 'https://kubernetes.default.svc:443',
      annotations: false,
    });
    expect(find(cfg.pipeline.filters, 'parse_json')[0]).toMatchObject({
      field: 'log',
      target: 'log_processed',
      keep_original: true,
    });
  });

  it("loki bearer token and TLS: the HTTP outputs' shared auth/tls shape (#19)", () => {
    const dir = tempDir('shiplog-convert-');
    const file = path.join(dir, 'fluent-bit.conf');
    writeFileSync(
      file,
      [
        '[INPUT]',
        '    Name dummy',
        '    Tag  app',
        '[OUTPUT]',
        '    Name         loki',
        '    Match        *',
        '    Host         loki.internal',
        '    Port         443',
        '    tls          on',
        '    tls.verify   off',
        '    tls.vhost    loki.example.com',
        '    bearer_token ${LOKI_TOKEN}',
        '',
      ].join('\n'),
    );
    const out = cli(['convert', file]);
    expect(out.status, out.stderr).toBe(0);
    const loki = (parse(out.stdout) as Obj).pipeline.outputs[0];
    expect(loki.auth).toEqual({ type: 'bearer', token: '${LOKI_TOKEN}' });
    expect(loki.tls).toEqual({ verify: false, server_name: 'loki.example.com' });
  });

  it('es and s3 options', () => {
    const { cfg } = converted('es-s3/fluent-bit.conf');
    const [es, s3] = cfg.pipeline.outputs;
    expect(es).toMatchObject({
      url: 'https://es.internal:9243',
      index: 'myapp-%Y.%m.%d',
      document_id: 'auto',
      compression: 'gzip',
      tls: { ca_file: '/etc/ssl/es-ca.pem', verify: false },
      buffer: { max_size: '2GiB' },
      batch: { max_wait: '5s' },
    });
    expect(s3).toMatchObject({
      bucket: 'my-bucket',
      region: 'us-west-2',
      batch: { max_bytes: '250MiB', max_wait: '10m' },
      compression: 'gzip',
      key: '{tag[0]}/%Y/%m/%d/%H/%M/%S/{uuid}.gz',
    });
    // Path_Key: the file input's file.path becomes that field.
    expect(cfg.pipeline.filters[0]).toMatchObject({
      type: 'modify',
      rename: { message: 'log', 'file.path': 'filename' },
      remove: ['file'],
    });
    expect(cfg.service).toMatchObject({
      log_level: 'warn',
      data_dir: '/var/lib/fluent-bit/storage',
    });
  });

  it('classic format: @SET variables, @INCLUDE globs in order, findings name the included file and line', () => {
    const { cfg, report } = converted('classic-include/fluent-bit.conf');
    expect(cfg.pipeline.inputs[0]).toMatchObject({
      type: 'file',
      tag: 'agents.log',
      paths: ['${APP_LOG}'],
    });
    expect(cfg.pipeline.filters.map((f: Obj) => f.type)).toEqual([
      'modify', // record shape (message → log, no file.path)
      'parse_json',
      'modify',
      'grep',
      'modify', // record_modifier
      'modify', // nest
    ]);
    expect(cfg.pipeline.filters[1]).toMatchObject({
      match: 'agents.*',
      time_format: '%Y-%m-%dT%H:%M:%S.%f%z',
    });
    const rename = report.findings.find((f) => f.directive === 'Rename msg message');
    expect(rename).toMatchObject({
      file: 'test/fixtures/convert/classic-include/conf.d/20-filters.conf',
      line: 10,
    });
  });

  it('what has no equivalent is reported (lua, forward, rewrite_tag, conditions, nest lift), not converted', () => {
    const { cfg, report } = converted('unsupported/fluent-bit.conf');
    const errors = report.findings
      .filter((f) => f.severity === 'error')
      .map((f) => [f.line, f.directive]);
    expect(errors).toEqual([
      [1, '[INPUT] forward'],
      [12, '[FILTER] lua enrich.lua add_fields'],
      [25, '[FILTER] rewrite_tag'],
      [33, 'Condition Key_value_equals level debug'],
      [41, '[FILTER] nest lift'],
      [47, '[OUTPUT] forward'],
    ]);
    expect(cfg.pipeline.filters.map((f: Obj) => f.type)).toEqual(['modify', 'throttle', 'grep']);
    expect(find(cfg.pipeline.filters, 'throttle')[0]).toMatchObject({
      rate: 1000,
      burst: 5000,
      action: 'drop',
    });
    // A Match that selected some files of a tail input by their per-file tag.
    expect(report.findings.find((f) => f.line === 54)).toMatchObject({ severity: 'warning' });
    expect(cfg.pipeline.outputs[1].auth.password).toBe('${LOKI_0_PASSWORD}');
    expect(JSON.stringify(cfg) + JSON.stringify(report)).not.toContain('hunter2');
  });

  it('YAML format: the same mappings, line numbers from the YAML file', () => {
    const { cfg, report } = converted('yaml-loki/fluent-bit.yaml');
    expect(cfg.pipeline.filters.map((f: Obj) => f.type)).toEqual([
      'modify',
      'parse_regex',
      'modify',
      'enrich',
      'grep',
      'modify', // nest of listed keys
    ]);
    expect(find(cfg.pipeline.filters, 'parse_regex')[0]).toMatchObject({
      types: { code: 'int', size: 'int' },
      time_field: 'time',
      keep_time: false,
    });
    // A record accessor label is named by joining its keys, as Fluent Bit does: $http['method'] → http_method.
    expect(cfg.pipeline.outputs[0].labels).toEqual({
      job: 'web',
      level: '{level}',
      http_method: '{http.method}',
    });
    expect(report.findings.find((f) => f.directive.startsWith('rename remote'))?.line).toBe(30);
  });

  it('YAML format: env and includes, line numbers of the included file', () => {
    const dir = tempDir('shiplog-convert-');
    writeFileSync(
      path.join(dir, 'main.yaml'),
      [
        'env:',
        '  LOG_DIR: /var/log/app',
        'includes:',
        '  - outputs.yaml',
        'service:',
        '  http_server: on',
        '  http_port: 2021',
        'pipeline:',
        '  inputs:',
        '    - name: tail',
        '      path: ${LOG_DIR}/*.log',
        '      tag: app',
        '      db: /var/lib/fb/app.db',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'outputs.yaml'),
      [
        'pipeline:',
        '  outputs:',
        '    - name: stdout',
        '      match: app',
        '      format: json_lines',
        '',
      ].join('\n'),
    );
    const r = cli(['convert', path.join(dir, 'main.yaml'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    const cfg = parse(r.stdout) as Obj;
    expect(cfg.service.http).toEqual({ listen: '127.0.0.1:2021' });
    expect(cfg.pipeline.inputs[0]).toMatchObject({ paths: ['/var/log/app/*.log'], tag: 'app' });
    expect(cfg.pipeline.outputs[0]).toMatchObject({ type: 'stdout', match: 'app' });
    const report = JSON.parse(r.stderr) as ConvertReport;
    expect(report.findings.find((f) => f.directive.startsWith('db '))?.line).toBe(13);
    expect(report.findings.find((f) => f.file.endsWith('outputs.yaml'))?.line).toBe(3);
  });

  it('Match_Regex and Match are resolved to the tags of the inputs Fluent Bit would route', () => {
    const dir = tempDir('shiplog-convert-');
    const file = path.join(dir, 'fb.conf');
    writeFileSync(
      file,
      [
        '[INPUT]',
        '    Name tail',
        '    Path /var/log/web.log',
        '    Tag  app.web',
        '[INPUT]',
        '    Name tail',
        '    Path /var/log/db.log',
        '    Tag  app.db',
        '[INPUT]',
        '    Name tail',
        '    Path /var/log/other.log',
        '    Tag  sys',
        '[FILTER]',
        '    Name grep',
        '    Match_Regex ^app\\.(web|db)$',
        '    Regex level error',
        '[FILTER]',
        '    Name modify',
        '    Set a b',
        '[OUTPUT]',
        '    Name stdout',
        '    Match app.*',
        '[OUTPUT]',
        '    Name stdout',
        '    Match_Regex .*',
        '',
      ].join('\n'),
    );
    const r = cli(['convert', file, '--json']);
    expect(r.status).toBe(0);
    const cfg = parse(r.stdout) as Obj;
    const report = JSON.parse(r.stderr) as ConvertReport;
    expect(find(cfg.pipeline.filters, 'grep')[0].match).toEqual(['app.web', 'app.db']);
    // No Match: Fluent Bit routes nothing to it, so it is left out (and reported).
    expect(find(cfg.pipeline.filters, 'modify').map((f) => f.id)).not.toContain('modify');
    expect(report.findings.find((f) => f.line === 17)).toMatchObject({ severity: 'warning' });
    expect(cfg.pipeline.outputs.map((o: Obj) => o.match)).toEqual(['app.*', '*']);
  });
});

describe('shiplog convert: grep rule order', () => {
  it('without Logical_Op the first Regex decides, as in Fluent Bit 5.1: later rules are reported, not converted', () => {
    const dir = tempDir('shiplog-convert-');
    const file = path.join(dir, 'fb.conf');
    writeFileSync(
      file,
      [
        '[INPUT]',
        '    Name tail',
        '    Path /var/log/a.log',
        '    Tag  a',
        '[FILTER]',
        '    Name    grep',
        '    Match   *',
        '    Exclude path ^/healthz',
        '    Regex   level ^(warn|error)$',
        '    Exclude msg ^debug',
        '    Regex   service ^api$',
        '[FILTER]',
        '    Name       grep',
        '    Match      *',
        '    Logical_Op and',
        '    Regex      level ^error$',
        '    Regex      level ^e',
        '[OUTPUT]',
        '    Name  stdout',
        '    Match *',
        '',
      ].join('\n'),
    );
    const r = cli(['convert', file, '--json']);
    expect(r.status).toBe(0);
    const greps = find((parse(r.stdout) as Obj).pipeline.filters, 'grep');
    expect(greps.map(({ include, exclude }) => ({ include, exclude }))).toEqual([
      { include: { level: '^(warn|error)$' }, exclude: { path: '^/healthz' } },
      // Logical_Op and: every rule, two on one field in two filters.
      { include: { level: '^error$' }, exclude: undefined },
      { include: { level: '^e' }, exclude: undefined },
    ]);
    const report = JSON.parse(r.stderr) as ConvertReport;
    expect(report.findings.filter((f) => f.severity === 'warning').map((f) => f.line)).toEqual([
      10, 11,
    ]);
  });
});

describe('docs/migrating-from-fluent-bit.md', () => {
  it("the Helm chart walk-through shows the command's real, current output", () => {
    const doc = readFileSync(path.join(ROOT, 'docs/migrating-from-fluent-bit.md'), 'utf8');
    const cmd = '$ shiplog convert fluent-bit.conf > shiplog.yaml\n';
    const report = doc.slice(doc.indexOf(cmd) + cmd.length, doc.indexOf('$ echo $?'));
    const yamlStart = doc.indexOf('```yaml\n', doc.indexOf('$ echo $?')) + '```yaml\n'.length;
    const yaml = doc.slice(yamlStart, doc.indexOf('```', yamlStart));
    const r = spawnSync(process.execPath, [BIN, 'convert', 'fluent-bit.conf'], {
      cwd: path.join(FIXTURES, 'helm-default'),
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(report);
    expect(r.stdout).toBe(yaml);
  });
});

describe('shiplog convert: the command line', () => {
  it('--help describes the command; exit 0', () => {
    const r = cli(['convert', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: shiplog convert [options] <file>');
    expect(r.stdout).toContain('--json');
  });

  it('usage errors exit 2', () => {
    expect(cli(['convert']).status).toBe(2);
    expect(cli(['convert', 'a.conf', '--bogus']).status).toBe(2);
  });

  it('a config that cannot be read exits 78 with file:line (text and --json)', () => {
    const dir = tempDir('shiplog-convert-');
    mkdirSync(path.join(dir, 'x'));
    const missing = cli(['convert', path.join(dir, 'nope.conf')]);
    expect(missing.status).toBe(78);
    expect(missing.stderr).toContain('cannot read');
    const bad = path.join(dir, 'bad.conf');
    writeFileSync(bad, '[INPUT]\n    Name tail\n@INCLUDE missing.conf\n');
    const r = cli(['convert', bad]);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(`${bad}:3: @INCLUDE missing.conf: no such file`);
    const orphan = path.join(dir, 'orphan.conf');
    writeFileSync(orphan, '# comment\nName tail\n');
    const j = cli(['convert', orphan, '--json']);
    expect(j.status).toBe(78);
    expect(JSON.parse(j.stderr)).toMatchObject({ line: 2, errorFile: orphan });
    const yamlBad = path.join(dir, 'bad.yaml');
    writeFileSync(yamlBad, 'pipeline:\n  inputs:\n    - name: tail\n   bad: [\n');
    expect(cli(['convert', yamlBad]).status).toBe(78);
  });

  it('--json prints one JSON object with the counts and findings; the config goes to stdout', () => {
    const r = cli(['convert', path.join(FIXTURES, 'helm-default/fluent-bit.conf'), '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const rep = JSON.parse(r.stderr) as ConvertReport;
    expect(rep.converted).toEqual({ inputs: 2, filters: 3, outputs: 2 });
    expect(rep.findings.length).toBe(rep.errors + rep.warnings + rep.info);
    expect(parse(r.stdout)).toHaveProperty('pipeline.inputs');
  });
});
