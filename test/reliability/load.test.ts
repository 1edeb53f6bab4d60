// Load: 50 files written concurrently at a combined 50,000 lines/s (20 s in CI, 2 minutes in the
// long run). No loss, no duplicate, RSS bounded, and `shiplog_file_lag_bytes` back to 0 soon
// after the writers stop.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LokiReceiver } from '../receivers/loki.js';
import {
  Shiplog,
  Tally,
  Writer,
  fileInput,
  report,
  scale,
  scenarioDir,
  sleep,
  writeConfig,
} from './lib.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('load', () => {
  it('50 files at a combined 50,000 lines/s: no loss, RSS bounded, lag back to 0', async () => {
    const { dir, data, logs } = scenarioDir('load');
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const tally = new Tally(receiver);
    const files = Array.from({ length: 50 }, (_, i) => ({
      path: path.join(logs, `svc${i}.log`),
      id: `f${i}`,
    }));
    for (const f of files) await fsp.writeFile(f.path, '');
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [fileInput([path.join(logs, '*.log')])],
      lokiUrl: receiver.url,
      loki: { batch: { max_bytes: '1MiB', max_wait: '500ms' }, workers: 2 },
      service: { memory_limit: '64MiB' },
    });
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    await ship.start();
    const durationMs = scale(20_000, 120_000);
    const writer = new Writer({ files, rate: 50_000, durationMs });
    cleanups.push(() => void writer.child.kill('SIGKILL'));
    // Keep the receiver's memory flat while it runs.
    const drain = setInterval(() => tally.drain(), 500);
    cleanups.push(() => clearInterval(drain));
    const lagSamples: number[] = [];
    const sampler = setInterval(() => {
      ship
        .metric('shiplog_file_lag_bytes')
        .then((v) => lagSamples.push(v))
        .catch(() => undefined);
    }, 1000);
    cleanups.push(() => clearInterval(sampler));
    const { written } = await writer.done;
    const stoppedAt = Date.now();
    await tally.waitAll(written, 120_000);
    const catchUpMs = Date.now() - stoppedAt;
    // The committed position follows Loki's acknowledgements: lag returns to 0.
    let lag = -1;
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      lag = await ship.metric('shiplog_file_lag_bytes');
      if (lag === 0) break;
      await sleep(250);
    }
    const lagZeroMs = Date.now() - stoppedAt;
    clearInterval(sampler);
    const sum = tally.summary(written);
    await ship.stop();
    const rate = Math.round(sum.written / (durationMs / 1000));
    // Bounded means flat: the second half of the write phase peaks no higher than the first
    // half plus a margin (garbage collection timing).
    const during = ship.rss.filter(([t]) => t <= durationMs);
    const half = (a: Array<[number, number]>): number => Math.max(0, ...a.map(([, k]) => k)) / 1024;
    const firstHalf = half(during.filter(([t]) => t < durationMs / 2));
    const secondHalf = half(during.filter(([t]) => t >= durationMs / 2));
    report({
      scenario: `load: 50 files, ${rate} lines/s for ${durationMs / 1000} s`,
      ...sum,
      peakRssMiB: ship.peakRssMiB,
      note: `RSS peak 1st/2nd half ${firstHalf.toFixed(0)}/${secondHalf.toFixed(0)} MiB; caught up ${(catchUpMs / 1000).toFixed(1)} s after the writers stopped, lag 0 after ${(lagZeroMs / 1000).toFixed(1)} s, max lag ${(Math.max(0, ...lagSamples) / 1048576).toFixed(1)} MiB`,
    });
    expect(sum.missing, dir).toEqual([]);
    expect(sum.duplicated).toBe(0);
    expect(rate).toBeGreaterThan(45_000);
    expect(lag).toBe(0);
    expect(ship.peakRssMiB).toBeLessThan(300);
    // At CI size (20 s) the first half is mostly V8 growing its heap to its working size: its
    // peak varies with GC timing (main 0d47040 alone: 246/280 and 248/281 MiB; 02c08c0 alone:
    // 191/253 and 248/269, under CI's second worker 194/263), so the margin is 96 MiB there; the
    // full-size run (120 s, SHIPLOG_LONG_TESTS) keeps 64. The peak bound above holds either way.
    expect(secondHalf - firstHalf).toBeLessThan(durationMs > 20_000 ? 64 : 96);
  }, 300_000);
});
