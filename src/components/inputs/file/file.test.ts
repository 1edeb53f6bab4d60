import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
  renameSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, startPipeline, tempDir, type Harness } from '../../../../test/helpers/harness.js';

const running: Harness[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

function config(paths: string[], extra: Record<string, unknown> = {}, autoAck = true) {
  return {
    pipeline: {
      inputs: [
        {
          type: 'file',
          id: 'f',
          paths,
          scan_interval: '100ms',
          rotate_wait: '300ms',
          ...extra,
        },
      ],
      outputs: [{ type: 'capture', id: 'cap', auto_ack: autoAck }],
    },
  };
}

async function start(
  paths: string[],
  extra: Record<string, unknown> = {},
  opts: { dataDir?: string; autoAck?: boolean; oneShot?: boolean } = {},
): Promise<Harness> {
  const h = await startPipeline(config(paths, extra, opts.autoAck ?? true), opts);
  running.push(h);
  return h;
}

async function stop(h: Harness): Promise<void> {
  running.splice(running.indexOf(h), 1);
  await h.stop();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function messages(): string[] {
  return capture('cap').records.map((r) => r.record.fields.message as string);
}

function lines(from: number, to: number, prefix = 'line'): string {
  let s = '';
  for (let i = from; i < to; i++) s += `${prefix}-${String(i).padStart(7, '0')} {"level":"info"}\n`;
  return s;
}

/** Every expected line exactly once (order free across files). */
function expectExactlyOnce(got: string[], n: number, prefix = 'line'): void {
  const counts = new Map<string, number>();
  for (const m of got) counts.set(m, (counts.get(m) ?? 0) + 1);
  const missing: number[] = [];
  const dup: string[] = [];
  for (let i = 0; i < n; i++) {
    const m = `${prefix}-${String(i).padStart(7, '0')} {"level":"info"}`;
    const c = counts.get(m) ?? 0;
    if (c === 0) missing.push(i);
    if (c > 1) dup.push(m);
  }
  expect({
    missing: missing.slice(0, 10),
    missingCount: missing.length,
    dup: dup.slice(0, 5),
  }).toEqual({
    missing: [],
    missingCount: 0,
    dup: [],
  });
  expect(got.length).toBe(n);
}

async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await sleep(20);
  }
}

async function metric(h: Harness, name: string): Promise<number> {
  const m = h.metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const v = await m.get();
  return v.values.reduce((a, x) => a + x.value, 0);
}

/**
 * Appends `total` lines at ~`rate` lines/s in small bursts, calling `rotate` every `every` lines.
 */
async function writer(
  file: string,
  total: number,
  rate: number,
  every: number,
  rotate: (n: number) => void,
): Promise<void> {
  const burst = Math.max(1, Math.floor(rate / 100));
  let i = 0;
  let rotations = 0;
  const t0 = Date.now();
  while (i < total) {
    const n = Math.min(burst, total - i);
    appendFileSync(file, lines(i, i + n));
    i += n;
    if (Math.floor(i / every) > rotations && i < total) {
      rotations++;
      rotate(rotations);
    }
    const due = t0 + (i / rate) * 1000;
    const wait = due - Date.now();
    await sleep(Math.max(0, wait));
  }
}

