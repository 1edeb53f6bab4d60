// Every file the file input opens gets a checkpoint entry at once, at the position it starts
// from (issue #16, item 2), checked on shiplog as a real process against a Loki receiver:
// - Loki down, 1,000 lines appended to app.log, SIGKILL, `mv app.log app.log.1`, a new app.log,
//   Loki up, start: the 1,000 lines (found by identity in app.log.1) and the new file's lines
//   arrive, each once. Before, nothing acknowledged meant no checkpoint, and app.log.1 was
//   unknown to the restart.
// - read_from: tail on a file that does not grow during a run; stopped (SIGTERM or SIGKILL after
//   the first checkpoint flush); 500 lines appended while stopped; start: exactly those 500
//   arrive, once. Before, the restart started at the new end of the file.

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

/** The product default (1s): the entry must be written by an ordinary flush. */
const SERVICE = { checkpoint_interval: '1s' };

describe('file input: a checkpoint entry for every file opened (real process)', () => {
  it('Loki down, 1,000 lines appended, SIGKILL, app.log renamed, a new app.log, Loki up: every line once', async () => {
    const { dir, data, logs } = scenarioDir('checkpoint-on-open-rename');
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, '');
    const port = await downPort();
    const ship = shiplog(cleanups, dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      lokiUrl: `http://127.0.0.1:${port}`,
      loki: ACK_ON_DELIVERY,
      service: SERVICE,
    });
    await ship.start();
    await fsp.appendFile(log, lines('a', 0, 1000));
    const read = await until(
      async () => (await ship.metric('shiplog_input_records_total', { component: 'app' })) >= 1000,
      10_000,
    );
    expect(read, 'the 1,000 lines read').toBe(true);
    // Kill after the first flush has written app.log's entry (nothing of it was acknowledged).
    // Without an entry (the bug) the kill comes after 3 checkpoint intervals instead.
    const st = await fsp.stat(log);
    const flushed = await until(
      async () =>
        Object.keys(await savedEntries(data)).some((k) => k.startsWith(`app/${st.dev}:${st.ino}:`)),
      3000,
    );
    expect(await ship.metric('shiplog_output_records_total', { result: 'sent' })).toBe(0);
    await ship.kill('SIGKILL');

    await fsp.rename(log, `${log}.1`);
    await fsp.writeFile(log, lines('b', 0, 200));
    const { tally } = await startLoki(cleanups, port);
    await ship.start();
    const written = { a: 1000, b: 200 };
    await expectEveryLineOnce(ship, tally, written, dir);
    expect(tally.foreign).toBe(0);
    expect(flushed, 'an entry for app.log before anything was acknowledged').toBe(true);
  }, 60_000);

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`read_from: tail, a file that did not grow, ${signal} after the first flush, 500 lines appended while stopped: exactly those, once`, async () => {
      const { dir, data, logs } = scenarioDir(`checkpoint-on-open-tail-${signal}`);
      const log = path.join(logs, 'app.log');
      await fsp.writeFile(log, lines('a', 0, 300));
      const size = (await fsp.stat(log)).size;
      const { receiver, tally } = await startLoki(cleanups);
      const ship = shiplog(cleanups, dir, {
        dataDir: data,
        inputs: [fileInput([log], { read_from: 'tail' })],
        lokiUrl: receiver.url,
        loki: ACK_ON_DELIVERY,
        service: SERVICE,
      });
      await ship.start();
      // Stop after the first flush has written the entry (at the end of the file); without one
      // (the bug), after 3 checkpoint intervals.
      const flushed = await until(
        async () => Object.values(await savedEntries(data)).some((e) => e.o === size),
        3000,
      );
      const stopped = await ship.kill(signal);
      if (signal === 'SIGTERM') expect(stopped.code).toBe(0);
      ship.dispose();

      await fsp.appendFile(log, lines('a', 300, 500));
      await ship.start();
      await tally.waitReceived(500, 20_000);
      await sleep(1500); // anything more (or twice) would arrive by now
      expect((await ship.stop()).code).toBe(0);
      tally.drain();
      const counts: number[] = [];
      for (let i = 0; i < 800; i++) counts.push(tally.count('a', i));
      expect(counts.slice(0, 300).filter((c) => c > 0).length, 'old lines delivered').toBe(0);
      expect(counts.slice(300).filter((c) => c !== 1).length, `${dir}: not once`).toBe(0);
      expect(tally.received).toBe(500);
      expect(flushed, 'an entry at the end of the file').toBe(true);
    }, 60_000);
  }
});
