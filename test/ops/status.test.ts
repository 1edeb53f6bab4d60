// `shiplog status` against a real daemon: the ledger per input and tag (read / filtered /
// delivered / dead / in flight), the output's retry state and last error, --json, exit codes.

import { appendFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/harness.js';
import { runShiplog, type Proc } from '../helpers/proc.js';
import { LokiReceiver } from '../receivers/loki.js';
import { runCli } from './cli.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Body {
  ready: boolean;
  outputs_healthy: boolean;
  problems: string[];
  inputs: Array<Record<string, unknown>>;
  outputs: Array<Record<string, unknown>>;
}

async function until(
  cond: () => Promise<boolean> | boolean,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('shiplog status', () => {
  it('shows the ledger per input and tag and the output state from a running daemon', async () => {
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const dir = tempDir('shiplog-status-');
    let w = '';
    for (let i = 0; i < 101; i++) w += `{"app":"worker","seq":${i},"level":"info"}\n`;
    writeFileSync(path.join(dir, 'worker.log'), w);
    let web = '';
    for (let i = 0; i < 100; i++)
      web += `{"app":"web","seq":${i},"level":"${i % 4 === 0 ? 'debug' : 'info'}"}\n`;
    writeFileSync(path.join(dir, 'web.log'), web);
    const cfg = path.join(dir, 'shiplog.yaml');
    writeFileSync(
      cfg,
      `service:
  data_dir: ${dir}/data
  checkpoint_interval: 100ms
  shutdown_timeout: 1s
  http: { listen: "127.0.0.1:0" }
pipeline:
  inputs:
    - { type: file, id: worker, tag: worker, paths: ["${dir}/worker.log"] }
    - { type: file, id: web, tag: web, paths: ["${dir}/web.log"] }
  filters:
    - { type: parse_json, id: json }
    - { type: grep, id: nodebug, match: web, exclude: { level: "^debug$" } }
  outputs:
    - type: loki
      id: loki
      url: ${receiver.url}
      labels: { job: status, app: "{app}" }
      batch: { max_bytes: 64KiB, max_wait: 50ms }
      retry: { initial: 1s, max: 2s }
`,
    );
    const daemon: Proc = runShiplog(['run', '-c', cfg]);
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      await daemon.exited;
    });
    const started = await daemon.waitForLog('shiplog started');
    const url = `http://${String(started.http)}`;
    await receiver.waitFor(176, 20_000);
    const status = async (): Promise<Body> => {
      const r = await runCli(['status', '--url', url, '--json']);
      return JSON.parse(r.stdout) as Body;
    };
    await until(
      async () => (await status()).inputs.every((r) => r.in_flight === 0 && r.read !== 0),
      10_000,
      'acknowledged',
    );
    const ok = await runCli(['status', '--url', url]);
    console.log(`[ops] status, all delivered:\n${ok.stdout}`);
    expect(ok.status, ok.stderr).toBe(0);
    const b = await status();
    expect(b.ready).toBe(true);
    const row = (id: string): Record<string, unknown> => b.inputs.find((r) => r.input === id)!;
    expect(row('worker')).toMatchObject({
      type: 'file',
      tag: 'worker',
      read: 101,
      filtered: 0,
      dropped: 0,
      delivered: 101,
      dead: 0,
      in_flight: 0,
    });
    expect(row('web')).toMatchObject({
      read: 100,
      filtered: 25,
      delivered: 75,
      dead: 0,
      in_flight: 0,
    });
    expect(b.outputs[0]).toMatchObject({ id: 'loki', type: 'loki', sent: 176, dead: 0 });

    // A record refused (dead-lettered), then the backend fails: in flight, retrying, last error.
    receiver.rejectWhere((e) => e.line.includes('"seq":1000'));
    appendFileSync(path.join(dir, 'worker.log'), `{"app":"worker","seq":1000,"level":"info"}\n`);
    await until(async () => row2(await status(), 'worker').dead === 1, 10_000, 'dead letter');
    receiver.rejectWhere(undefined);
    receiver.setMode({ status: 503, body: 'ingester unavailable' });
    appendFileSync(path.join(dir, 'worker.log'), `{"app":"worker","seq":1001,"level":"info"}\n`);
    await until(
      async () => String((await status()).outputs[0].last_error).includes('503'),
      15_000,
      'last error',
    );
    // Failing once several pushes in a row failed (the output's health).
    await until(async () => (await status()).outputs_healthy === false, 15_000, 'output failing');
    const failing = await runCli(['status', '--url', url]);
    console.log(`[ops] status, Loki answering 503:\n${failing.stdout}`);
    const f = await status();
    // The disk queue acknowledged the record to the pipeline: counted delivered, shown QUEUED.
    expect(row2(f, 'worker')).toMatchObject({ read: 103, delivered: 102, dead: 1, in_flight: 0 });
    expect(f.outputs[0]).toMatchObject({ queued_records: 1, retried: expect.any(Number) });
    expect(String(f.outputs[0].state)).toMatch(/^(retrying|failing)/);
    // A backend down is not shiplog unready (/readyz, #21.5) but an output failing (/health/outputs).
    expect(f.ready).toBe(true);
    expect(f.outputs_healthy).toBe(false);
    expect(f.problems.join('\n')).toContain('503');
    expect(failing.stdout).toMatch(/worker\s+file\s+worker\s+103\s+0\s+0\s+102\s+1\s+0/);
    expect(failing.stdout).toContain('OUTPUT FAILING');
    expect(failing.status).toBe(3);

    receiver.setMode(undefined);
    await receiver.waitFor(177, 15_000);
    await until(
      async () => (await status()).outputs[0].queued_records === 0,
      15_000,
      'queue drained',
    );
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);

    const gone = await runCli(['status', '--url', url]);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain('cannot reach the daemon');
  }, 90_000);
});

function row2(b: Body, id: string): Record<string, unknown> {
  return b.inputs.find((r) => r.input === id)!;
}
