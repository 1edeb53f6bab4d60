// Delivery promises of the core, attacked with real processes: SIGKILL during checkpoint
// writes, an output that never drains while demo produces at full speed.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore } from '../src/core/checkpoint-store.js';
import { nullLogger } from '../src/telemetry/logger.js';
import { tempDir } from './helpers/harness.js';
import { ROOT, getText, metricValue, rssKiB, runShiplog } from './helpers/proc.js';

describe('checkpoint file under SIGKILL', () => {
  it('is never half-written: after each kill it parses and holds one consistent generation', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'checkpoints.json');
    let lastGen = 0;
    for (let round = 0; round < 12; round++) {
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'test/fixtures/checkpoint-writer.mjs'), file],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 150));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as {
        version: number;
        checkpoints: Record<string, number>;
      };
      expect(parsed.version).toBe(1);
      const gens = new Set(Object.values(parsed.checkpoints));
      expect(Object.keys(parsed.checkpoints)).toHaveLength(2000);
      expect(gens.size).toBe(1);
      const gen = [...gens][0];
      expect(gen).toBeGreaterThanOrEqual(lastGen);
      lastGen = gen;
    }
    expect(lastGen).toBeGreaterThan(12);
  });
});

describe('live checkpoint under SIGKILL', () => {
  it('a kill mid-write leaves a whole generation newer than checkpoints.json, never a torn one', async () => {
    if (!existsSync('/proc/sys/kernel/random/boot_id')) return; // Linux only (boot id)
    const dir = tempDir();
    const file = path.join(dir, 'checkpoints.json');
    let lastGen = 0;
    let newer = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(
        process.execPath,
        [path.join(ROOT, 'test/fixtures/live-checkpoint-writer.mjs'), file],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 150));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const onFile = JSON.parse(readFileSync(file, 'utf8')) as {
        checkpoints: Record<string, number>;
      };
      const store = new CheckpointStore(file, nullLogger);
      await store.load();
      const gens = new Set([...store.keys()].map((k) => store.get(k) as number));
      expect([...store.keys()]).toHaveLength(2000);
      expect(gens.size).toBe(1);
      const gen = [...gens][0];
      expect(gen).toBeGreaterThanOrEqual(lastGen);
      if (gen > onFile.checkpoints.k0) newer++;
      lastGen = gen;
    }
    // Each round writes checkpoints.json once, then only the live copy: it is what resumes.
    expect(newer).toBe(8);
  });
});

describe('backpressure', () => {
  it('a blocked output pauses demo at full speed for 30 s and RSS stays bounded', async () => {
    const dir = tempDir();
    const cfg = path.join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      `service:\n  data_dir: ${dir}\n  memory_limit: 32MiB\n  http: { listen: "127.0.0.1:0" }\n  shutdown_timeout: 1s\npipeline:\n  inputs:\n    - type: demo\n      id: gen\n      rate: 0\n  outputs:\n    - type: stdout\n      id: out\n`,
    );
    // Nobody reads shiplog's stdout: its writes never complete, so nothing is ever acknowledged.
    const p = runShiplog(['run', '-c', cfg], { captureStdout: false });
    p.child.stdout!.pause();
    const started = await p.waitForLog('shiplog started');
    const base = `http://${started.http as string}`;
    const samples: number[] = [];
    const produced: number[] = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(rssKiB(p.child.pid!));
      produced.push(
        metricValue((await getText(`${base}/metrics`)).body, 'shiplog_input_records_total', {
          component: 'gen',
        }),
      );
    }
    const peakMiB = Math.max(...samples) / 1024;
    const lateGrowthMiB = (Math.max(...samples.slice(10)) - samples[10]) / 1024;
    p.kill('SIGKILL');
    await p.exited;
    console.log(
      `blocked output: peak RSS ${peakMiB.toFixed(0)} MiB, growth after 10 s ${lateGrowthMiB.toFixed(1)} MiB, records admitted ${produced.at(-1)}`,
    );
    expect(produced[2]).toBeGreaterThan(0);
    // The input stopped: nothing more admitted after the budget filled.
    expect(produced.at(-1)).toBe(produced[5]);
    expect(peakMiB).toBeLessThan(250);
    expect(lateGrowthMiB).toBeLessThan(20);
  }, 60_000);
});