describe('file input: reading', () => {
  it('emits one record per line with path, read time and a per-line source id', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, 'first\r\nsecond\n\nthird-without-newline');
    const before = Date.now();
    const h = await start([path.join(dir, '*.log')]);
    await capture('cap').waitFor(2);
    const recs = capture('cap').records.map((r) => r.record);
    expect(recs.map((r) => r.fields)).toEqual([
      { message: 'first', file: { path: file } },
      { message: 'second', file: { path: file } },
    ]);
    expect(recs[0].timeMs).toBeGreaterThanOrEqual(before);
    const st = statSync(file);
    expect(recs[0].sourceId).toMatch(new RegExp(`^${st.dev}:${st.ino}:[0-9a-f]{16}:0$`));
    expect(recs[1].sourceId!.endsWith(':7')).toBe(true);
    // The unterminated line is held until it completes …
    await sleep(150);
    expect(capture('cap').records.length).toBe(2);
    appendFileSync(file, '-done\nfourth\n');
    await capture('cap').waitFor(4);
    expect(messages().slice(2)).toEqual(['third-without-newline-done', 'fourth']);
    // … or until the file is idle past rotate_wait.
    appendFileSync(file, 'tail');
    await capture('cap').waitFor(5, 3000);
    expect(messages()[4]).toBe('tail');
    expect(capture('cap').records.length).toBe(5);
    expect(await metric(h, 'shiplog_input_bytes_total')).toBe(statSync(file).size);
  });

  it('commits a position only after the output acknowledged it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 100));
    const h = await start([file], {}, { autoAck: false });
    await capture('cap').waitFor(100);
    await sleep(100);
    const key = [...h.store.keys()].find((k) => k.startsWith('f/'));
    expect(key === undefined || h.store.get(key) === undefined).toBe(true);
    capture('cap').release();
    await waitUntil(() => [...h.store.keys()].some((k) => k.startsWith('f/')), 5000, 'commit');
    const k = [...h.store.keys()].find((x) => x.startsWith('f/'))!;
    expect((h.store.get(k) as { o: number }).o).toBe(statSync(file).size);
  });

  it('handles garbage, invalid UTF-8 and a 50 MB line without crashing', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.log');
    const garbage = Buffer.alloc(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 256;
    writeFileSync(file, Buffer.concat([Buffer.from('before\n'), garbage, Buffer.from('\n')]));
    appendFileSync(file, Buffer.from([0x6f, 0x6b, 0xff, 0xfe, 0xc3, 0x28, 0x0a])); // "ok" + invalid
    appendFileSync(file, Buffer.alloc(50 * 1024 * 1024, 0x61)); // 50 MB of "a" without newline
    const h = await start([file], { max_line_bytes: '64KiB', rotate_wait: '30s' });
    // The head of the long line is emitted (cut) as soon as it exceeds max_line_bytes …
    await waitUntil(() => messages().some((m) => m.startsWith('aaaa')), 20_000, 'long line');
    await waitUntil(
      async () => (await metric(h, 'shiplog_input_bytes_total')) >= statSync(file).size,
    );
    // … and its remainder is skipped up to its newline.
    appendFileSync(file, 'aaaa\nafter\n');
    await waitUntil(() => messages().includes('after'), 20_000, 'after');
    const msgs = messages();
    expect(msgs[0]).toBe('before');
    const ok = msgs.find((m) => m.startsWith('ok'))!;
    expect(ok).toContain('\uFFFD');
    const long = capture('cap').records.find((r) => r.record.fields.truncated === true)!;
    expect((long.record.fields.message as string).length).toBe(64 * 1024);
    expect(msgs.filter((m) => m.startsWith('aaaa')).length).toBe(1);
    expect(msgs[msgs.length - 1]).toBe('after');
    expect(await metric(h, 'shiplog_file_truncated_lines_total')).toBe(1);
  });

  it('joins multiline records by start pattern', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'ml.log');
    writeFileSync(
      file,
      '2024-01-01 one\n  at a\n  at b\n2024-01-01 two\n2024-01-01 three\n  at c\n',
    );
    await start([file], { multiline: { start_pattern: '^\\d{4}-', timeout: '200ms' } });
    await capture('cap').waitFor(3, 3000);
    expect(messages()).toEqual([
      '2024-01-01 one\n  at a\n  at b',
      '2024-01-01 two',
      '2024-01-01 three\n  at c',
    ]);
  });

  it('reads a file deleted mid-read to its end', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'del.log');
    const n = 60_000;
    writeFileSync(file, lines(0, n));
    await start([file], { read_buffer: '64KiB' }, { autoAck: false });
    await capture('cap').waitFor(100);
    unlinkSync(file);
    // Backpressure held the reader; now let it run.
    for (let i = 0; i < 500 && capture('cap').records.length < n; i++) {
      capture('cap').release();
      await sleep(10);
    }
    await capture('cap').waitFor(n);
    capture('cap').release();
    expectExactlyOnce(messages(), n);
  });

  it('skips an unreadable directory and still reads the others', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'ok'));
    writeFileSync(path.join(dir, 'ok', 'a.log'), 'hello\n');
    symlinkSync(path.join(dir, 'loop'), path.join(dir, 'loop')); // ELOOP when read
    if (process.getuid?.() !== 0) {
      mkdirSync(path.join(dir, 'locked'));
      writeFileSync(path.join(dir, 'locked', 'b.log'), 'secret\n');
      chmodSync(path.join(dir, 'locked'), 0);
    }
    const h = await start([path.join(dir, '*', '*.log'), path.join(dir, 'loop', '*.log')]);
    await capture('cap').waitFor(1);
    await sleep(300);
    expect(messages()).toEqual(['hello']);
    expect(await metric(h, 'shiplog_file_errors_total')).toBeGreaterThan(0);
    if (process.getuid?.() !== 0) chmodSync(path.join(dir, 'locked'), 0o755);
  });

  it('in backfill mode reads every file (gzip too) to its end and finishes', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.log'), lines(0, 1000));
    writeFileSync(path.join(dir, 'a.log.1.gz'), gzipSync(lines(1000, 3000)));
    writeFileSync(path.join(dir, 'b.log'), lines(3000, 3500).slice(0, -1)); // no final newline
    const h = await start(
      [path.join(dir, 'a.log*'), path.join(dir, 'b.log')],
      {},
      { oneShot: true },
    );
    await h.pipeline.drained();
    expectExactlyOnce(messages(), 3500);
  });
});

