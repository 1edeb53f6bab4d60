import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
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
import { hashBytes, type FilePosition } from './identity.js';
import { ACK_ON_DELIVERY } from '../../../../test/helpers/file-scenario.js';

const running: Harness[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

// These tests mean "acknowledged" as "delivered": the capture output gets ACK_ON_DELIVERY (a
// memory buffer), since outputs with a disk queue acknowledge once records are queued.
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
      outputs: [{ type: 'capture', id: 'cap', auto_ack: autoAck, ...ACK_ON_DELIVERY }],
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

/** A checkpoint key of `st` with fingerprint `fp`: `<dev>:<ino>:<fp>.<nonce>`. */
function keyOf(st: { dev: number; ino: number }, fp: string, prefix = ''): RegExp {
  return new RegExp(`^${prefix}${st.dev}:${st.ino}:${fp}\\.[0-9a-f]{8}$`);
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
    expect(recs[0].sourceId).toMatch(
      new RegExp(`^${st.dev}:${st.ino}:[0-9a-f]{16}\\.[0-9a-f]{8}:0$`),
    );
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

  it('reads a file written in small steady appends a few times a second, not on every append', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, '');
    await start([file]);
    await sleep(300);
    // The first line after a quiet spell is read at once …
    const t0 = Date.now();
    appendFileSync(file, lines(0, 1));
    await capture('cap').waitFor(1, 5000);
    expect(Date.now() - t0).toBeLessThan(1000);
    // … the next ones, appended every 20 ms for a second, in a few larger reads (each read
    // stamps its records with its own time).
    for (let i = 1; i <= 50; i++) {
      appendFileSync(file, lines(i, i + 1));
      await sleep(20);
    }
    await capture('cap').waitFor(51, 5000);
    expectExactlyOnce(messages(), 51);
    const reads = new Set(
      capture('cap')
        .records.slice(1)
        .map((r) => r.record.timeMs),
    );
    expect(reads.size).toBeGreaterThan(1);
    expect(reads.size).toBeLessThanOrEqual(12);
  });

  it('commits a position only after the output acknowledged it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 100));
    const h = await start([file], {}, { autoAck: false });
    await capture('cap').waitFor(100);
    await sleep(100);
    // Only the entry written when the file was opened: its starting offset.
    const keys = [...h.store.keys()].filter((k) => k.startsWith('f/'));
    expect(keys).toHaveLength(1);
    expect((h.store.get(keys[0]) as { o: number }).o).toBe(0);
    capture('cap').release();
    const size = statSync(file).size;
    await waitUntil(() => (h.store.get(keys[0]) as { o: number }).o === size, 5000, 'commit');
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

  it('copytruncate twice while a read is deferred (coalescing): the generation between them is read too', async () => {
    // A long deferral (2 s) so both truncations fall in it whatever the host's load.
    const env = process.env.SHIPLOG_READ_COALESCE_MS;
    process.env.SHIPLOG_READ_COALESCE_MS = '2000';
    try {
      const dir = tempDir();
      const file = path.join(dir, 'app.log');
      writeFileSync(file, lines(0, 1000));
      const h = await start([file]);
      await capture('cap').waitFor(1000);
      // Just read: the next read of this file is deferred until 2 s after this one. Meanwhile:
      // the rest of generation 1, copied and truncated; generation 2 (shorter than the read
      // position), copied and truncated; generation 3. Each step gives the input a turn.
      const t0 = Date.now();
      const steps: Array<() => void> = [
        () => appendFileSync(file, lines(1000, 1200)),
        () => copyFileSync(file, `${file}.1`),
        () => truncateSync(file, 0),
        () => appendFileSync(file, lines(1200, 1500)),
        () => copyFileSync(file, `${file}.2`),
        () => truncateSync(file, 0),
        () => appendFileSync(file, lines(1500, 1700)),
      ];
      for (const s of steps) {
        s();
        await sleep(50);
      }
      expect(Date.now() - t0).toBeLessThan(2000);
      await capture('cap').waitFor(1700, 10_000);
      await sleep(300);
      expectExactlyOnce(messages(), 1700);
      expect(await metric(h, 'shiplog_file_truncations_total')).toBe(2);
    } finally {
      if (env === undefined) delete process.env.SHIPLOG_READ_COALESCE_MS;
      else process.env.SHIPLOG_READ_COALESCE_MS = env;
    }
  });

  it('a deferred read is not deferred once four read buffers are waiting', async () => {
    const env = process.env.SHIPLOG_READ_COALESCE_MS;
    process.env.SHIPLOG_READ_COALESCE_MS = '5000';
    try {
      const dir = tempDir();
      const file = path.join(dir, 'app.log');
      writeFileSync(file, lines(0, 100));
      await start([file], { read_buffer: '16KiB' });
      await capture('cap').waitFor(100);
      // Deferred for 5 s from here; 40 bytes a line: 64 KiB waiting after ~1,640 lines.
      const t0 = Date.now();
      appendFileSync(file, lines(100, 200));
      await sleep(100);
      appendFileSync(file, lines(200, 3000));
      await capture('cap').waitFor(3000, 10_000);
      expect(Date.now() - t0).toBeLessThan(2500);
      expectExactlyOnce(messages(), 3000);
    } finally {
      if (env === undefined) delete process.env.SHIPLOG_READ_COALESCE_MS;
      else process.env.SHIPLOG_READ_COALESCE_MS = env;
    }
  });

  it('a multiline filter downstream defers reads at most half its flush_timeout: a trace written in two steps stays whole', async () => {
    const env = process.env.SHIPLOG_READ_COALESCE_MS;
    process.env.SHIPLOG_READ_COALESCE_MS = '3000';
    try {
      const dir = tempDir();
      const file = path.join(dir, 'app.log');
      writeFileSync(file, 'first\n');
      const h = await startPipeline({
        pipeline: {
          inputs: [{ type: 'file', id: 'f', paths: [file], scan_interval: '100ms' }],
          filters: [{ type: 'multiline', start_pattern: '^[^ ]', flush_timeout: '1s' }],
          outputs: [{ type: 'capture', id: 'cap', auto_ack: true, ...ACK_ON_DELIVERY }],
        },
      });
      running.push(h);
      const bytes = () => metric(h, 'shiplog_input_bytes_total');
      await waitUntil(async () => (await bytes()) >= 6, 5000, 'first read');
      // Read just now: the next read is deferred (3 s, lowered to 500 ms by the filter's 1 s).
      const part1 = 'Trace begins\n  at one\n';
      appendFileSync(file, part1);
      await waitUntil(async () => (await bytes()) >= 6 + part1.length, 8000, 'part 1 read');
      // Part 1 was just read and is held by the filter; once the input found the end of the file,
      // part 2 waits for the next read.
      await sleep(100);
      appendFileSync(file, '  at two\nnext\n');
      await capture('cap').waitFor(3, 10_000);
      expect(messages()).toEqual(['first', 'Trace begins\n  at one\n  at two', 'next']);
    } finally {
      if (env === undefined) delete process.env.SHIPLOG_READ_COALESCE_MS;
      else process.env.SHIPLOG_READ_COALESCE_MS = env;
    }
  });

  it('copytruncate and the next generation written past the read position during a pause: the rest from the copy, the new one from 0', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 1000));
    const h = await start([file]);
    await capture('cap').waitFor(1000);
    await sleep(100);
    // In one go: 500 more lines, the copy, the truncation, and a next generation longer than what
    // was read. The file is never seen shorter than the read position; its head tells.
    appendFileSync(file, lines(1000, 1500));
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    appendFileSync(file, lines(1500, 4000));
    await capture('cap').waitFor(4000, 5000);
    await sleep(300);
    expectExactlyOnce(messages(), 4000);
    expect(await metric(h, 'shiplog_file_truncations_total')).toBe(1);
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

