// Resource faults: checkpoint writes that fail (the temp path unwritable; data_dir on a full
// tmpfs), too many open files (ulimit -n 256 with 600 files), a watched directory deleted and
// re-created. shiplog keeps shipping, reports unready while checkpoints cannot be written,
// retries the write, and never leaves a torn checkpoint file.

import { exec } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { LokiReceiver } from '../receivers/loki.js';
import {
  IS_ROOT,
  Shiplog,
  Tally,
  fileInput,
  lines,
  report,
  scale,
  scenarioDir,
  sleep,
  writeConfig,
} from './lib.js';

const sh = promisify(exec);
const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Parse the checkpoint file; throws if it is torn. Undefined when it does not exist. */
async function readCheckpoints(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const o = JSON.parse(text) as { version: number; checkpoints: Record<string, unknown> };
  if (o.version !== 1 || typeof o.checkpoints !== 'object') throw new Error(`bad shape: ${text}`);
  return o.checkpoints;
}

/** Offset committed for the only file checkpoint (0 when none). */
function committedOffset(cps: Record<string, unknown> | undefined): number {
  for (const v of Object.values(cps ?? {})) {
    // The file input's checkpoint: `o` is the committed byte offset.
    const o = v as { o?: number };
    if (typeof o?.o === 'number') return o.o;
  }
  return 0;
}

async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

/**
 * Checkpoint writes fail while `block()` is in effect: shiplog must keep delivering, report
 * unready on /readyz, keep the previous checkpoint file intact, and recover once `unblock()`.
 */
async function checkpointFailure(
  name: string,
  prepare: (data: string) => Promise<{ block(): Promise<void>; unblock(): Promise<void> }>,
): Promise<void> {
  const { dir, data, logs } = scenarioDir(name);
  await fsp.mkdir(data, { recursive: true });
  const ctl = await prepare(data);
  const receiver = await LokiReceiver.start();
  cleanups.push(() => receiver.close());
  const tally = new Tally(receiver);
  const log = path.join(logs, 'app.log');
  const cpFile = path.join(data, 'checkpoints.json');
  let seq = 0;
  const append = async (n: number): Promise<void> => {
    await fsp.appendFile(log, lines('a', seq, n));
    seq += n;
  };
  await append(2000);
  const cfg = writeConfig(dir, {
    dataDir: data,
    inputs: [fileInput([log])],
    lokiUrl: receiver.url,
    // Checkpoint failures alone: a disk queue in the same data_dir would fail too (and pause
    // the input, as it should: see "queue on a full disk").
    loki: { buffer: { type: 'memory' } },
  });
  const ship = new Shiplog(cfg);
  cleanups.push(() => ship.dispose());
  await ship.start();
  await tally.waitAll({ a: seq }, 20_000);
  const size1 = (await fsp.stat(log)).size;
  expect(
    await until(async () => committedOffset(await readCheckpoints(cpFile)) === size1, 10_000),
  ).toBe(true);

  // Checkpoints can no longer be written.
  await ctl.block();
  let torn = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      try {
        await readCheckpoints(cpFile);
      } catch {
        torn++;
      }
      await sleep(30);
    }
  })();
  await append(3000);
  await tally.waitAll({ a: seq }, 20_000);
  expect(tally.summary({ a: seq }).lost, 'keeps shipping while checkpoints fail').toBe(0);
  const unready = await until(async () => (await ship.readyz()).status === 503, 5_000);
  const why = (await ship.readyz()).body;
  expect(unready, why).toBe(true);
  expect(why).toMatch(/checkpoint/i);
  // The file on disk still holds the last good generation.
  expect(committedOffset(await readCheckpoints(cpFile))).toBe(size1);

  // A crash while checkpoints cannot be written: restart from the last good checkpoint.
  await ship.kill('SIGKILL');
  await append(1000);
  await ship.start();
  await tally.waitAll({ a: seq }, 20_000);
  await ctl.unblock();
  const ready = await until(async () => (await ship.readyz()).status === 200, 10_000);
  const size2 = (await fsp.stat(log)).size;
  const caughtUp = await until(
    async () => committedOffset(await readCheckpoints(cpFile)) === size2,
    10_000,
  );
  watching = false;
  await watcher;
  const sum = tally.summary({ a: seq });
  await ship.stop();
  const corrupt = (await fsp.readdir(data)).filter((f) => f.includes('corrupt'));
  report({
    scenario: name,
    ...sum,
    peakRssMiB: ship.peakRssMiB,
    note: `unready while failing: "${why.trim().replace(/, open '.*'$/, '')}"`,
  });
  expect(ready).toBe(true);
  expect(caughtUp).toBe(true);
  expect(torn).toBe(0);
  expect(corrupt).toEqual([]);
  expect(sum.lost).toBe(0);
  // Re-read after the kill: at most the lines since the last good checkpoint.
  expect(sum.duplicated).toBeLessThanOrEqual(3000);
}

