// #17.3 through a real process: one journal entry with a 24 MiB binary field (an unprivileged
// local user may send up to 32 MiB) made journalctl --all print a ~100 MB line; shiplog died with
// "JavaScript heap out of memory" and again on every restart (the cursor never passed the entry).
// Now the entry is skipped at max_entry_bytes (cursor passed, counted), fields over
// max_field_bytes are cut and flagged, and a restart goes on from after it.

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LokiReceiver } from '../receivers/loki.js';
import { HAVE_JOURNALCTL, JOURNAL_REMOTE, msgs, writeJournal } from '../helpers/journal.js';
import { Shiplog, scenarioDir, sleep, writeConfig } from './lib.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(100);
}

describe.skipIf(!JOURNAL_REMOTE || !HAVE_JOURNALCTL)(
  'journald: huge fields (#17.3, real process)',
  () => {
    it('a 24 MiB field is skipped, a 200 KB message cut and flagged; memory bounded; restart goes on', async () => {
      const { dir, data } = scenarioDir('security-journal');
      const jdir = path.join(dir, 'journal');
      mkdirSync(jdir);
      writeJournal(jdir, 'a', [
        ...msgs('before', 0, 100),
        { ...msgs('huge', 0, 1)[0], BLOB: randomBytes(24 * 1024 * 1024) },
        { ...msgs('x', 0, 1)[0], MESSAGE: `long ${'m'.repeat(200_000)}` },
        ...msgs('after', 0, 100),
      ]);
      const receiver = await LokiReceiver.start({
        rejectOldSamplesMaxAgeMs: 0,
        maxLineBytes: 1 << 20,
      });
      cleanups.push(() => receiver.close());
      const cfg = writeConfig(dir, {
        dataDir: data,
        inputs: [{ type: 'journald', id: 'journal', journal_directory: jdir, read_from: 'head' }],
        lokiUrl: receiver.url,
        loki: { max_line_bytes: '1MiB' },
      });
      const ship = new Shiplog(cfg);
      cleanups.push(() => ship.dispose());
      await ship.start();
      await waitFor(() => receiver.entries.length >= 201, 90_000);
      const lines = receiver.entries.map((e) => e.line);
      expect(lines.filter((l) => l.startsWith('before ')).length).toBe(100);
      expect(lines.filter((l) => l.startsWith('after ')).length).toBe(100);
      expect(lines.some((l) => l.startsWith('huge '))).toBe(false);
      const long = lines.filter((l) => l.startsWith('long '));
      expect(long.length).toBe(1);
      expect(Buffer.byteLength(long[0])).toBe(64 * 1024);
      expect(await ship.metric('shiplog_dropped_records_total', { reason: 'oversized' })).toBe(1);
      expect(ship.stderr).toMatch(/journal entry longer than max_entry_bytes; skipped/);
      await sleep(500); // a checkpoint after the last ack
      const peak1 = ship.peakRssMiB;
      expect((await ship.stop()).code).toBe(0);

      // Restart: nothing is read again, the process stays up, new entries arrive.
      writeJournal(jdir, 'a', msgs('later', 0, 10));
      const again = new Shiplog(cfg);
      cleanups.push(() => again.dispose());
      await again.start();
      await waitFor(() => receiver.entries.length >= 211, 20_000);
      await sleep(500);
      expect(again.alive).toBe(true);
      expect(receiver.entries.length).toBe(211);
      const peak2 = again.peakRssMiB;
      await again.stop();
      console.log(
        `journal 24 MiB field: peak RSS ${peak1.toFixed(0)} MiB, restart ${peak2.toFixed(0)} MiB, 211/211 delivered, 1 skipped`,
      );
      expect(Math.max(peak1, peak2)).toBeLessThan(300);
    }, 120_000);

    it('#23.9 a journal vacuumed while stopped: 2000/2000 delivered, 0 duplicates', async () => {
      const { dir, data } = scenarioDir('journal-vacuum');
      const jdir = path.join(dir, 'journal');
      mkdirSync(jdir);
      writeJournal(jdir, 'a', msgs('entry', 0, 1000));
      const receiver = await LokiReceiver.start({ rejectOldSamplesMaxAgeMs: 0 });
      cleanups.push(() => receiver.close());
      const cfg = writeConfig(dir, {
        dataDir: data,
        inputs: [{ type: 'journald', id: 'journal', journal_directory: jdir, read_from: 'head' }],
        lokiUrl: receiver.url,
      });
      const ship = new Shiplog(cfg);
      cleanups.push(() => ship.dispose());
      await ship.start();
      await waitFor(() => receiver.entries.length >= 1000, 60_000);
      await sleep(600); // checkpoint_interval 200ms
      expect((await ship.stop()).code).toBe(0);

      // While stopped: entries 1000-1999 land in a new file; the one holding the cursor is deleted.
      writeJournal(jdir, 'b', msgs('entry', 1000, 2000));
      rmSync(path.join(jdir, 'a.journal'));

      const again = new Shiplog(cfg);
      cleanups.push(() => again.dispose());
      await again.start();
      await waitFor(() => new Set(receiver.entries.map((e) => e.line)).size >= 2000, 60_000);
      await sleep(500);
      await again.stop();
      const lines = receiver.entries.map((e) => e.line);
      const distinct = new Set(lines);
      const missing: number[] = [];
      for (let i = 0; i < 2000; i++) if (!distinct.has(`entry ${i}`)) missing.push(i);
      console.log(
        `journal vacuumed while stopped: ${distinct.size}/2000 delivered, ${lines.length - distinct.size} duplicates, missing ${JSON.stringify(missing.slice(0, 5))}`,
      );
      expect(missing).toEqual([]);
      expect(lines.length).toBe(2000);
    }, 150_000);
  },
);