describe('file input: a checkpoint entry for every file opened', () => {
  /** The input's entries in the store, by file path. */
  function entries(h: Harness): Map<string, { key: string; pos: FilePosition }> {
    const out = new Map<string, { key: string; pos: FilePosition }>();
    for (const k of h.store.keys()) {
      if (!k.startsWith('f/')) continue;
      const pos = h.store.get(k) as FilePosition;
      out.set(pos.p, { key: k.slice(2), pos });
    }
    return out;
  }

  /** Wait until the input holds `n` files open (set after the scan that opened them). */
  async function opened(h: Harness, n: number): Promise<void> {
    await waitUntil(async () => (await metric(h, 'shiplog_file_open_files')) >= n, 5000, 'open');
  }

  const fingerprint = (body: string, n = 1024): string =>
    hashBytes(Buffer.from(body).subarray(0, n));

  it('is in the store as soon as a file is opened, before anything is acknowledged (head)', async () => {
    const dir = tempDir();
    const big = path.join(dir, 'big.log');
    const short = path.join(dir, 'short.log');
    const empty = path.join(dir, 'empty.log');
    const bigBody = lines(0, 100);
    writeFileSync(big, bigBody);
    writeFileSync(short, 'short\n');
    writeFileSync(empty, '');
    const h = await start([path.join(dir, '*.log')], {}, { autoAck: false });
    await opened(h, 3);
    const e = entries(h);
    expect(e.size).toBe(3);
    for (const [file, body] of [
      [big, bigBody],
      [short, 'short\n'],
      [empty, ''],
    ] as const) {
      const st = statSync(file);
      const fl = Math.min(1024, body.length);
      expect(e.get(file)).toEqual({
        key: expect.stringMatching(keyOf(st, fingerprint(body))),
        pos: {
          o: 0,
          fp: fingerprint(body),
          fl,
          th: expect.any(String),
          tl: 0,
          p: file,
          b: st.birthtimeMs,
        },
      });
    }
    // Nothing acknowledged: the entries stay at their start …
    await capture('cap').waitFor(101);
    await sleep(200);
    expect([...entries(h).values()].map((x) => x.pos.o)).toEqual([0, 0, 0]);
    // … and advance under the same keys once acknowledged.
    capture('cap').release();
    await waitUntil(() => entries(h).get(big)?.pos.o === bigBody.length, 5000, 'commit');
    expect(entries(h).get(short)).toMatchObject({ key: e.get(short)!.key, pos: { o: 6, fl: 6 } });
  });

  it('under read_from: tail is at the end of the file, with the hash of the bytes before it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    const body = lines(0, 50);
    writeFileSync(file, body);
    const h = await start([file], { read_from: 'tail' }, { autoAck: false });
    await opened(h, 1);
    const st = statSync(file);
    const n = Buffer.byteLength(body);
    expect(entries(h).get(file)).toEqual({
      key: expect.stringMatching(keyOf(st, fingerprint(body))),
      pos: {
        b: st.birthtimeMs,
        o: n,
        fp: fingerprint(body),
        fl: 1024,
        th: hashBytes(Buffer.from(body).subarray(n - 64)),
        tl: 64,
        p: file,
      },
    });
    // Written to disk by the next flush.
    await waitUntil(
      () => {
        try {
          const saved = JSON.parse(readFileSync(path.join(h.dataDir, 'checkpoints.json'), 'utf8'));
          const all = (saved as { checkpoints: Record<string, FilePosition> }).checkpoints;
          return Object.entries(all).some(
            ([k, v]) => keyOf(st, fingerprint(body), 'f/').test(k) && v.o === n,
          );
        } catch {
          return false;
        }
      },
      5000,
      'flush',
    );
  });

  for (const atStart of ['empty', 'with lines'] as const) {
    it(`a file ${atStart} when opened, never acknowledged, renamed while stopped: drained after a restart`, async () => {
      const dir = tempDir();
      const file = path.join(dir, 'app.log');
      const pre = atStart === 'empty' ? 0 : 100;
      writeFileSync(file, lines(0, pre));
      // The output never acknowledges (a backend that is down): nothing is committed.
      const h1 = await start([file], {}, { autoAck: false });
      appendFileSync(file, lines(pre, pre + 1000));
      await capture('cap').waitFor(pre + 1000);
      await stop(h1);
      renameSync(file, `${file}.1`);
      writeFileSync(file, lines(0, 200, 'new'));
      await start([file], {}, { dataDir: h1.dataDir });
      await capture('cap').waitFor(pre + 1200);
      await sleep(500);
      const got = messages();
      expectExactlyOnce(
        got.filter((m) => m.startsWith('line-')),
        pre + 1000,
      );
      expectExactlyOnce(
        got.filter((m) => m.startsWith('new-')),
        200,
        'new',
      );
    });
  }

  for (const atStart of ['with lines', 'shorter than fingerprint_bytes', 'empty'] as const) {
    it(`read_from: tail, a file ${atStart} that did not grow during a run: lines appended while stopped arrive once`, async () => {
      const dir = tempDir();
      const file = path.join(dir, 'app.log');
      const body =
        atStart === 'with lines'
          ? lines(0, 300, 'old')
          : atStart === 'empty'
            ? ''
            : 'old-0\nold-1\n';
      writeFileSync(file, body);
      const h1 = await start([file], { read_from: 'tail' });
      await opened(h1, 1);
      await sleep(200);
      await stop(h1);
      expect(capture('cap').records).toHaveLength(0);
      appendFileSync(file, lines(0, 500));
      await start([file], { read_from: 'tail' }, { dataDir: h1.dataDir });
      await capture('cap').waitFor(500);
      await sleep(500);
      expectExactlyOnce(messages(), 500);
    });
  }

  it('of several saved identities of one inode, the verified one that got furthest is restored', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 100));
    const h1 = await start([file]);
    await capture('cap').waitFor(100);
    await waitUntil(
      () => [...entries(h1).values()][0]?.pos.o === statSync(file).size,
      5000,
      'commit',
    );
    await stop(h1);
    // An entry of an earlier, empty identity of the same inode, saved before the real one (it
    // verifies against any content): it must not make the restart read the file again.
    const ckFile = path.join(h1.dataDir, 'checkpoints.json');
    const saved = JSON.parse(readFileSync(ckFile, 'utf8')) as {
      checkpoints: Record<string, FilePosition>;
    };
    const st = statSync(file);
    const empty = hashBytes(Buffer.alloc(0));
    saved.checkpoints = {
      [`f/${st.dev}:${st.ino}:${empty}`]: { o: 0, fp: empty, fl: 0, th: '', tl: 0, p: file },
      ...saved.checkpoints,
    };
    writeFileSync(ckFile, JSON.stringify(saved));
    appendFileSync(file, lines(100, 150));
    await start([file], {}, { dataDir: h1.dataDir });
    await capture('cap').waitFor(50);
    await sleep(300);
    expect(messages()).toEqual(lines(100, 150).trimEnd().split('\n'));
  });

  it('a file truncated while running gets a new entry at once (not the key its old identity is forgetting)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    // Opened empty: its identity is the fingerprint of zero bytes, as is the identity it gets
    // when it is found truncated to zero bytes.
    writeFileSync(file, '');
    const h1 = await start([file], { read_from: 'tail' }, { autoAck: false });
    await opened(h1, 1);
    appendFileSync(file, lines(0, 10, 'old'));
    await capture('cap').waitFor(10);
    truncateSync(file, 0);
    await waitUntil(
      async () => (await metric(h1, 'shiplog_file_truncations_total')) >= 1,
      5000,
      'truncation',
    );
    // The old identity's batches are acknowledged now: it commits, then is forgotten.
    capture('cap').release();
    await sleep(300);
    const st = statSync(file);
    const mine = [...entries(h1).values()].filter((x) => x.key.startsWith(`${st.dev}:${st.ino}:`));
    expect(mine.map((x) => x.pos.o)).toEqual([0]);
    // Lines of the new identity, never acknowledged, then a stop.
    appendFileSync(file, lines(0, 20));
    await capture('cap').waitFor(30);
    await stop(h1);
    await start([file], { read_from: 'tail' }, { dataDir: h1.dataDir });
    await capture('cap').waitFor(20);
    await sleep(300);
    expectExactlyOnce(messages(), 20);
  });
});