describe('checkpoint writes fail', () => {
  it(
    'temp file path unwritable (a directory in its place)',
    () =>
      checkpointFailure('checkpoint tmp unwritable', async (data) => {
        const tmp = path.join(data, 'checkpoints.json.tmp');
        return {
          block: () => fsp.mkdir(tmp),
          unblock: () => fsp.rmdir(tmp),
        };
      }),
    120_000,
  );

  it.skipIf(!IS_ROOT)(
    'data_dir on a full tmpfs (ENOSPC)',
    async () => {
      let mounted = '';
      await checkpointFailure('data_dir full (tmpfs 64k)', async (data) => {
        await sh(`mount -t tmpfs -o size=64k,mode=0700 tmpfs '${data}'`);
        mounted = data;
        cleanups.push(() => sh(`umount -l '${mounted}'`).catch(() => undefined));
        const filler = path.join(data, 'filler');
        return {
          async block() {
            // Fill every free block: later writes fail with ENOSPC.
            const fh = await fsp.open(filler, 'w');
            const chunk = Buffer.alloc(4096, 1);
            try {
              for (let i = 0; i < 1000; i++) await fh.write(chunk);
            } catch (e) {
              expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
            } finally {
              await fh.close();
            }
          },
          unblock: () => fsp.unlink(filler),
        };
      });
    },
    120_000,
  );
});

/**
 * 600 files under `ulimit -n 256`. Node's ESM loader opens ~150 module files at once while
 * starting the unbundled dist/, so shiplog cannot start below ~200 descriptors: 256 with 600
 * files keeps the brief's ratio (3 files per descriptor).
 */
async function tooManyFiles(name: string, input: Record<string, unknown>): Promise<void> {
  const { dir, data, logs } = scenarioDir(name);
  const receiver = await LokiReceiver.start();
  cleanups.push(() => receiver.close());
  const tally = new Tally(receiver);
  const files = 600;
  const per = scale(100, 1000);
  const written: Record<string, number> = {};
  for (let f = 0; f < files; f++) {
    await fsp.writeFile(path.join(logs, `f${f}.log`), lines(`f${f}`, 0, per));
    written[`f${f}`] = per;
  }
  const cfg = writeConfig(dir, {
    dataDir: data,
    inputs: [fileInput([path.join(logs, '*.log')], { close_inactive: '2s', ...input })],
    lokiUrl: receiver.url,
  });
  const ship = new Shiplog(cfg, { ulimitN: 256 });
  cleanups.push(() => ship.dispose());
  await ship.start();
  // Files keep growing while the descriptor budget is exhausted.
  for (let f = 0; f < files; f += 7) {
    await fsp.appendFile(path.join(logs, `f${f}.log`), lines(`f${f}`, per, 10));
    written[`f${f}`] += 10;
  }
  await tally.waitAll(written, scale(45_000, 120_000));
  const sum = tally.summary(written);
  const alive = ship.alive;
  await ship.stop();
  const emfile = (ship.stderr.match(/EMFILE/g) ?? []).length;
  report({
    scenario: name,
    ...sum,
    peakRssMiB: ship.peakRssMiB,
    note: `${emfile} EMFILE log lines`,
  });
  expect(alive, ship.stderr.slice(-2000)).toBe(true);
  expect(sum.missing, dir).toEqual([]);
  expect(sum.duplicated).toBe(0);
}

describe('too many open files', () => {
  it(
    'max_open_files below the descriptor limit: every line once',
    () =>
      tooManyFiles('too many open files (ulimit -n 256, 600 files, max_open_files 128)', {
        max_open_files: 128,
      }),
    150_000,
  );
});

// KNOWN BUG (file input, src/components/inputs/file/input.ts scan()): when the descriptor limit
// is hit, a directory read fails with EMFILE, walkGlob reports it through onError and returns no
// paths for that directory, and the "files no longer at a matched path" loop detaches EVERY open
// file as rotated; their checkpoints are forgotten after draining and the next good scan opens
// them again from offset 0. Files that failed to open with EMFILE are never read. Observed: the
// same 234 of 600 files re-read 8 times in 40 s, the other 366 never read.
// Was a bug: a scan that hit EMFILE detached every open file as rotated and re-read them forever.
describe('too many open files, default max_open_files', () => {
  it(
    'default max_open_files (1024) above ulimit -n 256: every line once',
    () =>
      tooManyFiles('too many open files (ulimit -n 256, 600 files, default max_open_files)', {}),
    180_000,
  );
});

describe('watched directory deleted and re-created', () => {
  it('drains the deleted files, picks up the new directory', async () => {
    const { dir, data, logs } = scenarioDir('dir-recreate');
    const sub = path.join(logs, 'app');
    await fsp.mkdir(sub);
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const tally = new Tally(receiver);
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [fileInput([path.join(sub, '*.log')])],
      lokiUrl: receiver.url,
    });
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    await ship.start();
    const written: Record<string, number> = {};
    const n = scale(2000, 20_000);
    for (let round = 0; round < 3; round++) {
      const id = `r${round}`;
      await fsp.writeFile(path.join(sub, `${id}.log`), lines(id, 0, n));
      written[id] = n;
      await tally.waitAll(written, 20_000);
      // More lines, then the directory goes away at once: the open file is drained.
      await fsp.appendFile(path.join(sub, `${id}.log`), lines(id, n, n));
      written[id] += n;
      await fsp.rm(sub, { recursive: true });
      await sleep(300);
      await fsp.mkdir(sub);
    }
    // A file in the re-created directory, written before any scan could have seen it empty.
    await fsp.writeFile(path.join(sub, 'last.log'), lines('last', 0, n));
    written.last = n;
    await tally.waitAll(written, 30_000);
    const sum = tally.summary(written);
    await ship.stop();
    report({
      scenario: 'watched directory deleted ×3 and re-created',
      ...sum,
      peakRssMiB: ship.peakRssMiB,
    });
    expect(sum.missing, dir).toEqual([]);
    expect(sum.duplicated).toBe(0);
  }, 120_000);
});
