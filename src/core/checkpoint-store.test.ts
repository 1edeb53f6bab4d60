import { existsSync, mkdtempSync, promises as fsp, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nullLogger } from '../telemetry/logger.js';
import { currentBootId, decodeLive, encodeLive, LiveCheckpoints } from './checkpoint-live.js';
import { CheckpointStore, LIVE_GAP_MS } from './checkpoint-store.js';

const boot = currentBootId();
const linux = boot !== undefined;
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'shiplog-ckpt-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A store on `file`, loaded; the interval is long so only the live copy is written meanwhile. */
async function open(file: string, live = true): Promise<CheckpointStore> {
  const s = new CheckpointStore(file, nullLogger, 60_000, { live });
  await s.load();
  return s;
}

/** What a SIGKILL leaves: the store is dropped without stop(). */
async function crashAfterLive(s: CheckpointStore): Promise<void> {
  await sleep(LIVE_GAP_MS * 5 + 50);
  // Timers are unref'd; nothing else to do: the process "dies" here.
  void s;
}

describe('live checkpoint slots', () => {
  it('round-trips and rejects a torn, corrupt or other-boot slot', () => {
    const buf = encodeLive('b-1', 7, JSON.stringify({ a: 1 }));
    expect(decodeLive(buf, 'b-1')).toEqual({ gen: 7, checkpoints: { a: 1 } });
    expect(decodeLive(buf, 'b-2')).toBeUndefined();
    for (let cut = 0; cut < buf.length; cut++)
      expect(decodeLive(buf.subarray(0, cut), 'b-1'), `cut at ${cut}`).toBeUndefined();
    const bad = Buffer.from(buf);
    bad[bad.length - 2] ^= 1;
    expect(decodeLive(bad, 'b-1')).toBeUndefined();
    // A longer earlier write left bytes after the JSON: ignored.
    const tail = Buffer.concat([buf, Buffer.from('xxxxxxxx}')]);
    expect(decodeLive(tail, 'b-1')).toEqual({ gen: 7, checkpoints: { a: 1 } });
  });

  it('writes alternate between the two slots; the newest valid one is loaded', async () => {
    const file = path.join(tmp(), 'checkpoints.json');
    const w = new LiveCheckpoints(file, 'b');
    await w.write(1, '{"k":1}');
    await w.write(2, '{"k":2}');
    await w.write(3, '{"k":3}');
    await w.reset();
    expect((await new LiveCheckpoints(file, 'b').load())?.checkpoints).toEqual({ k: 3 });
    // The slot of generation 3 torn by a crash mid-write: generation 2 remains.
    const slot3 = w.slotFile(0);
    const text = readFileSync(slot3);
    writeFileSync(slot3, text.subarray(0, text.length - 3));
    const r = new LiveCheckpoints(file, 'b');
    expect((await r.load())?.gen).toBe(2);
    // The next write goes to the slot that did not hold the newest snapshot.
    await r.write(4, '{"k":4}');
    await r.reset();
    expect((await new LiveCheckpoints(file, 'b').load())?.gen).toBe(4);
    expect((await new LiveCheckpoints(file, 'other boot').load())?.gen).toBeUndefined();
  });
});

describe.runIf(linux)('CheckpointStore: live checkpoint', () => {
  it('a crash after the interval write resumes from the positions committed since (same boot)', async () => {
    const file = path.join(tmp(), 'checkpoints.json');
    let s = await open(file);
    s.set('a', 10);
    await s.flush(); // the interval's file: a = 10
    s.start();
    s.set('a', 20);
    s.set('b', 5);
    await crashAfterLive(s);
    expect(JSON.parse(readFileSync(file, 'utf8')).checkpoints).toEqual({ a: 10 });
    s = await open(file);
    expect(s.get('a')).toBe(20);
    expect(s.get('b')).toBe(5);
    // Taken over: the next interval write makes the file hold it too.
    await s.flush();
    expect(JSON.parse(readFileSync(file, 'utf8')).checkpoints).toEqual({ a: 20, b: 5 });
  });

  it('a clean stop leaves the file newest; the live copy is not taken over it', async () => {
    const file = path.join(tmp(), 'checkpoints.json');
    let s = await open(file);
    await s.flush();
    s.start();
    s.set('a', 1);
    await sleep(LIVE_GAP_MS * 5 + 50);
    s.delete('a');
    s.set('c', 3);
    await s.stop();
    s = await open(file);
    expect([...s.keys()]).toEqual(['c']);
  });

  it('a live copy from another boot (power loss, reboot) is ignored: the fsynced file applies', async () => {
    const file = path.join(tmp(), 'checkpoints.json');
    const s = await open(file);
    s.set('a', 10);
    await s.flush();
    const gen = (JSON.parse(readFileSync(file, 'utf8')) as { gen: number }).gen;
    await new LiveCheckpoints(file, 'a boot before the last reboot').write(gen + 5, '{"a":99}');
    expect((await open(file)).get('a')).toBe(10);
    // The same snapshot written in this boot is taken.
    await new LiveCheckpoints(file, boot!).write(gen + 5, '{"a":99}');
    expect((await open(file)).get('a')).toBe(99);
  });

  it('without a checkpoints file (deleted to start over) the live copy is dropped, never revived', async () => {
    const file = path.join(tmp(), 'checkpoints.json');
    let s = await open(file);
    await s.flush();
    s.start();
    s.set('a', 1);
    await crashAfterLive(s);
    for (const f of [file, `${file}.prev`]) await fsp.rm(f, { force: true });
    s = await open(file);
    expect([...s.keys()]).toEqual([]);
    expect(existsSync(`${file}.live.0`) || existsSync(`${file}.live.1`)).toBe(false);
    // A later file with few changes is not shadowed by anything older.
    s.set('b', 2);
    await s.flush();
    s = await open(file);
    expect([...s.keys()]).toEqual(['b']);
  });

  it('live: false writes no live copy and ignores one', async () => {
    const file = path.join(tmp(), 'checkpoints.json');
    let s = await open(file, false);
    await s.flush();
    s.start();
    s.set('a', 1);
    await crashAfterLive(s);
    expect(existsSync(`${file}.live.0`)).toBe(false);
    s = await open(file, false);
    expect(s.get('a')).toBeUndefined();
  });
});
