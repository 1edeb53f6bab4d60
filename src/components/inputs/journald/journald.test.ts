// The journald input against the real journalctl, reading real journal files that
// systemd-journal-remote builds from journal export format: no running journald needed.

import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, startPipeline, tempDir, type Harness } from '../../../../test/helpers/harness.js';
import {
  BOOT_ID,
  HAVE_JOURNALCTL,
  JOURNAL_REMOTE,
  msgs,
  writeJournal,
} from '../../../../test/helpers/journal.js';
import { runShiplog, type Proc } from '../../../../test/helpers/proc.js';

let seq = 0;
const running: Harness[] = [];
const procs: Proc[] = [];

async function start(
  journalDir: string,
  opts: Record<string, unknown> = {},
  h: {
    dataDir?: string;
    autoAck?: boolean;
    oneShot?: boolean;
    buffer?: Record<string, unknown>;
  } = {},
) {
  const capId = `cap_j${seq++}`;
  const harness = await startPipeline(
    {
      pipeline: {
        inputs: [
          {
            type: 'journald',
            id: 'journal',
            journal_directory: journalDir,
            read_from: 'head',
            restart_delay: '50ms',
            ...opts,
          },
        ],
        outputs: [
          {
            type: 'capture',
            id: capId,
            auto_ack: h.autoAck ?? true,
            ...(h.buffer ? { buffer: h.buffer } : {}),
          },
        ],
      },
    },
    { dataDir: h.dataDir, oneShot: h.oneShot },
  );
  running.push(harness);
  return { harness, cap: capture(capId) };
}

async function stopAll(): Promise<void> {
  for (const h of running.splice(0)) await h.stop();
}

const messages = (cap: ReturnType<typeof capture>): string[] =>
  cap.records.map((r) => r.record.fields.message as string);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  await stopAll();
});

