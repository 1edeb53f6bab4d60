// #17.14: dead-letter files are capped per component (service.dead_letter.max_size), rotated,
// measured (shiplog_dead_letter_bytes) and what rotation discards is counted; reasons are short
// even when the backend answers every push with a long body. Real process, real Loki receiver.

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/harness.js';
import { getText, metricValue, runShiplog, type Proc } from '../helpers/proc.js';
import { LokiReceiver } from '../receivers/loki.js';
import { runCli } from './cli.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function lineCount(f: string): number {
  if (!existsSync(f)) return 0;
  return readFileSync(f, 'utf8').split('\n').filter(Boolean).length;
}

describe('dead-letter files (#17.14)', () => {
  it('a 401 with a long body on every push: files capped, rotated, counted, reasons short; replay takes the rotated files too', async () => {
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    receiver.setMode({ status: 401, body: `no such org: ${'x'.repeat(5000)}` });
    const dir = tempDir('shiplog-dl-cap-');
    const n = 3000;
    let text = '';
    for (let i = 0; i < n; i++) text += `{"seq":${i},"msg":"${'m'.repeat(100)}"}\n`;
    writeFileSync(path.join(dir, 'a.log'), text);
    const cfg = path.join(dir, 'shiplog.yaml');
    writeFileSync(
      cfg,
      `service:
  data_dir: ${dir}/data
  shutdown_timeout: 1s
  http: { listen: "127.0.0.1:0" }
  dead_letter: { max_size: 256KiB }
pipeline:
  inputs:
    - { type: file, id: app, tag: app, paths: ["${dir}/a.log"] }
  filters:
    - { type: parse_json, id: json }
  outputs:
    - type: loki
      id: loki
      url: ${receiver.url}
      labels: { job: dl }
      buffer: { type: memory }
      batch: { max_bytes: 8KiB, max_wait: 20ms }
      retry: { initial: 10ms, max: 20ms, max_elapsed: 50ms }
`,
    );
    const daemon: Proc = runShiplog(['run', '-c', cfg]);
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      await daemon.exited;
    });
    const started = await daemon.waitForLog('shiplog started');
    const url = `http://${String(started.http)}`;
    const dl = path.join(dir, 'data/dead_letter');
    const files = ['loki.ndjson', 'loki.ndjson.1', 'loki.ndjson.2', 'loki.ndjson.3'].map((f) =>
      path.join(dl, f),
    );
    let discarded = 0;
    const end = Date.now() + 60_000;
    for (;;) {
      const m = (await getText(`${url}/metrics`)).body;
      discarded = metricValue(m, 'shiplog_dead_letter_discarded_total', { component: 'loki' });
      const kept = files.reduce((s, f) => s + lineCount(f), 0);
      if (kept + discarded === n) break;
      if (Date.now() > end)
        throw new Error(`timeout: kept ${kept} + discarded ${discarded} of ${n}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const sizes = files.map((f) => (existsSync(f) ? statSync(f).size : 0));
    const total = sizes.reduce((a, b) => a + b, 0);
    const m = (await getText(`${url}/metrics`)).body;
    const gauge = metricValue(m, 'shiplog_dead_letter_bytes', { component: 'loki' });
    const kept = files.map(lineCount);
    console.log(
      `[ops] 3000 records dead-lettered (401, 5 kB body) with max_size 256 KiB: files ${sizes.join(' / ')} bytes (total ${total}), lines ${kept.join(' / ')}, discarded ${discarded}, gauge ${gauge}`,
    );
    // Capped: 4 files of a quarter each (one write may pass a quarter).
    expect(total).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    expect(sizes.every((s) => s > 0)).toBe(true);
    expect(discarded).toBeGreaterThan(0);
    expect(gauge).toBe(total);
    // Short reasons: never the 5 kB body.
    for (const f of files)
      for (const line of readFileSync(f, 'utf8').split('\n').filter(Boolean)) {
        const reason = (JSON.parse(line) as { reason: string }).reason;
        expect(reason.length).toBeLessThanOrEqual(200);
      }
    daemon.kill('SIGTERM');
    await daemon.exited;

    // Replay sends the rotated files and the live one, oldest first.
    receiver.setMode(undefined);
    const r = await runCli(['replay', '-c', cfg, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const want = kept.reduce((a, b) => a + b, 0);
    expect(JSON.parse(r.stdout).files[0]).toMatchObject({ from: 'loki', sent: want });
    expect(receiver.entries).toHaveLength(want);
    const seqs = receiver.entries.map((e) => (JSON.parse(e.line) as { seq: number }).seq);
    expect(new Set(seqs).size).toBe(want);
    expect(files.some((f) => existsSync(f))).toBe(false);
  }, 120_000);
});
