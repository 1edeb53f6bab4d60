// Rotation patterns the file input must follow (#23 item 10, #17 items 4 and 5), each on shiplog
// as a real process against a Loki receiver:
// 10. A file created and rotated away entirely while shiplog is stopped (glob `app.log`, two
//     renames while down: app.log → .1 → .2): before, its 5,000 lines were never read. Now the
//     rotated siblings born after the last checkpoint are read at start, oldest first.
// #17.4. app.log swapped between a regular file and a FIFO while shiplog scans: before, a
//     blocking open of the FIFO froze the main thread (/healthz stopped answering). Files are
//     opened O_NONBLOCK|O_NOFOLLOW and non-regular files refused.
// #17.5. A `.log` symlink to a file outside the glob's directory (a secret): not followed by
//     default; with follow_symlinks, only targets under the glob's base directory are read.

import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getText } from '../helpers/proc.js';
import { cleanupsAfterEach, shiplog, startLoki } from '../helpers/file-scenario.js';
import { Shiplog, fileInput, lines, scenarioDir, sleep, writeConfig } from '../reliability/lib.js';

const cleanups = cleanupsAfterEach();

describe('file input: rotation patterns (real process)', () => {
  it('a file created and rotated away entirely while stopped (app.log → .1 → .2) is read at start', async () => {
    const { dir, data, logs } = scenarioDir('rotation-while-stopped');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('a', 0, 2500));
    const { receiver, tally } = await startLoki(cleanups);
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: receiver.url,
    });
    await ship.start();
    await tally.waitAll({ a: 2500 }, 20_000);
    await sleep(500);
    expect((await ship.stop()).code).toBe(0);

    // While stopped: rotate, a whole generation written, rotate again, a third generation.
    await sleep(50);
    await fsp.rename(log, `${log}.1`);
    await fsp.writeFile(log, lines('b', 0, 5000));
    await fsp.rename(`${log}.1`, `${log}.2`);
    await fsp.rename(log, `${log}.1`);
    await fsp.writeFile(log, lines('c', 0, 1000));
    await ship.start();
    const written = { a: 2500, b: 5000, c: 1000 };
    await tally.waitAll(written, 30_000);
    await sleep(1500);
    const s = tally.summary(written);
    expect((await ship.stop()).code).toBe(0);
    console.log(
      `[rot] rotated away while stopped: lost ${s.lost} of 8500, duplicated ${s.duplicated}`,
    );
    expect(s.missing, dir).toEqual([]);
    expect(s.duplicated).toBe(0);
  }, 90_000);

  it('atomic replace (cp app.log tmp; append to tmp; mv tmp app.log) five times while running: every line once', async () => {
    const { dir, data, logs } = scenarioDir('rotation-atomic-replace');
    const log = path.join(logs, 'app.log');
    const per = 2000;
    await fsp.writeFile(log, lines('a', 0, per));
    const { receiver, tally } = await startLoki(cleanups);
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: receiver.url,
    });
    await ship.start();
    await tally.waitAll({ a: per }, 20_000);
    let seq = per;
    for (let i = 0; i < 5; i++) {
      const tmp = path.join(logs, 'app.log.tmp');
      await fsp.copyFile(log, tmp);
      await fsp.appendFile(tmp, lines('a', seq, per));
      seq += per;
      await fsp.rename(tmp, log);
      await sleep(300);
    }
    const written = { a: seq };
    await tally.waitAll(written, 30_000);
    await sleep(2500);
    const s = tally.summary(written);
    const replaced = await ship.metric('shiplog_file_replaced_total', { component: 'app' });
    expect((await ship.stop()).code).toBe(0);
    console.log(
      `[rot] atomic replace x5: lost ${s.lost} of ${seq}, duplicated ${s.duplicated}, replaced_total ${replaced}`,
    );
    expect(s.missing, dir).toEqual([]);
    expect(s.duplicated).toBe(0);
    expect(replaced).toBe(5);
  }, 120_000);

  it('max_open_files 4 with 8 busy files, all rotated out of the glob a second after start: every line once', async () => {
    const { dir, data, logs } = scenarioDir('rotation-max-open');
    const n = 8;
    const per = 1000;
    for (let i = 0; i < n; i++)
      await fsp.writeFile(path.join(logs, `f${i}.log`), lines(`f${i}`, 0, per));
    const { receiver, tally } = await startLoki(cleanups);
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([path.join(logs, '*.log')], { max_open_files: 4 })],
      lokiUrl: receiver.url,
    });
    await ship.start();
    const written: Record<string, number> = {};
    // Busy: every file grows, then all are rotated out of the glob (*.log does not match .1).
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < n; i++)
        await fsp.appendFile(path.join(logs, `f${i}.log`), lines(`f${i}`, per + round * 100, 100));
      await sleep(250);
    }
    for (let i = 0; i < n; i++) {
      const p = path.join(logs, `f${i}.log`);
      await fsp.rename(p, `${p}.1`);
      await fsp.writeFile(p, lines(`g${i}`, 0, per));
      written[`f${i}`] = per + 400;
      written[`g${i}`] = per;
    }
    await tally.waitAll(written, 30_000);
    await sleep(1500);
    const s = tally.summary(written);
    expect((await ship.stop()).code).toBe(0);
    console.log(
      `[rot] max_open_files 4, 8 files: lost ${s.lost} of ${s.written}, duplicated ${s.duplicated}`,
    );
    expect(s.missing, dir).toEqual([]);
    expect(s.duplicated).toBe(0);
  }, 90_000);

  it('app.log swapped with a FIFO while scanned: the process keeps answering and reads the regular file', async () => {
    const { dir, data, logs } = scenarioDir('rotation-fifo');
    const log = path.join(logs, 'app.log');
    const fifo = path.join(logs, 'fifo');
    await new Promise<void>((resolve, reject) =>
      spawn('mkfifo', [fifo]).once('exit', (c) =>
        c === 0 ? resolve() : reject(new Error('mkfifo')),
      ),
    );
    await fsp.writeFile(log, lines('a', 0, 100));
    const { receiver, tally } = await startLoki(cleanups);
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log], { scan_interval: '10ms' })],
      lokiUrl: receiver.url,
    });
    await ship.start();
    await tally.waitAll({ a: 100 }, 20_000);
    // A separate process swaps app.log between the FIFO (a hard link of it) and regular files,
    // as fast as it can, for 4 s: shiplog's stat and open of app.log race with it.
    const swapper = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const [log,fifo]=process.argv.slice(1);const end=Date.now()+4000;let i=0;
         while(Date.now()<end){try{fs.linkSync(fifo,log+'.t1');fs.renameSync(log+'.t1',log);
         fs.writeFileSync(log+'.t2','{"w":"z","seq":'+(i++)+'}\\n');fs.renameSync(log+'.t2',log);}catch{}}`,
        log,
        fifo,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((r) => swapper.once('exit', r));
    cleanups.push(() => {
      swapper.kill('SIGKILL');
    });
    let worst = 0;
    let failures = 0;
    const end = Date.now() + 4500;
    while (Date.now() < end) {
      const t0 = Date.now();
      try {
        await Promise.race([
          getText(`http://${ship.http}/healthz`),
          sleep(3000).then(() => {
            throw new Error('timeout');
          }),
        ]);
      } catch {
        failures++;
      }
      worst = Math.max(worst, Date.now() - t0);
      await sleep(100);
    }
    await exited;
    await fsp.writeFile(log, lines('b', 0, 100));
    const written = { b: 100 };
    await tally.waitAll(written, 15_000);
    const s = tally.summary(written);
    console.log(
      `[rot] FIFO swap: /healthz worst ${worst} ms, ${failures} timeouts; lost ${s.lost} of 100`,
    );
    // Unblock a blocking open (before the fix) so the process can be stopped.
    const unblock = spawn('sh', ['-c', `exec 3>'${fifo}'; sleep 1`], { stdio: 'ignore' });
    cleanups.push(() => {
      unblock.kill('SIGKILL');
    });
    expect(failures).toBe(0);
    expect(s.missing, dir).toEqual([]);
  }, 90_000);

  it('a .log symlink to a file outside the glob is not followed; with follow_symlinks only targets under the base directory', async () => {
    const { dir, data, logs } = scenarioDir('rotation-symlink');
    const secret = path.join(dir, 'token');
    await fsp.writeFile(secret, '{"w":"secret","seq":0}\n');
    const inside = path.join(logs, 'real', 'app.txt');
    await fsp.mkdir(path.dirname(inside));
    await fsp.writeFile(inside, lines('in', 0, 10));
    await fsp.writeFile(path.join(logs, 'plain.log'), lines('p', 0, 10));
    await fsp.symlink(secret, path.join(logs, 'evil.log'));
    await fsp.symlink(inside, path.join(logs, 'inside.log'));
    const { receiver, tally } = await startLoki(cleanups);
    const run = async (extra: Record<string, unknown>, name: string): Promise<void> => {
      const cfg = writeConfig(
        dir,
        {
          dataDir: path.join(data, name),
          inputs: [fileInput([path.join(logs, '*.log')], extra)],
          lokiUrl: receiver.url,
        },
        `${name}.yaml`,
      );
      const ship = new Shiplog(cfg);
      cleanups.push(() => ship.dispose());
      await ship.start();
      await tally.waitAll({ p: 10 }, 15_000);
      await sleep(1500);
      expect((await ship.stop()).code).toBe(0);
    };
    await run({}, 'default');
    tally.drain();
    expect(tally.count('secret', 0), 'secret shipped by default').toBe(0);
    expect(tally.count('in', 0), 'symlink followed by default').toBe(0);
    await run({ follow_symlinks: true }, 'follow');
    tally.drain();
    console.log(
      `[rot] symlinks: secret ${tally.count('secret', 0)}, inside ${tally.count('in', 0)} (follow_symlinks)`,
    );
    expect(tally.count('secret', 0), 'secret shipped with follow_symlinks').toBe(0);
    expect(tally.count('in', 0), 'target under the base directory').toBe(1);
  }, 90_000);
});
