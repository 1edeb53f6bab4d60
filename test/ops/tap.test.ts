// `shiplog tap` against a real daemon: off by default, records after the filters (a redacted
// secret never appears), sampling bounded by the rate, component/match selection, loopback only.

import { appendFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/harness.js';
import { runShiplog, type Proc } from '../helpers/proc.js';
import { runCli } from './cli.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function daemon(
  tap: boolean,
  listen = '127.0.0.1:0',
): Promise<{ url: string; dir: string; port: string }> {
  const dir = tempDir('shiplog-tap-');
  const log = path.join(dir, 'app.log');
  writeFileSync(log, '');
  const cfg = path.join(dir, 'shiplog.yaml');
  writeFileSync(
    cfg,
    `service:
  data_dir: ${dir}/data
  shutdown_timeout: 1s
  http: { listen: "${listen}", tap: ${tap} }
pipeline:
  inputs:
    - { type: file, id: app, tag: app, paths: ["${log}"] }
  filters:
    - { type: parse_json, id: json }
    - { type: redact, id: secrets }
  outputs:
    - { type: stdout, id: out, format: json }
`,
  );
  const p: Proc = runShiplog(['run', '-c', cfg], { captureStdout: false });
  cleanups.push(async () => {
    p.kill('SIGKILL');
    await p.exited;
  });
  const started = await p.waitForLog('shiplog started');
  const port = String(started.http).split(':').pop()!;
  // A writer: 2,000 lines/s, each with a secret.
  let seq = 0;
  const t = setInterval(() => {
    let s = '';
    for (let i = 0; i < 100; i++)
      s += `{"seq":${seq++},"msg":"login password=hunter2 ok","level":"info"}\n`;
    appendFileSync(log, s);
  }, 50);
  cleanups.push(() => clearInterval(t));
  return { url: `http://127.0.0.1:${port}`, dir, port };
}

describe('shiplog tap', () => {
  it('is off unless service.http.tap: true', async () => {
    const d = await daemon(false);
    const r = await runCli(['tap', '--url', d.url, '--limit', '1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('tap is off: set service.http.tap: true');
  }, 30_000);

  it('prints records after the filters (the secret is redacted), sampled at the rate', async () => {
    const d = await daemon(true);
    const r = await runCli(['tap', '--url', d.url, '--limit', '5']);
    console.log(`[ops] shiplog tap --limit 5:\n${r.stdout}`);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(r.stdout).not.toContain('hunter2');
    expect(r.stdout).toContain('password=[REDACTED]');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z app \[app\] \{.*"seq":\d+/);

    // --rate 10 for ~3 s while 2,000 lines/s flow: at most the bucket (10) + 10/s.
    const t0 = Date.now();
    // Counted from spawn (an upper bound on the time connected); stopped 3 s after the first sample.
    const sampled = await runCli(['tap', '--url', d.url, '--json', '--rate', '10'], {
      onStart: (child) => {
        const stop = setTimeout(() => child.kill('SIGINT'), 20_000);
        child.stdout!.once('data', () => {
          clearTimeout(stop);
          setTimeout(() => child.kill('SIGINT'), 3000);
        });
      },
    });
    const secs = (Date.now() - t0) / 1000;
    const got = sampled.stdout.trim().split('\n').filter(Boolean);
    console.log(
      `[ops] tap --rate 10 for ${secs.toFixed(1)} s at 2000 lines/s: ${got.length} samples`,
    );
    expect(sampled.status, sampled.stderr).toBe(0);
    expect(got.length).toBeGreaterThan(5);
    expect(got.length).toBeLessThanOrEqual(10 + Math.ceil(secs * 10));
    const one = JSON.parse(got[0]) as {
      input: string;
      tag: string;
      outputs: string[];
      record: { seq: number };
    };
    expect(one).toMatchObject({ input: 'app', tag: 'app', outputs: ['out'] });
    expect(typeof one.record.seq).toBe('number');

    // Selection: a tag that never occurs gives nothing; an unknown component is refused.
    const none = await runCli(['tap', '--url', d.url, '--match', 'nothing.*'], {
      onStart: (child) => setTimeout(() => child.kill('SIGINT'), 6000),
    });
    expect(none.status).toBe(0);
    expect(none.stdout).toBe('');
    const byOutput = await runCli(['tap', '--url', d.url, '--component', 'out', '--limit', '2']);
    expect(byOutput.stdout.trim().split('\n')).toHaveLength(2);
    const bad = await runCli(['tap', '--url', d.url, '--component', 'nope']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('component nope: no input, filter or output with this id');
  }, 60_000);

  it('refuses a client that is not on this host unless tap_remote', async () => {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!external) return; // no non-loopback address on this host
    const d = await daemon(true, '0.0.0.0:0');
    const r = await runCli(['tap', '--url', `http://${external}:${d.port}`, '--limit', '1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('403');
    expect(r.stderr).toContain('loopback clients only');
  }, 30_000);
});
