// Exit codes and input edges (issue #21 item 4), through the real CLI: a backfill of nothing is a
// usage error (2), `backfill -` reads standard input, no command is a usage error, and
// `cat file | shiplog run` exits 0 once its stdin input ended and everything was acknowledged.

import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT } from './helpers/proc.js';
import { LokiReceiver } from './receivers/loki.js';

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input,
    timeout: 30_000,
  });
}

/** Run with `input` piped to stdin, asynchronously (an in-process receiver must keep answering). */
function piped(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

describe('exit codes and input edges', () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'files.yaml');
  writeFileSync(
    cfg,
    `service: { data_dir: ${dir}/data }\npipeline:\n  inputs: [{ type: file, id: app, paths: ["${dir}/logs/*.log"] }]\n  outputs: [{ type: stdout }]\n`,
  );
  const receivers: LokiReceiver[] = [];
  afterAll(async () => {
    for (const r of receivers) await r.close();
  });

  it('no command: help on stderr, exit 2', () => {
    const r = cli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Usage: shiplog');
    expect(r.stdout).toBe('');
  });

  it('backfill of a missing path, an empty glob, or inputs matching nothing: exit 2, nothing delivered', () => {
    for (const args of [[`${dir}/missing.log`], [`${dir}/logs/*.log`], []]) {
      const r = cli(['backfill', '-c', cfg, ...args]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/no file matches/);
      expect(r.stdout).toBe('');
    }
  });

  it('backfill --input nope and --since yesterday are usage errors (2), not config errors', () => {
    const a = cli(['backfill', '-c', cfg, '--input', 'nope']);
    expect(a.status).toBe(2);
    expect(a.stderr).toContain('--input: no input with id "nope" (inputs: app)');
    const b = cli(['backfill', '-c', cfg, '--since', 'yesterday', '-']);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('--since: expected an RFC 3339 time');
  });

  it('backfill - reads standard input to its end', () => {
    const r = cli(['backfill', '-c', cfg, '-'], 'one\ntwo\nthree\n');
    expect(r.status, r.stderr).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { message: string }).message),
    ).toEqual(['one', 'two', 'three']);
    expect(r.stderr).toContain('backfill done: read 3, delivered 3');
  });

  it('cat file | shiplog run (stdin input) exits 0 when input ends and everything is acknowledged', async () => {
    const loki = await LokiReceiver.start();
    receivers.push(loki);
    const file = path.join(dir, 'stdin.yaml');
    writeFileSync(
      file,
      `service: { data_dir: ${dir}/data-run }\npipeline:\n  inputs: [{ type: stdin }]\n  outputs:\n    - { type: loki, url: "${loki.url}", labels: { job: pipe }, batch: { max_wait: 2s } }\n`,
    );
    const n = 20_000;
    const lines = Array.from({ length: n }, (_, i) => `line ${i}`).join('\n') + '\n';
    const t0 = Date.now();
    const r = await piped(['run', '-c', file], lines);
    expect(r.code, r.stderr).toBe(0);
    expect(loki.stats.accepted).toBe(n);
    expect(r.stderr).toContain('end of input: everything acknowledged, stopping');
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 40_000);
});
