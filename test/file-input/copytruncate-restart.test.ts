// copytruncate across a SIGKILL, on shiplog as a real process against a Loki receiver, each
// sequence deterministic (no random kill moments):
// - Loki down (nothing acknowledged), 1,000 lines read, SIGKILL once app.log's entry (at offset 0)
//   is on disk, app.log copied to app.log.1 and truncated, 200 lines appended, Loki up, start:
//   every line once. Before, an entry at offset 0 was not looked for in copies: the 1,000 lines
//   (a whole generation in the crash loop of test/reliability/crash.test.ts) were lost.
// - Loki down, 1,000 lines read, copytruncate while running (the copy is found and read on from
//   where the original was read to, the original's identity retired with its batches in flight),
//   200 lines, SIGKILL, copytruncate again while stopped, 100 lines, Loki up, start: every line
//   once. Before, the copy was read on from its own entry and the retired identity's lines before
//   it were lost (the 400–2,660 lines lost at the end of a generation in the crash loop).
// - Loki up and the default disk queue: 1,000 lines delivered and checkpointed, SIGKILL, 500
//   lines appended, copytruncate, 200 lines, start: every line once.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACK_ON_DELIVERY,
  cleanupsAfterEach,
  downPort,
  expectEveryLineOnce,
  savedEntries,
  shiplog,
  startLoki,
  until,
} from '../helpers/file-scenario.js';
import { fileInput, lines, scenarioDir, sleep } from '../reliability/lib.js';

const cleanups = cleanupsAfterEach();

async function copytruncate(file: string, to: string): Promise<void> {
  await fsp.copyFile(file, to);
  await fsp.truncate(file, 0);
}

describe('file input: copytruncate across a SIGKILL (real process)', () => {
  it('Loki down, 1,000 lines read, SIGKILL with the entry at 0, copytruncate + 200 lines while stopped, Loki up: every line once', async () => {
    const { dir, data, logs } = scenarioDir('copytruncate-restart-at-0');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('a', 0, 1000));
    const port = await downPort();
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: `http://127.0.0.1:${port}`,
      loki: ACK_ON_DELIVERY,
    });
    await ship.start();
    const read = await until(
      async () => (await ship.metric('shiplog_input_records_total', { component: 'app' })) >= 1000,
      10_000,
    );
    expect(read, 'the 1,000 lines read').toBe(true);
    const flushed = await until(async () => {
      const e = Object.values(await savedEntries(data));
      return e.length === 1 && e[0].o === 0 && e[0].fl === 1024;
    }, 3000);
    expect(flushed, 'app.log saved at offset 0').toBe(true);
    await ship.kill('SIGKILL');

    await copytruncate(log, `${log}.1`);
    await fsp.appendFile(log, lines('a', 1000, 200));
    const { tally } = await startLoki(cleanups, port);
    await ship.start();
    const written = { a: 1200 };
    await expectEveryLineOnce(ship, tally, written, dir);
    expect(tally.foreign).toBe(0);
  }, 60_000);

  it('Loki down, copytruncate while running, SIGKILL before anything of the copy is acknowledged, copytruncate again while stopped, Loki up: every line once', async () => {
    const { dir, data, logs } = scenarioDir('copytruncate-restart-in-flight');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('a', 0, 1000));
    const port = await downPort();
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: `http://127.0.0.1:${port}`,
      loki: ACK_ON_DELIVERY,
    });
    await ship.start();
    const records = () => ship.metric('shiplog_input_records_total', { component: 'app' });
    expect(await until(async () => (await records()) >= 1000, 10_000), 'read').toBe(true);
    await copytruncate(log, `${log}.1`);
    await fsp.appendFile(log, lines('a', 1000, 200));
    expect(await until(async () => (await records()) >= 1200, 10_000), 'read on').toBe(true);
    // The copy's entry (at the point the original was read to), the original's old identity
    // (retired at 0, its batches in flight) and its new one, all on disk.
    const flushed = await until(async () => {
      const e = Object.values(await savedEntries(data));
      return e.some((x) => x.p === `${log}.1` && x.o > 0) && e.length === 3;
    }, 3000);
    expect(flushed, `${dir}: entries on disk`).toBe(true);
    await ship.kill('SIGKILL');

    await copytruncate(log, `${log}.2`);
    await fsp.appendFile(log, lines('a', 1200, 100));
    const { tally } = await startLoki(cleanups, port);
    await ship.start();
    const written = { a: 1300 };
    await expectEveryLineOnce(ship, tally, written, dir);
    expect(tally.foreign).toBe(0);
  }, 60_000);

  it('disk queue, Loki up: 1,000 lines checkpointed, SIGKILL, 500 lines + copytruncate + 200 lines while stopped: every line once', async () => {
    const { dir, data, logs } = scenarioDir('copytruncate-restart-disk');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, lines('a', 0, 1000));
    const size = (await fsp.stat(log)).size;
    const { receiver, tally } = await startLoki(cleanups);
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: receiver.url,
    });
    await ship.start();
    await tally.waitAll({ a: 1000 }, 10_000);
    const flushed = await until(
      async () => Object.values(await savedEntries(data)).some((e) => e.o === size),
      3000,
    );
    expect(flushed, 'checkpointed at the end').toBe(true);
    await sleep(600); // the queue's delivered pointer is saved too: nothing is resent
    await ship.kill('SIGKILL');

    await fsp.appendFile(log, lines('a', 1000, 500));
    await copytruncate(log, `${log}.1`);
    await fsp.appendFile(log, lines('a', 1500, 200));
    await ship.start();
    const written = { a: 1700 };
    await expectEveryLineOnce(ship, tally, written, dir);
    expect(tally.foreign).toBe(0);
  }, 60_000);
});
