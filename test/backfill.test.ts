// `shiplog backfill` end to end: real files (one gzipped), a real process, a Loki receiver.

import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT } from './helpers/proc.js';
import { LokiReceiver } from './receivers/loki.js';

let receiver: LokiReceiver | undefined;

/** Run a command without blocking the event loop (the receiver lives in this process). */
function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function lines(prefix: string, n: number): string {
  const now = new Date().toISOString();
  let s = '';
  for (let i = 0; i < n; i++) s += `{"timestamp":"${now}","level":"info","msg":"${prefix} ${i}"}\n`;
  return s;
}

function setup(perFile: number) {
  const dir = tempDir('shiplog-backfill-');
  writeFileSync(path.join(dir, 'a.log'), lines('a', perFile));
  writeFileSync(path.join(dir, 'b.log'), lines('b', perFile));
  writeFileSync(path.join(dir, 'a.log.1.gz'), gzipSync(lines('old', perFile)));
  return dir;
}

function config(dir: string, url: string): string {
  const file = path.join(dir, 'shiplog.yaml');
  writeFileSync(
    file,
    `service:\n  data_dir: ${dir}/data\n  checkpoint_interval: 100ms\n  shutdown_timeout: 2s\npipeline:\n  inputs:\n    - type: file\n      id: logs\n      paths: ["${dir}/*.log*"]\n  outputs:\n    - type: loki\n      id: loki\n      url: ${url}\n      labels: { job: backfill }\n      batch: { max_bytes: 64KiB, max_wait: 100ms }\n      retry: { initial: 50ms, max: 200ms }\n`,
  );
  return file;
}

function msgs(r: LokiReceiver): string[] {
  return r.lines().map((l) => (JSON.parse(l) as { message: string }).message);
}