describe.skipIf(!JOURNAL_REMOTE || !HAVE_JOURNALCTL)('journald input (real journalctl)', () => {
  it('delivers every entry with mapped fields', async () => {
    const dir = tempDir('shiplog-journal-');
    writeJournal(dir, 'a', msgs('hello', 0, 200));
    const { cap } = await start(dir);
    await cap.waitFor(200);
    await sleep(200);
    expect(messages(cap)).toEqual(Array.from({ length: 200 }, (_, i) => `hello ${i}`));
    const r = cap.records[3].record;
    expect(r.fields).toMatchObject({
      message: 'hello 3',
      level: 'err',
      unit: 'agent.service',
      hostname: 'node-1',
      pid: 1003,
      syslog_identifier: 'agent',
      journal: { _TRANSPORT: 'journal', _BOOT_ID: BOOT_ID },
    });
    expect((r.fields.journal as Record<string, unknown>).__CURSOR).toBeUndefined();
    expect(r.sourceId).toMatch(/^journald:s=[0-9a-f]+;i=4;/);
    expect(Math.abs(r.timeMs - Date.now())).toBeLessThan(120_000);
    expect(r.timeNs % 1000).toBe(0);
    expect(cap.records[4].record.timeMs * 1e6 + cap.records[4].record.timeNs).toBe(
      r.timeMs * 1e6 + r.timeNs + 1000,
    );
    expect(cap.records.every((x) => x.tag === 'journal')).toBe(true);
  });

  it('follows: entries appended to a journal file and in a new file arrive', async () => {
    const dir = tempDir('shiplog-journal-');
    writeJournal(dir, 'a', msgs('first', 0, 5));
    const { cap } = await start(dir);
    await cap.waitFor(5);
    writeJournal(dir, 'a', msgs('appended', 0, 5));
    await cap.waitFor(10);
    writeJournal(dir, 'b', msgs('newfile', 0, 5));
    await cap.waitFor(15);
    await sleep(300);
    expect(messages(cap)).toEqual([
      ...msgs('first', 0, 5).map((m) => m.MESSAGE),
      ...msgs('appended', 0, 5).map((m) => m.MESSAGE),
      ...msgs('newfile', 0, 5).map((m) => m.MESSAGE),
    ]);
  });

  it('starts in an empty directory and picks up the first journal file', async () => {
    const dir = tempDir('shiplog-journal-');
    const { cap } = await start(dir, { read_from: 'tail' });
    await sleep(300);
    writeJournal(dir, 'a', msgs('late', 0, 3));
    await cap.waitFor(3);
    expect(messages(cap)).toEqual(['late 0', 'late 1', 'late 2']);
  });

  it('resumes after the committed cursor on restart: no loss, no repeats', async () => {
    const dir = tempDir('shiplog-journal-');
    const dataDir = tempDir();
    writeJournal(dir, 'a', msgs('one', 0, 30));
    const first = await start(dir, {}, { dataDir });
    await first.cap.waitFor(30);
    await stopAll();
    const saved = JSON.parse(readFileSync(path.join(dataDir, 'checkpoints.json'), 'utf8')) as {
      checkpoints: Record<string, string>;
    };
    expect(saved.checkpoints['journal/cursor']).toMatch(/;i=1e;/); // seqnum 30, hex;

    writeJournal(dir, 'a', msgs('two', 0, 10)); // written while shiplog was down
    const second = await start(dir, {}, { dataDir });
    await second.cap.waitFor(10);
    writeJournal(dir, 'a', msgs('three', 0, 2));
    await second.cap.waitFor(12);
    await sleep(300);
    expect(messages(second.cap)).toEqual([
      ...msgs('two', 0, 10).map((m) => m.MESSAGE),
      'three 0',
      'three 1',
    ]);
  });

  it('commits only acknowledged entries: unacknowledged ones are read again', async () => {
    const dir = tempDir('shiplog-journal-');
    const dataDir = tempDir();
    writeJournal(dir, 'a', msgs('x', 0, 20));
    const first = await start(dir, {}, { dataDir, autoAck: false });
    await first.cap.waitFor(20);
    const firstBatch = first.cap.held[0].records.length;
    first.cap.release(1);
    await stopAll();
    const second = await start(dir, {}, { dataDir });
    await second.cap.waitFor(20 - firstBatch);
    await sleep(300);
    expect(messages(second.cap)).toEqual(msgs('x', firstBatch, 20).map((m) => m.MESSAGE));
  });

  it('falls back to read_from when journalctl rejects the saved cursor', async () => {
    const dir = tempDir('shiplog-journal-');
    const dataDir = tempDir();
    writeFileSync(
      path.join(dataDir, 'checkpoints.json'),
      JSON.stringify({ version: 1, checkpoints: { 'journal/cursor': 'not-a-cursor' } }),
    );
    writeJournal(dir, 'a', msgs('c', 0, 5));
    const { cap } = await start(dir, {}, { dataDir });
    await cap.waitFor(5);
    expect(messages(cap)).toEqual(msgs('c', 0, 5).map((m) => m.MESSAGE));
  });

  it('read_from tail skips stored entries and anchors a cursor at once', async () => {
    const dir = tempDir('shiplog-journal-');
    const dataDir = tempDir();
    writeJournal(dir, 'a', msgs('old', 0, 10));
    const first = await start(dir, { read_from: 'tail' }, { dataDir });
    await sleep(300);
    await stopAll();
    expect(first.cap.records).toHaveLength(0);
    // Written while shiplog was down, before it ever saw an entry: still delivered.
    writeJournal(dir, 'a', msgs('new', 0, 3));
    const second = await start(dir, { read_from: 'tail' }, { dataDir });
    await second.cap.waitFor(3);
    expect(messages(second.cap)).toEqual(['new 0', 'new 1', 'new 2']);
  });

  it('reads entries of earlier boots too (journalctl -f alone would skip them)', async () => {
    const dir = tempDir('shiplog-journal-');
    writeJournal(dir, 'a', [
      ...msgs('boot1', 0, 3),
      ...msgs('boot2', 0, 3, { _BOOT_ID: 'fedcba9876543210fedcba9876543210' }),
    ]);
    const { cap } = await start(dir);
    await cap.waitFor(6);
    expect(messages(cap)).toEqual([
      ...msgs('boot1', 0, 3).map((m) => m.MESSAGE),
      ...msgs('boot2', 0, 3).map((m) => m.MESSAGE),
    ]);
  });

  it('binary values and fields over 4096 bytes arrive intact; over max_field_bytes cut and flagged', async () => {
    const dir = tempDir('shiplog-journal-');
    const big = 'B'.repeat(10_000) + 'end';
    const bin = Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x80, 0x41, 0x0a]);
    const multiline = 'first line\nsecond line ✓';
    writeJournal(dir, 'a', [
      { MESSAGE: big, BIG_FIELD: 'f'.repeat(70_000) },
      { MESSAGE: bin, BLOB: bin },
      { MESSAGE: multiline },
    ]);
    const { cap } = await start(dir);
    await cap.waitFor(3);
    const [a, b, c] = cap.records.map((r) => r.record.fields);
    expect(a.message).toBe(big);
    // 70,000 bytes > max_field_bytes (64 KiB): cut there and named in journal_truncated.
    expect((a.journal as Record<string, unknown>).BIG_FIELD).toBe('f'.repeat(64 * 1024));
    expect(a.journal_truncated).toEqual(['BIG_FIELD']);
    expect(b.message_binary).toBe(true);
    expect(Buffer.from(b.message as string, 'base64').equals(bin)).toBe(true);
    expect((b.journal as Record<string, unknown>).BLOB).toBe(bin.toString('base64'));
    expect(b.journal_binary).toEqual(['BLOB']);
    expect(c.message).toBe(multiline);
    expect(c.message_binary).toBeUndefined();
  });

  it('selects entries by unit, excluded unit, match and priority', async () => {
    const dir = tempDir('shiplog-journal-');
    const entries = [
      ...msgs('api', 0, 4, { _SYSTEMD_UNIT: 'api.service' }),
      ...msgs('redis', 0, 4, { _SYSTEMD_UNIT: 'redis.service' }),
      ...msgs('cron', 0, 4, { _SYSTEMD_UNIT: 'cron.service' }),
      ...msgs('redis-stderr', 0, 8, { _SYSTEMD_UNIT: 'redis.service', _TRANSPORT: 'stdout' }),
    ];
    writeJournal(dir, 'a', entries);
    const inc = await start(dir, { units: ['api', 'redis.service'] });
    const exc = await start(dir, { exclude_units: ['redis', 'api.service'] });
    const match = await start(dir, {
      units: ['redis'],
      matches: { _TRANSPORT: 'stdout' },
      priority: 'err', // 0..3
    });
    await inc.cap.waitFor(16);
    await exc.cap.waitFor(4);
    await match.cap.waitFor(4); // redis-stderr 0..3 have PRIORITY 0..3
    await sleep(400);
    expect(messages(inc.cap).sort()).toEqual(
      [...msgs('api', 0, 4), ...msgs('redis', 0, 4), ...msgs('redis-stderr', 0, 8)]
        .map((m) => m.MESSAGE as string)
        .sort(),
    );
    expect(messages(exc.cap)).toEqual(msgs('cron', 0, 4).map((m) => m.MESSAGE));
    expect(messages(match.cap)).toEqual(msgs('redis-stderr', 0, 4).map((m) => m.MESSAGE));
  });

  it('pauses journalctl under backpressure and loses nothing', async () => {
    const dir = tempDir('shiplog-journal-');
    writeJournal(dir, 'a', msgs('bp', 0, 3000, { FILLER: 'z'.repeat(400) }));
    const { cap } = await start(dir, {}, { autoAck: false, buffer: { max_bytes: '64KiB' } });
    await cap.waitFor(1);
    await sleep(500);
    // Held: one batch fills the 64 KiB buffer; the input waits instead of reading on.
    const heldWhileFull = cap.records.length;
    expect(heldWhileFull).toBeLessThan(3000);
    for (let i = 0; i < 400 && cap.records.length < 3000; i++) {
      cap.release();
      await sleep(10);
    }
    cap.release();
    await cap.waitFor(3000);
    expect(new Set(messages(cap)).size).toBe(3000);
    expect(messages(cap)[2999]).toBe('bp 2999');
  });

  it('stops promptly while blocked by backpressure', async () => {
    const dir = tempDir('shiplog-journal-');
    writeJournal(dir, 'a', msgs('held', 0, 2000, { FILLER: 'z'.repeat(400) }));
    const { harness, cap } = await start(
      dir,
      {},
      { autoAck: false, buffer: { max_bytes: '64KiB' } },
    );
    await cap.waitFor(1);
    await sleep(200);
    const t0 = Date.now();
    await harness.stop();
    running.splice(running.indexOf(harness), 1);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(cap.records.length).toBeLessThan(2000);
  });

  it('respawns journalctl after it dies, from the last emitted cursor, without duplicates', async () => {
    const dir = tempDir('shiplog-journal-');
    writeJournal(dir, 'a', msgs('r', 0, 50));
    // A journalctl that dies after printing 10 lines for its first three runs (a partial line
    // included), then behaves.
    const bin = path.join(dir, 'flaky-journalctl');
    const counter = path.join(dir, 'runs');
    writeFileSync(
      bin,
      `#!/bin/sh
[ "$1" = "--version" ] && exec journalctl --version
n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}
if [ $n -le 3 ]; then journalctl "$@" | head -c 3000; echo 'broken' >&2; exit 1; fi
exec journalctl "$@"
`,
    );
    chmodSync(bin, 0o755);
    // Acks held: a respawn from the committed cursor (none yet) would read everything again.
    const { cap } = await start(dir, { journalctl_path: bin }, { autoAck: false });
    await cap.waitFor(50);
    await sleep(300);
    expect(messages(cap)).toEqual(msgs('r', 0, 50).map((m) => m.MESSAGE));
    expect(Number(readFileSync(counter, 'utf8'))).toBe(4);
  });

  it('reports repeated failures on health and keeps retrying', async () => {
    const dir = tempDir('shiplog-journal-');
    const bin = path.join(dir, 'broken-journalctl');
    writeFileSync(
      bin,
      `#!/bin/sh\n[ "$1" = "--version" ] && exit 0\necho "Failed to open journal: boom" >&2; exit 1\n`,
    );
    chmodSync(bin, 0o755);
    const { harness } = await start(dir, { journalctl_path: bin, read_from: 'head' });
    let problems: string[] = [];
    for (let i = 0; i < 100; i++) {
      problems = harness.pipeline.problems();
      if (problems.length > 0) break;
      await sleep(50);
    }
    expect(problems.join('\n')).toMatch(
      /journal: journalctl failed \d+ times in a row: exit code 1: Failed to open journal: boom/,
    );
  });

  it('fails at start with a clear error when journalctl is missing', async () => {
    const dir = tempDir('shiplog-journal-');
    await expect(
      start(dir, { journalctl_path: path.join(dir, 'no-such-journalctl') }),
    ).rejects.toThrow(/cannot run journalctl_path ".*no-such-journalctl" \(not found\)/);
  });

  it('one-shot (backfill) reads to the end and drains', async () => {
    const dir = tempDir('shiplog-journal-');
    writeJournal(dir, 'a', msgs('bf', 0, 100));
    const { harness, cap } = await start(dir, { read_from: 'tail' }, { oneShot: true });
    await harness.pipeline.drained();
    expect(messages(cap)).toEqual(msgs('bf', 0, 100).map((m) => m.MESSAGE));
  });

  it('SIGKILL of shiplog then restart loses nothing', async () => {
    const dist = path.resolve(
      import.meta.dirname,
      '../../../../dist/components/inputs/journald/index.js',
    );
    if (!existsSync(dist)) throw new Error('run `npx tsc -p tsconfig.build.json` first');
    const dir = tempDir('shiplog-journal-');
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    writeJournal(dir, 'a', msgs('k', 0, 500));
    const cfg = path.join(dataDir, 'shiplog.yaml');
    writeFileSync(
      cfg,
      [
        'service:',
        `  data_dir: ${dataDir}`,
        '  checkpoint_interval: 100ms',
        'pipeline:',
        '  inputs:',
        `    - { type: journald, id: journal, journal_directory: "${dir}", read_from: head }`,
        '  outputs:',
        '    - { type: stdout, format: json }',
      ].join('\n'),
    );
    const seen = (p: Proc): string[] =>
      p.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { message: string }).message);
    const p1 = runShiplog(['run', '-c', cfg]);
    procs.push(p1);
    for (let i = 0; i < 200 && seen(p1).length < 500; i++) await sleep(50);
    expect(seen(p1)).toHaveLength(500);
    await sleep(400); // a checkpoint write
    writeJournal(dir, 'a', msgs('k', 500, 600));
    for (let i = 0; i < 200 && seen(p1).length < 600; i++) await sleep(20);
    p1.kill('SIGKILL');
    await p1.exited;
    writeJournal(dir, 'a', msgs('k', 600, 700));
    const p2 = runShiplog(['run', '-c', cfg]);
    procs.push(p2);
    for (let i = 0; i < 200 && !seen(p2).includes('k 699'); i++) await sleep(50);
    const all = new Set([...seen(p1), ...seen(p2)]);
    expect(all.size).toBe(700);
    // Duplicates are limited to what was not yet checkpointed.
    expect(seen(p2).length).toBeLessThanOrEqual(200);
    expect(seen(p2)).toContain('k 699');
    p2.kill('SIGTERM');
    await p2.exited;
  });
});
