// `shiplog test FILE` through the real CLI: passing tests exit 0, a wrong expectation exits 1
// with what was received, an invalid test file or config exits 78.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/harness.js';
import { runCli } from './cli.js';

const CONFIG = `service:
  data_dir: /nonexistent/shiplog
pipeline:
  inputs:
    - { type: file, id: web, tag: web, paths: [/var/log/web/*.log] }
  filters:
    - { type: parse_json, id: json }
    - { type: grep, id: nodebug, match: web, exclude: { level: "^debug$" } }
    - { type: label, id: lbl, from: [team] }
    - { type: redact, id: secrets }
  outputs:
    - { type: loki, id: loki, url: "http://127.0.0.1:9", match: web, labels: { job: web } }
    - { type: stdout, id: audit, match: audit }
`;

const TESTS = `config: shiplog.yaml
tests:
  - name: debug lines are dropped, the rest labelled and redacted
    input:
      input: web
      lines:
        - '{"level":"debug","msg":"noise"}'
        - '{"level":"info","team":"a","msg":"login password=hunter2"}'
    expect:
      dropped: 1
      outputs:
        loki:
          count: 1
          records: [{ level: info, msg: "login password=[REDACTED]" }]
          labels: [{ team: a }]
        audit: { count: 0 }
  - name: records with another tag go to audit only
    input:
      tag: audit
      records: [{ user: bob, action: delete }]
    expect:
      outputs:
        loki: { count: 0 }
        audit: { count: 1, records: [{ user: bob }], absent: [password] }
`;

function setup(tests = TESTS): { dir: string; file: string } {
  const dir = tempDir('shiplog-test-cmd-');
  writeFileSync(path.join(dir, 'shiplog.yaml'), CONFIG);
  const file = path.join(dir, 'shiplog.test.yaml');
  writeFileSync(file, tests);
  return { dir, file };
}

describe('shiplog test', () => {
  it('runs the tests through the real filters: exit 0 when they pass', async () => {
    const { file } = setup();
    const r = await runCli(['test', file]);
    console.log(`[ops] shiplog test:\n${r.stdout}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('ok    debug lines are dropped, the rest labelled and redacted');
    expect(r.stdout).toContain('2 passed, 0 failed');
    const j = await runCli(['test', file, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ passed: 2, failed: 0 });
  }, 30_000);

  it('a wrong expectation fails (exit 1) and says what was received', async () => {
    const { file } = setup(
      TESTS.replace('dropped: 1', 'dropped: 0').replace(
        'msg: "login password=[REDACTED]"',
        'msg: "login password=hunter2"',
      ),
    );
    const r = await runCli(['test', file]);
    console.log(`[ops] shiplog test, failing:\n${r.stdout}`);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL  debug lines are dropped');
    expect(r.stdout).toContain('dropped: expected 0, got 1');
    expect(r.stdout).toContain('"msg":"login password=[REDACTED]"');
    expect(r.stdout).toContain('1 passed, 1 failed');
  }, 30_000);

  it('an invalid test file or config exits 78', async () => {
    const bad = setup(TESTS.replace('expect:\n      dropped', 'expekt:\n      dropped'));
    const r = await runCli(['test', bad.file]);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('unknown key "expekt"');
    const cfg = setup();
    writeFileSync(path.join(cfg.dir, 'shiplog.yaml'), CONFIG.replace('exclude:', 'exclud:'));
    const c = await runCli(['test', cfg.file]);
    expect(c.status).toBe(78);
    const help = await runCli(['test', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Config unit tests');
  }, 30_000);
});