describe('shiplog backfill', () => {
  it('reads 3 files (one gzipped) to the end, exits 0, every line delivered once; JSON progress off a TTY', async () => {
    receiver = await LokiReceiver.start();
    const dir = setup(3000);
    const r = await run(process.execPath, [BIN, 'backfill', '-c', config(dir, receiver.url)]);
    expect(r.status, r.stderr).toBe(0);
    const got = msgs(receiver);
    expect(got).toHaveLength(9000);
    expect(new Set(got).size).toBe(9000);
    expect(r.stderr).toMatch(/"event":"progress"/);
    expect(r.stderr).toContain(
      'backfill done: read 9000, delivered 9000 to loki, dead-lettered 0, dropped 0',
    );
    // A finished backfill leaves no checkpoint behind.
    expect(existsSync(path.join(dir, 'data/backfill/checkpoints.json'))).toBe(false);
  });

  it('exits 3 and says what was dead-lettered when Loki rejects records', async () => {
    receiver = await LokiReceiver.start();
    receiver.rejectWhere((e) => e.line.includes('b 17\\"') || e.line.includes('b 18\\"'));
    const dir = setup(200);
    const r = await run(process.execPath, [BIN, 'backfill', '-c', config(dir, receiver.url)]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/dead-lettered [1-9]/);
    expect(r.stderr).toContain('dead_letter');
  });

  it('resumes after SIGINT: the rerun delivers the rest, and the total is exact', async () => {
    receiver = await LokiReceiver.start();
    const dir = setup(40_000);
    const cfg = config(dir, receiver.url);
    const first = spawn(process.execPath, [BIN, 'backfill', '-c', cfg], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    first.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Let part of it through, then make Loki fail so the rest is stuck in retries when we interrupt.
    await receiver.waitFor(5000, 20_000);
    receiver.setMode({ status: 503 });
    await new Promise((r) => setTimeout(r, 300));
    first.kill('SIGINT');
    const code = await new Promise<number | null>((r) => first.once('exit', (c) => r(c)));
    expect(code, err).toBe(130);
    expect(err).toContain('backfill interrupted');
    const firstCount = msgs(receiver).length;
    expect(firstCount).toBeLessThan(120_000);
    receiver.setMode(undefined);
    const second = await run(process.execPath, [BIN, 'backfill', '-c', cfg]);
    expect(second.status, second.stderr).toBe(0);
    const all = msgs(receiver);
    const unique = new Set(all);
    expect(unique.size).toBe(120_000); // nothing lost
    // Duplicates only from what was in flight at the interrupt (acked by Loki, not yet committed).
    expect(all.length - unique.size).toBeLessThan(20_000);
  }, 90_000);

  it('a second backfill on the same data_dir exits 78 naming the first; after it, the lock is gone', async () => {
    receiver = await LokiReceiver.start();
    receiver.setMode({ status: 503 }); // the first one stays in retries
    const dir = setup(500);
    const cfg = config(dir, receiver.url);
    const first = spawn(process.execPath, [BIN, 'backfill', '-c', cfg], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const lockFile = path.join(dir, 'data/backfill/shiplog.lock');
    const t0 = Date.now();
    while (!existsSync(lockFile) && Date.now() - t0 < 20_000)
      await new Promise((r) => setTimeout(r, 50));
    const second = await run(process.execPath, [BIN, 'backfill', '-c', cfg]);
    expect(second.status, second.stderr).toBe(78);
    expect(second.stderr).toContain(`in use by another shiplog process (pid ${first.pid}`);
    first.kill('SIGINT');
    expect(await new Promise((r) => first.once('exit', (c) => r(c)))).toBe(130);
    expect(existsSync(lockFile)).toBe(false);
    receiver.setMode(undefined);
    const third = await run(process.execPath, [BIN, 'backfill', '-c', cfg]);
    expect(third.status, third.stderr).toBe(0);
    expect(new Set(msgs(receiver)).size).toBe(1500);
  }, 60_000);

  it('resumes a .gz file through zlib from its checkpoint (never reads it as a plain file)', async () => {
    receiver = await LokiReceiver.start();
    const dir = tempDir('shiplog-backfill-');
    writeFileSync(path.join(dir, 'app.log.1.gz'), gzipSync(lines('gz', 60_000)));
    const cfg = config(dir, receiver.url);
    const first = spawn(process.execPath, [BIN, 'backfill', '-c', cfg], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    await receiver.waitFor(5000, 20_000);
    receiver.setMode({ status: 503 });
    await new Promise((r) => setTimeout(r, 300));
    first.kill('SIGINT');
    expect(await new Promise((r) => first.once('exit', (c) => r(c)))).toBe(130);
    const firstCount = receiver.lines().length;
    expect(firstCount).toBeLessThan(60_000);
    receiver.setMode(undefined);
    const second = await run(process.execPath, [BIN, 'backfill', '-c', cfg]);
    expect(second.status, second.stderr).toBe(0);
    // Every line is one of ours (compressed bytes read as text would not parse), none missing.
    const all = msgs(receiver);
    const unique = new Set(all.map((m) => (JSON.parse(m) as { msg: string }).msg));
    expect(unique.size).toBe(60_000);
    // The rerun started from the checkpoint, not from the top.
    expect(all.length).toBeLessThan(60_000 + firstCount);
  }, 90_000);

  it('renders a progress bar on a real pseudo-terminal', async () => {
    const hasScript = spawnSync('script', ['--version']).status === 0;
    if (!hasScript) return expect.fail('util-linux `script` is required for the pty test');
    receiver = await LokiReceiver.start();
    const dir = setup(20_000);
    const cfg = config(dir, receiver.url);
    const cmd = `${process.execPath} ${BIN} backfill -c ${cfg}`;
    const r = await run('script', ['-qec', cmd, '/dev/null'], { COLUMNS: '120' });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/[█░]{30}\s+100\.0%/);
    expect(r.stdout).toMatch(/lines\/s\s+ETA/);
    expect(r.stdout).not.toContain('"event":"progress"');
  });

  it('--dry-run lists the files and sizes without sending', async () => {
    receiver = await LokiReceiver.start();
    const dir = setup(10);
    const r = await run(process.execPath, [
      BIN,
      'backfill',
      '-c',
      config(dir, receiver.url),
      '--dry-run',
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('a.log.1.gz');
    expect(r.stdout).toContain('3 file(s)');
    expect(receiver.stats.requests).toBe(0);
  });
});
