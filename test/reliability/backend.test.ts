// Backend faults against a real shiplog process: Loki down (closed, then back on the same
// port), 429 with Retry-After, 5% of pushes 500, a Loki that accepts requests and never answers,
// and a partial 400. A writer keeps appending throughout; every line must arrive (or, for the
// 400, be in the dead-letter file), and nothing is sent twice when nothing crashed.

import { readFileSync, existsSync } from 'node:fs';
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

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  dir: string;
  data: string;
  log: string;
  receiver: LokiReceiver;
  tally: Tally;
  ship: Shiplog;
  writer: Writer;
}

async function setup(
  name: string,
  loki: Record<string, unknown> = {},
  rate = 2_000,
): Promise<Setup> {
  const { dir, data, logs } = scenarioDir(name);
  const receiver = await LokiReceiver.start();
  const tally = new Tally(receiver);
  const log = path.join(logs, 'app.log');
  await fsp.writeFile(log, '');
  const cfg = writeConfig(dir, {
    dataDir: data,
    inputs: [fileInput([log])],
    lokiUrl: receiver.url,
    loki,
  });
  const ship = new Shiplog(cfg);
  const s: Setup = { dir, data, log, receiver, tally, ship, writer: undefined as never };
  cleanups.push(() => s.receiver.close());
  cleanups.push(() => ship.dispose());
  await ship.start();
  s.writer = new Writer({ files: [{ path: log, id: 'a' }], rate });
  cleanups.push(() => void s.writer.child.kill('SIGKILL'));
  await s.writer.ready;
  return s;
}

/** Stop the writer, wait for every line, stop shiplog, report; returns the summary. */
async function finish(s: Setup, scenario: string, note?: string) {
  const { written } = await s.writer.stop();
  await s.tally.waitAll(written, 90_000);
  const sum = s.tally.summary(written);
  s.ship.sample();
  const stopped = await s.ship.stop();
  report({ scenario, ...sum, peakRssMiB: s.ship.peakRssMiB, note });
  expect(stopped.code).toBe(0);
  return sum;
}

