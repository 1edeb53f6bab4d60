// `validate` checks what a config names on this host, and `run` refuses to start on the same
// problems with exit 78 naming the key (issue #21 item 2): the real CLI, real files and ports.

import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT } from './helpers/proc.js';

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('host checks (validate and run)', () => {
  const dir = tempDir();
  const cases: Array<[string, string, string, RegExp]> = [
    [
      'auth.password_file',
      `[{ type: loki, url: "http://127.0.0.1:9", auth: { user: u, password_file: ${dir}/nope/pw } }]`,
      'pipeline.outputs[0].auth.password_file',
      /cannot read .*nope\/pw: no such file/,
    ],
    [
      'tls.ca_file',
      `[{ type: elasticsearch, url: "https://127.0.0.1:9", tls: { ca_file: ${dir}/ca.pem } }]`,
      'pipeline.outputs[0].tls.ca_file',
      /cannot read .*ca\.pem: no such file/,
    ],
    [
      'api_key_file',
      `[{ type: elasticsearch, url: "http://127.0.0.1:9", auth: { type: api_key, api_key_file: ${dir} } }]`,
      'pipeline.outputs[0].auth.api_key_file',
      /is a directory, not a file/,
    ],
  ];
  for (const [name, outputs, key, why] of cases) {
    it(`a missing ${name}: validate and run exit 78 naming ${key}`, () => {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        `service: { data_dir: ${dir}/data }\npipeline:\n  inputs: [{ type: demo }]\n  outputs: ${outputs}\n`,
      );
      const v = cli(['validate', '-c', file]);
      expect(v.status, v.stderr).toBe(78);
      expect(v.stderr).toContain(`${file}:4:`);
      expect(v.stderr).toContain(key);
      expect(v.stderr).toMatch(why);
      const r = cli(['run', '-c', file]);
      expect(r.status, r.stderr).toBe(78);
      const lines = r.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, string>);
      expect(lines).toEqual([expect.objectContaining({ level: 'error', msg: 'invalid config' })]);
      expect(lines[0].error).toContain(key);
      expect(lines[0].error).toMatch(why);
      // A config for another machine: --config-only checks the config alone.
      expect(cli(['validate', '--config-only', '-c', file]).status).toBe(0);
    });
  }

  it('journalctl_path missing and an uncreatable data_dir', () => {
    const file = path.join(dir, 'journal.yaml');
    writeFileSync(
      file,
      `service: { data_dir: /etc/passwd/shiplog }\npipeline:\n  inputs: [{ type: journald, journalctl_path: ${dir}/bin/journalctl }]\n  outputs: [{ type: stdout }]\n`,
    );
    const v = cli(['validate', '-c', file]);
    expect(v.status).toBe(78);
    expect(v.stderr).toContain('pipeline.inputs[0].journalctl_path');
    expect(v.stderr).toContain('service.data_dir: cannot create or write /etc/passwd/shiplog');
    const r = cli(['run', '-c', file]);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('service.data_dir');
  });

  it('a port in use: validate warns (a running daemon holds its own port), run exits 78', async () => {
    const server = createServer();
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    const file = path.join(dir, 'port.yaml');
    writeFileSync(
      file,
      `service: { data_dir: ${dir}/data2, http: { listen: "127.0.0.1:${port}" } }\npipeline:\n  inputs: [{ type: demo }]\n  outputs: [{ type: stdout }]\n`,
    );
    try {
      const run = (args: string[]) =>
        new Promise<{ status: number | null; stderr: string }>((resolve) => {
          // Async: the listening server must keep answering while the CLI runs.
          execFile(process.execPath, [BIN, ...args], { cwd: ROOT }, (e, _o, stderr) =>
            resolve({ status: e ? ((e as { code?: number }).code ?? 1) : 0, stderr }),
          );
        });
      const v = await run(['validate', '-c', file]);
      expect(v.status).toBe(0);
      expect(v.stderr).toMatch(/warning: service\.http\.listen: cannot listen on .*address in use/);
      const r = await run(['run', '-c', file]);
      expect(r.status).toBe(78);
      expect(r.stderr).toContain('service.http.listen');
    } finally {
      server.close();
    }
  });
});
