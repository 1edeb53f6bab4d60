// The CLI end to end, as a user runs it: real processes, real config files, real signals.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT, getText, metricValue, runShiplog } from './helpers/proc.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

function writeConfig(dir: string, body: string): string {
  const file = path.join(dir, 'shiplog.yaml');
  writeFileSync(file, body);
  return file;
}

describe('shiplog validate / schema / usage', () => {
  it('accepts the default config and every example', () => {
    const r = cli(['validate', '-c', 'conf/shiplog.yaml']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('exits 78 with file:line:col and a suggestion for a typo', () => {
    const dir = tempDir();
    const file = writeConfig(
      dir,
      'pipeline:\n  inputs:\n    - type: demo\n      read_form: head\n  outputs:\n    - type: stdout\n',
    );
    const r = cli(['validate', '-c', file]);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(
      `${file}:4:7: pipeline.inputs[0].read_form: unknown key "read_form"`,
    );
  });

  it('exits 78 for a missing config file, 2 for a usage error', () => {
    expect(cli(['validate', '-c', '/nonexistent/shiplog.yaml']).status).toBe(78);
    expect(cli(['frobnicate']).status).toBe(2);
    expect(cli(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('prints a JSON Schema generated from the component schemas', () => {
    const r = cli(['schema']);
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout) as {
      properties: { pipeline: { properties: { inputs: unknown } } };
    };
    expect(JSON.stringify(s.properties.pipeline.properties.inputs)).toContain('"demo"');
  });
});

describe('shiplog run', () => {
  it('runs the default config: records on stdout, metrics and health served, SIGTERM exits 0', async () => {
    const dir = tempDir();
    const p = runShiplog(['run', '-c', 'conf/shiplog.yaml'], {
      env: { SHIPLOG_DATA_DIR: dir, SHIPLOG_HTTP_LISTEN: '127.0.0.1:0' },
    });
    const started = await p.waitForLog('shiplog started');
    const base = `http://${started.http as string}`;
    await new Promise((r) => setTimeout(r, 1200));
    const lines = p.stdout
      .trim()
      .split('\n')
      .filter((l) => l.includes('"correlation_id"'));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const rec = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(rec).toMatchObject({
      level: expect.any(String),
      correlation_id: expect.any(String),
      agent_id: expect.any(String),
    });

    expect((await getText(`${base}/healthz`)).status).toBe(200);
    expect((await getText(`${base}/readyz`)).status).toBe(200);
    const metrics = (await getText(`${base}/metrics`)).body;
    for (const name of [
      'shiplog_input_records_total',
      'shiplog_input_bytes_total',
      'shiplog_output_records_total',
      'shiplog_output_requests_total',
      'shiplog_output_latency_seconds',
      'shiplog_buffer_bytes',
      'shiplog_filter_records_total',
      'shiplog_dropped_records_total',
      'shiplog_file_lag_bytes',
    ]) {
      expect(metrics).toContain(`# TYPE ${name}`);
    }
    expect(
      metricValue(metrics, 'shiplog_input_records_total', { component: 'demo' }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      metricValue(metrics, 'shiplog_output_records_total', {
        component: 'console',
        result: 'sent',
      }),
    ).toBeGreaterThanOrEqual(3);

    p.kill('SIGTERM');
    const { code } = await p.exited;
    expect(code).toBe(0);
    expect(p.stderr).toContain('"msg":"stopped"');
  });

  it('SIGTERM delivers what is buffered before exiting', async () => {
    const dir = tempDir();
    const cfg = writeConfig(
      dir,
      `service:\n  data_dir: ${dir}\n  http: { listen: "127.0.0.1:0" }\n  shutdown_timeout: 20s\npipeline:\n  inputs:\n    - type: stdin\n      id: in\n  outputs:\n    - type: stdout\n      id: out\n      format: text\n`,
    );
    const p = runShiplog(['run', '-c', cfg], { stdin: 'pipe' });
    const started = await p.waitForLog('shiplog started');
    // Nobody reads stdout for now: shiplog's writes back up and records sit in its buffers.
    p.child.stdout!.pause();
    const N = 20_000;
    let text = '';
    for (let i = 0; i < N; i++) text += `line ${i} ${'x'.repeat(100)}\n`;
    p.child.stdin!.write(text);
    const base = `http://${started.http as string}`;
    for (let i = 0; i < 100; i++) {
      const m = (await getText(`${base}/metrics`)).body;
      if (metricValue(m, 'shiplog_input_records_total', { component: 'in' }) >= N) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = metricValue(
      (await getText(`${base}/metrics`)).body,
      'shiplog_output_records_total',
      { component: 'out', result: 'sent' },
    );
    expect(before).toBeLessThan(N); // really buffered
    p.kill('SIGTERM');
    p.child.stdout!.resume();
    const { code } = await p.exited;
    expect(code).toBe(0);
    const got = p.stdout.split('\n').filter((l) => l.includes('] line '));
    expect(got).toHaveLength(N);
    expect(new Set(got.map((l) => l.split(' ')[3])).size).toBe(N);
  });

  it('SIGHUP reloads a valid config and keeps running on an invalid one', async () => {
    const dir = tempDir();
    const body = (format: string) =>
      `service:\n  data_dir: ${dir}\npipeline:\n  inputs:\n    - type: demo\n      rate: 200\n  outputs:\n    - type: stdout\n      format: ${format}\n`;
    const cfg = writeConfig(dir, body('json'));
    const p = runShiplog(['run', '-c', cfg]);
    await p.waitForLog('shiplog started');
    writeFileSync(cfg, body('logfmt'));
    p.kill('SIGHUP');
    await p.waitForLog('reloaded');
    const mark = p.stdout.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(p.stdout.slice(mark)).toMatch(/^time=\S+ timestamp=/m);
    writeFileSync(cfg, body('yaml-please'));
    p.kill('SIGHUP');
    await p.waitForLog(/reload rejected/);
    const mark2 = p.stdout.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(p.stdout.length).toBeGreaterThan(mark2); // still shipping
    p.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });
});