describe('file input: copytruncate across a kill', () => {
  /**
   * What a SIGKILL right after a checkpoint write leaves behind: a data dir holding the checkpoint
   * file as it is now. The pipeline goes on in its own dir until the test stops it.
   */
  async function killedAt(h: Harness): Promise<string> {
    await h.store.flush();
    const dataDir = tempDir();
    copyFileSync(path.join(h.dataDir, 'checkpoints.json'), path.join(dataDir, 'checkpoints.json'));
    return dataDir;
  }

  /** The input's entries in a data dir's checkpoint file, with their file names (none yet: []). */
  function saved(dataDir: string): Array<{ name: string; pos: FilePosition }> {
    let text: string;
    try {
      text = readFileSync(path.join(dataDir, 'checkpoints.json'), 'utf8');
    } catch {
      return [];
    }
    const all = (JSON.parse(text) as { checkpoints: Record<string, FilePosition> }).checkpoints;
    return Object.entries(all)
      .filter(([k]) => k.startsWith('f/'))
      .map(([, pos]) => ({ name: path.basename(pos.p), pos }));
  }

  const truncations = (h: Harness) =>
    waitUntil(
      async () => (await metric(h, 'shiplog_file_truncations_total')) >= 1,
      5000,
      'truncation',
    );

  function copytruncate(file: string, to: string): void {
    copyFileSync(file, to);
    truncateSync(file, 0);
  }

  it('opened, nothing acknowledged, copied and truncated while stopped: the copy is read from its start', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 1000));
    const h1 = await start([file], {}, { autoAck: false });
    await capture('cap').waitFor(1000);
    const data = await killedAt(h1);
    // Its entry, at the offset it started from, with a full fingerprint.
    expect(saved(data).map((e) => [e.name, e.pos.o, e.pos.fl])).toEqual([['app.log', 0, 1024]]);
    capture('cap').release();
    await stop(h1);

    copytruncate(file, `${file}.1`);
    appendFileSync(file, lines(1000, 1200));
    await start([file], {}, { dataDir: data });
    await capture('cap').waitFor(1200, 5000);
    await sleep(300);
    expectExactlyOnce(messages(), 1200);
  });

  it('opened empty, lines read but nothing acknowledged, copied and truncated while stopped: the copy is read from its start', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, '');
    // No interval write during the test: the entry must be written when its first bytes are read.
    const h1 = await startPipeline(
      { ...config([file], {}, false), service: { checkpoint_interval: '1h' } },
      {},
    );
    running.push(h1);
    await waitUntil(async () => (await metric(h1, 'shiplog_file_open_files')) >= 1, 5000, 'open');
    appendFileSync(file, lines(0, 500));
    await capture('cap').waitFor(500);
    // Identified while empty (fl 0, which any file verifies against); re-saved with the
    // fingerprint of its first bytes as soon as they were read, and written to disk at once.
    await waitUntil(
      () => saved(h1.dataDir)[0]?.pos.fl === 1024,
      3000,
      'the entry with its grown fingerprint on disk',
    );
    const data = await killedAt(h1);
    expect(saved(data).map((e) => [e.name, e.pos.o, e.pos.fl])).toEqual([['app.log', 0, 1024]]);
    capture('cap').release();
    await stop(h1);

    copytruncate(file, `${file}.1`);
    appendFileSync(file, lines(500, 600));
    await start([file], {}, { dataDir: data });
    await capture('cap').waitFor(600, 5000);
    await sleep(300);
    expectExactlyOnce(messages(), 600);
  });

  it('truncated while running with batches in flight, killed, truncated again while stopped: every line once', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 1000));
    const h1 = await start([file], {}, { autoAck: false });
    await capture('cap').waitFor(1000);
    // In one go (the input cannot read in between): 500 more lines, the copy, the truncation and
    // 100 lines of the next generation. The copy is found and read on from where the original
    // had been read to; the original's identity is retired with all of its batches in flight.
    appendFileSync(file, lines(1000, 1500));
    copytruncate(file, `${file}.1`);
    appendFileSync(file, lines(1500, 1600));
    await truncations(h1);
    await capture('cap').waitFor(1600);
    const data = await killedAt(h1);
    const entries = saved(data);
    // The retired identity at 0 (nothing acknowledged), the copy's entry past it, the new one.
    expect(entries.map((e) => e.name).sort()).toEqual(['app.log', 'app.log', 'app.log.1']);
    expect(entries.find((e) => e.name === 'app.log.1')!.pos.o).toBeGreaterThan(0);
    expect(entries.filter((e) => e.name === 'app.log').map((e) => e.pos.o)).toEqual([0, 0]);
    capture('cap').release();
    await stop(h1);

    // Copied and truncated again while stopped.
    copytruncate(file, `${file}.2`);
    appendFileSync(file, lines(1600, 1700));
    await start([file], {}, { dataDir: data });
    await capture('cap').waitFor(1700, 5000);
    await sleep(300);
    expectExactlyOnce(messages(), 1700);
  });

  it('truncated while running, killed before the copy was drained: the rest of the copy once', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.log');
    writeFileSync(file, lines(0, 1000, 'old'));
    const h1 = await start([file], {}, { autoAck: false });
    await capture('cap').waitFor(1000);
    capture('cap').release();
    const size = statSync(file).size;
    await waitUntil(() => saved(h1.dataDir)[0]?.pos.o === size, 5000, 'commit');
    appendFileSync(file, lines(0, 500));
    copytruncate(file, `${file}.1`);
    appendFileSync(file, lines(500, 600));
    await truncations(h1);
    await capture('cap').waitFor(1600);
    const data = await killedAt(h1);
    capture('cap').release();
    await stop(h1);

    await start([file], {}, { dataDir: data });
    await capture('cap').waitFor(600, 5000);
    await sleep(300);
    expectExactlyOnce(messages(), 600);
  });
});