describe('backend faults', () => {
  it('Loki down, then back on the same port: nothing lost, nothing twice', async () => {
    const s = await setup('loki-down');
    const port = Number(new URL(s.receiver.url).port);
    await sleep(1500);
    s.tally.drain();
    const before = s.tally.received;
    expect(before).toBeGreaterThan(0);
    await s.receiver.close();
    const downMs = scale(10_000, 60_000);
    await sleep(downMs);
    // While down: shiplog stays alive and the backlog grows in the disk queue (the default).
    expect(s.ship.alive).toBe(true);
    expect(await s.ship.metric('shiplog_queue_records')).toBeGreaterThan(0);
    const back = await LokiReceiver.start({ port });
    s.tally.use(back);
    s.receiver = back;
    const sum = await finish(s, `Loki down ${downMs / 1000} s`);
    expect(sum.missing, s.dir).toEqual([]);
    expect(sum.duplicated).toBe(0);
  }, 180_000);

  it('429 with Retry-After: honoured, nothing lost, nothing twice', async () => {
    const s = await setup('loki-429');
    await sleep(1000);
    const forMs = scale(5_000, 30_000);
    s.receiver.failFor(forMs, {
      status: 429,
      retryAfter: 1,
      body: 'Ingestion rate limit exceeded',
    });
    const t0 = Date.now();
    await sleep(forMs + 500);
    const during = s.receiver.requests.filter((r) => r.status === 429).length;
    const sum = await finish(s, `429 Retry-After for ${forMs / 1000} s`, `${during} × 429`);
    expect(sum.missing, s.dir).toEqual([]);
    expect(sum.duplicated).toBe(0);
    expect(during).toBeGreaterThan(0);
    // Retry-After: 1 ⇒ about one push per second while throttled, never a busy loop.
    expect(during).toBeLessThan(((Date.now() - t0) / 1000) * 3 + 5);
  }, 180_000);

  it('a file of 1M lines with 429 for 30 s in the middle: nothing lost, nothing twice, RSS bounded', async () => {
    const n = scale(200_000, 1_000_000);
    const forMs = scale(5_000, 30_000);
    const { dir, data, logs } = scenarioDir('loki-429-file');
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const tally = new Tally(receiver);
    const log = path.join(logs, 'app.log');
    // 200-byte JSON lines with the writer's keys (w, seq), written before shiplog starts.
    const pad = 'x'.repeat(140);
    const fd = await fsp.open(log, 'w');
    for (let i = 0; i < n; i += 50_000) {
      let chunk = '';
      for (let j = i; j < Math.min(n, i + 50_000); j++)
        chunk += `{"w":"a","seq":${j},"level":"${j % 7 ? 'info' : 'warn'}","pad":"${pad}"}\n`;
      await fd.write(chunk);
    }
    await fd.close();
    const limitMiB = 64;
    const cfg = writeConfig(dir, {
      dataDir: data,
      service: { memory_limit: `${limitMiB}MiB` },
      inputs: [fileInput([log])],
      filters: [{ type: 'parse_json', id: 'json' }],
      lokiUrl: receiver.url,
      loki: { labels: { job: 'rel', level: '{level}' }, retry: { initial: '200ms', max: '2s' } },
    });
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    await ship.start();
    await tally.waitReceived(Math.floor(n * 0.3), 60_000);
    receiver.failFor(forMs, { status: 429, retryAfter: 1, body: 'Ingestion rate limit exceeded' });
    const during = tally.received;
    await sleep(forMs);
    ship.sample();
    await tally.waitAll({ a: n }, 120_000);
    const sum = tally.summary({ a: n });
    ship.sample();
    const stopped = await ship.stop();
    const throttled = receiver.requests.filter((r) => r.status === 429).length;
    report({
      scenario: `file of ${n} lines, 429 for ${forMs / 1000} s in the middle`,
      ...sum,
      peakRssMiB: ship.peakRssMiB,
      note: `${throttled} × 429; ${during} delivered before`,
    });
    expect(stopped.code).toBe(0);
    expect(sum.missing, dir).toEqual([]);
    expect(sum.duplicated).toBe(0);
    expect(throttled).toBeGreaterThan(0);
    expect(during).toBeLessThan(n);
    // Bounded: the file is the buffer; memory_limit + the process's own ~150 MiB at most.
    expect(ship.peakRssMiB).toBeLessThan(limitMiB + 150);
  }, 240_000);

  it('5% of pushes answer 500: nothing lost, nothing twice', async () => {
    const s = await setup('loki-500', { batch: { max_bytes: '64KiB', max_wait: '100ms' } }, 5_000);
    let injected = 0;
    // Before the receiver's own handler sees the request: queue a one-shot 500 for it.
    s.receiver.server.prependListener('request', (req) => {
      if (req.url?.startsWith('/loki/api/v1/push') && Math.random() < 0.05) {
        injected++;
        s.receiver.fail({ status: 500, body: 'internal server error' });
      }
    });
    await sleep(scale(10_000, 60_000));
    const sum = await finish(
      s,
      '5% of pushes 500',
      `${injected} × 500 of ${s.receiver.stats.requests} pushes`,
    );
    expect(sum.missing, s.dir).toEqual([]);
    expect(sum.duplicated).toBe(0);
    expect(injected).toBeGreaterThan(0);
  }, 180_000);

  it('a Loki that never answers: pushes time out and are retried, nothing lost', async () => {
    const s = await setup('loki-hang', { timeout: '1s' });
    await sleep(1000);
    s.receiver.setMode({ hang: true });
    await sleep(scale(6_000, 30_000));
    expect(s.ship.alive).toBe(true);
    const hung = s.receiver.stats.requests;
    s.receiver.setMode(undefined);
    const sum = await finish(s, 'Loki never answers (timeout 1s)');
    expect(sum.missing, s.dir).toEqual([]);
    // A timed-out push may have been stored by a real Loki; our receiver stores nothing while
    // hanging, so there is nothing to duplicate.
    expect(sum.duplicated).toBe(0);
    expect(hung).toBeGreaterThan(0);
  }, 180_000);

  it('partial 400: rejected entries dead-lettered, the rest delivered once', async () => {
    const s = await setup('loki-400');
    const bad = (line: string): boolean => {
      const m = /"seq":(\d+)/.exec(line);
      return !!m && Number(m[1]) % 97 === 0;
    };
    s.receiver.rejectWhere((e) => bad(e.line));
    await sleep(scale(5_000, 30_000));
    const { written } = await s.writer.stop();
    const n = written.a;
    // Wait until every line is either stored or dead-lettered.
    const dlFile = path.join(s.data, 'dead_letter', 'loki.ndjson');
    const dead = new Map<number, number>();
    const readDead = (): void => {
      dead.clear();
      if (!existsSync(dlFile)) return;
      for (const row of readFileSync(dlFile, 'utf8').split('\n')) {
        if (!row) continue;
        const d = JSON.parse(row) as { reason: string; record: { message: string } };
        const seq = Number(/"seq":(\d+)/.exec(d.record.message)![1]);
        dead.set(seq, (dead.get(seq) ?? 0) + 1);
      }
    };
    const end = Date.now() + 60_000;
    for (;;) {
      s.tally.drain();
      readDead();
      let covered = 0;
      for (let i = 0; i < n; i++) if (s.tally.count('a', i) > 0 || dead.has(i)) covered++;
      if (covered >= n || Date.now() > end) break;
      await sleep(300);
    }
    const sum = s.tally.summary(written);
    await s.ship.stop();
    const missing: number[] = [];
    let rejected = 0;
    let dupDead = 0;
    let storedAndDead = 0;
    for (let i = 0; i < n; i++) {
      const stored = s.tally.count('a', i);
      if (i % 97 === 0) {
        rejected++;
        if (!dead.has(i)) missing.push(i);
      } else if (stored === 0 && !dead.has(i)) missing.push(i);
      if (stored > 0 && dead.has(i)) storedAndDead++;
      if ((dead.get(i) ?? 0) > 1) dupDead++;
    }
    report({
      scenario: 'partial 400 (1 in 97 rejected)',
      written: n,
      delivered: sum.delivered + rejected,
      lost: missing.length,
      duplicated: sum.duplicated + dupDead,
      peakRssMiB: s.ship.peakRssMiB,
      note: `${rejected} dead-lettered as rejected, ${storedAndDead} stored and also dead-lettered (same timestamp)`,
    });
    expect(missing.slice(0, 20), s.dir).toEqual([]);
    // Never resent: every stored entry once, every rejected entry dead-lettered once.
    expect(sum.duplicated).toBe(0);
    expect(dupDead).toBe(0);
    for (let i = 0; i < n; i += 97) expect(s.tally.count('a', i)).toBe(0);
  }, 180_000);
});
