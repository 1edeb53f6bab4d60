// Shared setup of the file input's real-process tests (test/file-input/): shiplog as a process
// (test/reliability/lib.ts) against a Loki receiver, cleaned up after each test, and the checks
// they all make (every line once; polling; the checkpoint file on disk; a Loki that is down).

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { afterEach, expect } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { LokiReceiver } from '../receivers/loki.js';
import { Shiplog, Tally, sleep, writeConfig, type ConfigOptions } from '../reliability/lib.js';

export type Cleanup = () => Promise<void> | void;

/**
 * A list of cleanups run after each test of the calling file, newest first. Call it once, at the
 * top level of a test file.
 */
export function cleanupsAfterEach(): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/** Poll `cond` until it holds (true) or `timeoutMs` passed (false). */
export async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

/**
 * "Loki down" must mean "nothing acknowledged". Where outputs have a disk queue (`buffer.type`),
 * they acknowledge once records are queued: the Loki output gets a memory buffer then.
 */
export const ACK_ON_DELIVERY: Record<string, unknown> = (() => {
  try {
    parseConfig(
      stringify({
        pipeline: {
          inputs: [{ type: 'stdin' }],
          outputs: [{ type: 'stdout', buffer: { type: 'memory' } }],
        },
      }),
      'probe.yaml',
      { env: {} },
    );
    return { buffer: { type: 'memory' } };
  } catch {
    return {};
  }
})();

/** A checkpoint entry of the file input as saved on disk (see identity.ts FilePosition). */
export interface SavedEntry {
  o: number;
  fl: number;
  p: string;
}

/** Entries of input `input` in the checkpoint file on disk, by key (none before the first write). */
export async function savedEntries(
  data: string,
  input = 'app',
): Promise<Record<string, SavedEntry>> {
  try {
    const text = await fsp.readFile(path.join(data, 'checkpoints.json'), 'utf8');
    const all = (JSON.parse(text) as { checkpoints: Record<string, SavedEntry> }).checkpoints;
    return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(`${input}/`)));
  } catch {
    return {};
  }
}

/** A port nothing listens on now, for a Loki that is down and comes up later. */
export async function downPort(): Promise<number> {
  const probe = await LokiReceiver.start();
  const port = Number(new URL(probe.url).port);
  await probe.close();
  return port;
}

/** A Loki receiver (on `port`, when given) closed after the test, and a tally of what it got. */
export async function startLoki(
  cleanups: Cleanup[],
  port?: number,
): Promise<{ receiver: LokiReceiver; tally: Tally }> {
  const receiver = await LokiReceiver.start(port === undefined ? undefined : { port });
  cleanups.push(() => receiver.close());
  return { receiver, tally: new Tally(receiver) };
}

/** shiplog (not started) on a config written to `dir`, killed after the test if still running. */
export function shiplog(
  cleanups: Cleanup[],
  dir: string,
  o: ConfigOptions,
  name?: string,
): Shiplog {
  const ship = new Shiplog(writeConfig(dir, o, name));
  cleanups.push(() => ship.dispose());
  return ship;
}

/**
 * Wait for every written line, give anything sent twice `settleMs` to arrive, stop shiplog
 * (exit 0), and expect each line exactly once (at least once with `duplicates`, after a kill).
 * Returns the tally's summary.
 */
export async function expectEveryLineOnce(
  ship: Shiplog,
  tally: Tally,
  written: Record<string, number>,
  dir: string,
  { timeoutMs = 20_000, settleMs = 1500, duplicates = false } = {},
): Promise<ReturnType<Tally['summary']>> {
  await tally.waitAll(written, timeoutMs);
  await sleep(settleMs);
  const s = tally.summary(written);
  expect((await ship.stop()).code).toBe(0);
  expect(s.missing, dir).toEqual([]);
  if (!duplicates) expect(s.duplicated).toBe(0);
  return s;
}