describe('file input: rotation and restarts', () => {
  it('rename rotation under a 20k lines/s writer: every line exactly once', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    const h = await start([file]);
    const n = 40_000;
    await writer(file, n, 20_000, 7_000, (r) => renameSync(file, `${file}.${r}`));
    await capture('cap').waitFor(n);
    await sleep(200);
    expectExactlyOnce(messages(), n);
    expect(await metric(h, 'shiplog_file_rotations_total')).toBeGreaterThanOrEqual(5);
  });

  it('copytruncate rotation under a 20k lines/s writer: every line exactly once', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    const h = await start([file]);
    const n = 40_000;
    await writer(file, n, 20_000, 7_000, (r) => {
      copyFileSync(file, `${file}.${r}`);
      truncateSync(file, 0);
    });
    await capture('cap').waitFor(n);
    await sleep(200);
    expectExactlyOnce(messages(), n);
    expect(await metric(h, 'shiplog_file_truncations_total')).toBeGreaterThanOrEqual(5);
  });

  it('a glob that matches rotated names (app.log*) reads no line twice', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    await start([`${file}*`]);
    const n = 30_000;
    let r = 0;
    await writer(file, n, 20_000, 5_000, () => {
      r++;
      // Alternate rename and copytruncate; both leave the old content under a matching name.
      if (r % 2) renameSync(file, `${file}.${r}`);
      else {
        copyFileSync(file, `${file}.${r}`);
        truncateSync(file, 0);
      }
    });
    await capture('cap').waitFor(n);
    await sleep(500);
    expectExactlyOnce(messages(), n);
  });

  it('after a restart only new lines arrive', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 1000));
    const h1 = await start([file]);
    await capture('cap').waitFor(1000);
    await stop(h1);
    appendFileSync(file, lines(1000, 1500));
    await start([file], {}, { dataDir: h1.dataDir });
    await capture('cap').waitFor(500);
    await sleep(300);
    expect(messages()).toEqual(lines(1000, 1500).trimEnd().split('\n'));
  });

  it('a file rotated while stopped: the rest of the old file and all of the new one', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 1000));
    const h1 = await start([file]);
    await capture('cap').waitFor(1000);
    await stop(h1);
    appendFileSync(file, lines(1000, 1200));
    renameSync(file, `${file}.1`);
    writeFileSync(file, lines(1200, 1500));
    await start([file], {}, { dataDir: h1.dataDir });
    await capture('cap').waitFor(500);
    await sleep(300);
    const got = messages();
    expect(got.length).toBe(500);
    expect(new Set(got)).toEqual(new Set(lines(1000, 1500).trimEnd().split('\n')));
  });

  it('inode reuse: a new file with a recycled inode is read from its start', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    // 2000 lines so the fingerprint is full; the new file shares the first 1 KiB.
    const body = lines(0, 2000);
    writeFileSync(file, body);
    const ino = statSync(file).ino;
    const h1 = await start([file], { fingerprint_bytes: '1KiB' });
    await capture('cap').waitFor(2000);
    await stop(h1);
    unlinkSync(file);
    let reused = false;
    const next = body.slice(0, 1024) + lines(5000, 9000, 'new').slice(1024);
    for (let i = 0; i < 20 && !reused; i++) {
      writeFileSync(file, next);
      reused = statSync(file).ino === ino;
      if (!reused) {
        // Keep the non-matching file alive so the allocator moves on, and try again.
        renameSync(file, path.join(dir, `other-${i}`));
      }
    }
    expect(reused).toBe(true);
    await start([file], {}, { dataDir: h1.dataDir });
    const expected = next.trimEnd().split('\n');
    await capture('cap').waitFor(expected.length);
    await sleep(300);
    expect(messages()).toEqual(expected);
  });

  it('inode reuse while running: the recreated file is read from its start', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 100));
    await start([file]);
    await capture('cap').waitFor(100);
    unlinkSync(file);
    await sleep(700); // drained and closed after rotate_wait
    writeFileSync(file, lines(0, 50, 'again'));
    await capture('cap').waitFor(150);
    await sleep(300);
    expect(messages().slice(100)).toEqual(lines(0, 50, 'again').trimEnd().split('\n'));
  });
});
