// data_dir integrity (#23 items 4–6, #17 item 9), each on shiplog as a real process against a
// Loki receiver:
// 5. Two processes on one data_dir: the second exits 78 naming the holder's pid (before: both
//    ran and shipped everything twice); after a SIGKILL of the holder its stale lock is taken over.
// 6. A zeroed checkpoints.json with read_from: tail: the previous good version (.prev) is loaded
//    (before: sources started fresh at the tail, the 5,000 lines written while stopped skipped).
// 4. data_dir deleted while running: created again at the next checkpoint write, failures
//    counted, /readyz ready again, and a restart resumes (before: every write failed from then
//    on and a restart read everything again).
// #17.9: a data_dir writable by others is refused (78); a symlink planted as the checkpoint temp
//    file is never written through (before: its target was overwritten).

import { promises as fsp, existsSync, mkdirSync, chmodSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupsAfterEach, shiplog, startLoki, until } from '../helpers/file-scenario.js';
import { LokiReceiver } from '../receivers/loki.js';
import {
  Shiplog,
  Tally,
  fileInput,
  lines,
  scenarioDir,
  sleep,
  writeConfig,
} from '../reliability/lib.js';

const cleanups = cleanupsAfterEach();

/** Start `ship` expecting it to exit before it starts; its exit code. */
async function startFails(ship: Shiplog): Promise<number | null> {
  let started = true;
  try {
    await ship.start(15_000);
  } catch {
    started = false;
  }
  if (started) return -1;
  await until(async () => ship.child?.exitCode !== null, 5000);
  return ship.child?.exitCode ?? null;
}

const MEMORY = { buffer: { type: 'memory' } };

describe('data_dir integrity (real process)', () => {
  it('a second process on the same data_dir exits 78 naming the holder; a dead holder’s lock is taken over', async () => {
    const { dir, data, logs } = scenarioDir('data-dir-lock');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('a', 0, 3000));
    const { receiver, tally } = await startLoki(cleanups);
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: receiver.url,
    });
    const a = new Shiplog(cfg);
    cleanups.push(() => a.dispose());
    await a.start();
    const b = new Shiplog(cfg);
    cleanups.push(() => b.dispose());
    const code = await startFails(b);
    console.log(`[lock] second process: exit ${code}`);
    expect(code, b.stderr.slice(-2000)).toBe(78);
    expect(b.stderr).toContain(`pid ${a.child!.pid}`);
    await tally.waitAll({ a: 3000 }, 20_000);
    await sleep(1000);
    expect(tally.summary({ a: 3000 }).duplicated).toBe(0);

    // The holder killed: its lock is stale, the next start takes it over.
    await a.kill('SIGKILL');
    a.dispose();
    expect(existsSync(path.join(data, 'shiplog.lock'))).toBe(true);
    const c = new Shiplog(cfg);
    cleanups.push(() => c.dispose());
    await c.start();
    expect((await c.stop()).code).toBe(0);
    expect(existsSync(path.join(data, 'shiplog.lock')), 'released at exit').toBe(false);
  }, 90_000);

  it('a zeroed checkpoints.json with read_from: tail: the previous one is loaded, nothing written while stopped is skipped', async () => {
    const { dir, data, logs } = scenarioDir('data-dir-prev');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('old', 0, 2000));
    const { receiver, tally } = await startLoki(cleanups);
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log], { read_from: 'tail' })],
      lokiUrl: receiver.url,
    });
    await ship.start();
    await sleep(500);
    await fsp.appendFile(log, lines('a', 0, 5000));
    await tally.waitAll({ a: 5000 }, 20_000);
    await sleep(1000);
    expect((await ship.stop()).code).toBe(0);

    await fsp.appendFile(log, lines('a', 5000, 5000));
    const file = path.join(data, 'checkpoints.json');
    const size = (await fsp.stat(file)).size;
    await fsp.writeFile(file, Buffer.alloc(size)); // zeroed, as after a filesystem crash
    await ship.start();
    const written = { a: 10_000 };
    await tally.waitAll(written, 20_000);
    await sleep(1000);
    const s = tally.summary(written);
    expect((await ship.stop()).code).toBe(0);
    console.log(`[lock] zeroed checkpoints: lost ${s.lost} of 5000, duplicated ${s.duplicated}`);
    expect(s.missing, dir).toEqual([]);
    expect(ship.stderr).toMatch(/previous one loaded/);
  }, 90_000);

  it('data_dir deleted while running: created again, failures counted, ready again, a restart resumes', async () => {
    const { dir, data, logs } = scenarioDir('data-dir-deleted');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('a', 0, 5000));
    const { receiver, tally } = await startLoki(cleanups);
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: receiver.url,
      loki: MEMORY,
    });
    await ship.start();
    await tally.waitAll({ a: 5000 }, 20_000);
    await sleep(500);
    await fsp.rm(data, { recursive: true, force: true });
    await fsp.appendFile(log, lines('a', 5000, 5000));
    await tally.waitAll({ a: 10_000 }, 20_000);
    const back = await until(async () => existsSync(path.join(data, 'checkpoints.json')), 10_000);
    const failures = await ship.metric('shiplog_checkpoint_write_failures_total');
    const ready = await ship.readyz();
    console.log(
      `[lock] data_dir deleted: recreated ${back}, failures ${failures}, /readyz ${ready.status}`,
    );
    expect(back, 'checkpoints.json written again').toBe(true);
    expect(failures).toBeGreaterThanOrEqual(1);
    expect(ready.status, ready.body).toBe(200);
    expect(existsSync(path.join(data, 'shiplog.lock')), 'lock written again').toBe(true);
    expect((await ship.stop()).code).toBe(0);

    await fsp.appendFile(log, lines('a', 10_000, 5000));
    await ship.start();
    const written = { a: 15_000 };
    await tally.waitAll(written, 20_000);
    await sleep(1500);
    const s = tally.summary(written);
    expect((await ship.stop()).code).toBe(0);
    console.log(`[lock] data_dir deleted: lost ${s.lost}, duplicated ${s.duplicated} of 15000`);
    expect(s.missing, dir).toEqual([]);
    expect(s.duplicated).toBe(0);
  }, 90_000);

  it('a data_dir writable by others is refused (78); a symlink planted as the temp file is not written through', async () => {
    const { dir, data, logs } = scenarioDir('data-dir-perms');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('a', 0, 100));
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: receiver.url,
    });
    mkdirSync(data, { recursive: true });
    chmodSync(data, 0o777);
    const open = new Shiplog(cfg);
    cleanups.push(() => open.dispose());
    const code = await startFails(open);
    console.log(`[lock] data_dir 0777: exit ${code}`);
    expect(code, open.stderr.slice(-2000)).toBe(78);
    expect(open.stderr).toMatch(/chmod 700/);

    chmodSync(data, 0o700);
    const victim = path.join(dir, 'victim');
    await fsp.writeFile(victim, 'precious\n');
    await fsp.symlink(victim, path.join(data, 'checkpoints.json.tmp'));
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    await ship.start();
    const tally = new Tally(receiver);
    await tally.waitAll({ a: 100 }, 20_000);
    const written = await until(async () => existsSync(path.join(data, 'checkpoints.json')), 5000);
    expect((await ship.stop()).code).toBe(0);
    expect(written).toBe(true);
    expect(await fsp.readFile(victim, 'utf8')).toBe('precious\n');
  }, 90_000);
});
