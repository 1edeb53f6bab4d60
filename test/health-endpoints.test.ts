// Readiness vs backend health, and the metrics an operator graphs (issue #21 items 5 and 6), on a
// real process: a Loki outage leaves /readyz at 200 (in a DaemonSet it must not mark every pod
// NotReady) while /health/outputs and shiplog_output_healthy report it; shiplog_buffer_bytes
// returns to 0 after delivery without new activity; build info and Node's default series.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { getText, metricValue, runShiplog } from './helpers/proc.js';
import { LokiReceiver } from './receivers/loki.js';

async function until(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('/readyz, /health/outputs and metrics', () => {
  const receivers: LokiReceiver[] = [];
  afterAll(async () => {
    for (const r of receivers) await r.close();
  });

  it('a Loki outage: /readyz stays 200, /health/outputs 503 and shiplog_output_healthy 0; back to 1 after', async () => {
    const loki = await LokiReceiver.start();
    receivers.push(loki);
    loki.setMode({ status: 503, body: 'ring not ready' });
    const dir = tempDir();
    const file = path.join(dir, 'shiplog.yaml');
    writeFileSync(
      file,
      `service: { data_dir: ${dir}/data, http: { listen: "127.0.0.1:0" } }\npipeline:\n  inputs: [{ type: demo, rate: 200 }]\n  outputs:\n    - { type: loki, id: lk, url: "${loki.url}", labels: { job: t }, batch: { max_wait: 50ms }, retry: { initial: 20ms, max: 100ms } }\n`,
    );
    const p = runShiplog(['run', '-c', file]);
    try {
      const base = `http://${(await p.waitForLog('shiplog started')).http as string}`;
      const down = await until(
        async () => (await getText(`${base}/health/outputs`)).status === 503,
        15_000,
      );
      expect(down, p.stderr.slice(-2000)).toBe(true);
      const h = JSON.parse((await getText(`${base}/health/outputs`)).body) as {
        ok: boolean;
        outputs: Array<{ id: string; type: string; ok: boolean; reason?: string }>;
      };
      expect(h.ok).toBe(false);
      expect(h.outputs).toEqual([
        { id: 'lk', type: 'loki', ok: false, reason: expect.stringContaining('503') as unknown },
      ]);
      const ready = await getText(`${base}/readyz`);
      expect(ready.status, ready.body).toBe(200);
      const m = (await getText(`${base}/metrics`)).body;
      expect(m).toMatch(/^shiplog_output_healthy\{component="lk"\} 0$/m);

      loki.setMode(undefined);
      const up = await until(
        async () =>
          /^shiplog_output_healthy\{component="lk"\} 1$/m.test(
            (await getText(`${base}/metrics`)).body,
          ),
        20_000,
      );
      expect(up).toBe(true);
      expect((await getText(`${base}/health/outputs`)).status).toBe(200);
    } finally {
      p.kill();
      await p.exited;
    }
  }, 60_000);

  it('shiplog_buffer_bytes returns to 0 after delivery; build info; Node default series unprefixed', async () => {
    const loki = await LokiReceiver.start();
    receivers.push(loki);
    const dir = tempDir();
    const file = path.join(dir, 'shiplog.yaml');
    writeFileSync(
      file,
      `service: { data_dir: ${dir}/data, http: { listen: "127.0.0.1:0" } }\npipeline:\n  inputs: [{ type: demo, rate: 0, count: 5000 }]\n  outputs:\n    - { type: loki, id: lk, url: "${loki.url}", labels: { job: t }, batch: { max_wait: 200ms } }\n`,
    );
    const p = runShiplog(['run', '-c', file]);
    try {
      const base = `http://${(await p.waitForLog('shiplog started')).http as string}`;
      await loki.waitFor(5000, 20_000);
      // Nothing happens after the last ack: the gauge must still read 0 at the next scrapes.
      await new Promise((r) => setTimeout(r, 500));
      const m = (await getText(`${base}/metrics`)).body;
      expect(metricValue(m, 'shiplog_buffer_bytes', { component: 'lk' })).toBe(0);
      expect(m).toMatch(
        new RegExp(
          `^shiplog_build_info\\{version="\\d+\\.\\d+\\.\\d+",node="${process.versions.node.replaceAll('.', '\\.')}"\\} 1$`,
          'm',
        ),
      );
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'process_start_time_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_eventloop_lag_seconds',
      ])
        expect(m).toContain(`# TYPE ${name} `);
      expect(m).not.toContain('shiplog_process_');
    } finally {
      p.kill();
      await p.exited;
    }
  }, 60_000);
});
