// Config messages a new operator can act on (issue #21 item 7), through the real CLI.

import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT, runShiplog } from './helpers/proc.js';

const dir = tempDir();
let n = 0;
function validate(body: string, name = `c${n++}.yaml`) {
  const file = path.join(dir, name);
  writeFileSync(file, body);
  const r = spawnSync(process.execPath, [BIN, 'validate', '-c', file], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, LOKI_URL: '' },
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}
const svc = `service: { data_dir: ${dir}/data }\n`;
const one = (input: string, output = '{ type: stdout }') =>
  `${svc}pipeline:\n  inputs: [${input}]\n  outputs: [${output}]\n`;

describe('config error messages', () => {
  it('say what was expected and what was given', () => {
    const r = validate(
      `${svc}pipeline:\n  inputs:\n    - { type: demo, rate: fast }\n    - { type: demo, count: 1.5 }\n  outputs:\n    - { type: loki, url: "not a url" }\n`,
    );
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('pipeline.inputs[0].rate: expected a number, got "fast"');
    expect(r.stderr).toContain('pipeline.inputs[1].count: expected a whole number, got 1.5');
    expect(r.stderr).toContain('pipeline.outputs[0].url: invalid URL "not a url"');
    expect(r.stderr).not.toMatch(/required|received/);
  });

  it('${VAR:default} without the "-" is flagged', () => {
    const r = validate(one('{ type: demo }', '{ type: loki, url: "${LOKI_URL:http://x}" }'));
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(
      '"${LOKI_URL:http://x}" is not interpolated: write ${LOKI_URL:-http://x}',
    );
  });

  it('Fluent Bit habits point at shiplog convert', () => {
    const es = validate(one('{ type: demo }', '{ type: es }'));
    expect(es.stderr).toContain(
      'unknown output type "es"; Fluent Bit\'s "es" is shiplog\'s "elasticsearch"',
    );
    expect(es.stderr).not.toContain('did you mean "s3"');
    const tail = validate(one('{ type: tail, paths: [/x] }'));
    expect(tail.stderr).toContain('Fluent Bit\'s "tail" is shiplog\'s "file"');
    expect(tail.stderr).toContain('shiplog convert');
    const name = validate(one('{ name: tail, paths: [/x] }'));
    expect(name.stderr).toContain('"name: tail" is Fluent Bit\'s key; shiplog uses "type"');
    const classic = validate(
      '[INPUT]\n    Name tail\n    Path /var/log/*.log\n\n[OUTPUT]\n    Name stdout\n',
      'fluent-bit.conf',
    );
    expect(classic.status).toBe(78);
    expect(classic.stderr.trim().split('\n')).toHaveLength(2);
    expect(classic.stderr).toContain('Fluent Bit classic config');
    expect(classic.stderr).toContain('shiplog convert');
  });

  it('{tag} in Loki labels is rejected (it would render empty and drop the label)', () => {
    const r = validate(
      one('{ type: demo }', '{ type: loki, url: "http://x", labels: { t: "{tag}" } }'),
    );
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('pipeline.outputs[0].labels.t: {tag} is not a record field');
  });

  it('warnings, once each: a match that matches no tag, a glob that matches no file', () => {
    const r = validate(
      `${svc}pipeline:\n  inputs: [{ type: file, tag: app, paths: ["${dir}/none/*.log"] }, { type: demo, tag: "kube.{x}" }]\n  filters: [{ type: grep, match: "zzz*", include: { message: x } }]\n  outputs: [{ type: stdout, match: "other" }, { type: stdout, match: "kube.*" }]\n`,
    );
    expect(r.status, r.stderr).toBe(0);
    const warnings = r.stderr.trim().split('\n');
    expect(warnings).toEqual([
      expect.stringMatching(
        /^shiplog: warning: pipeline\.outputs\[0\] \(stdout_0\): match "other" matches no input's tag/,
      ),
      expect.stringMatching(
        /^shiplog: warning: pipeline\.filters\[0\] \(grep_0\): match "zzz\*" matches no input's tag/,
      ),
      expect.stringMatching(
        /^shiplog: warning: pipeline\.inputs\[0\] \(file_0\): ".*none\/\*\.log" matches no file now/,
      ),
    ]);
  });

  it('journalctl saying "No journal files were found" is reported once', async () => {
    const fake = path.join(dir, 'journalctl');
    writeFileSync(fake, '#!/bin/sh\necho "No journal files were found." >&2\nexit 0\n');
    chmodSync(fake, 0o755);
    const file = path.join(dir, 'journal.yaml');
    writeFileSync(file, one(`{ type: journald, journalctl_path: ${fake} }`));
    const p = runShiplog(['run', '-c', file]);
    await p.waitForLog('shiplog started');
    await new Promise((r) => setTimeout(r, 4000));
    p.kill();
    await p.exited;
    // journalctl was respawned several times; the warning came once, no raw stderr line each time.
    expect(p.stderr.match(/"msg":"journalctl exited; respawning"/g)?.length).toBeGreaterThan(1);
    expect(p.stderr.match(/"msg":"journalctl: no journal files found/g)?.length).toBe(1);
    expect(p.stderr).not.toContain('"msg":"journalctl: stderr"');
  }, 20_000);
});
