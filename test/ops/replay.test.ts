// `shiplog replay` end to end: a real daemon dead-letters records a Loki receiver refuses, then
// the real CLI sends them again (while the daemon runs, interrupted and rerun, refused again).

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/harness.js';
import { runShiplog, type Proc } from '../helpers/proc.js';
import { runCli } from './cli.js';
import { LokiReceiver } from '../receivers/loki.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function config(dir: string, url: string, batchBytes = '64KiB'): string {
  const file = path.join(dir, 'shiplog.yaml');
  writeFileSync(
    file,
    `service:
  data_dir: ${dir}/data
  checkpoint_interval: 100ms
  shutdown_timeout: 2s
pipeline:
  inputs:
    - type: file
      id: app
      tag: app
      paths: ["${dir}/*.log"]
      read_from: head
  filters:
    - type: parse_json
      id: json
    - type: label
      id: lbl
      from: [team]
  outputs:
    - type: loki
      id: loki
      url: ${url}
      labels: { job: replay }
      buffer: { type: memory }
      batch: { max_bytes: ${batchBytes}, max_wait: 50ms }
      retry: { initial: 50ms, max: 200ms }
`,
  );
  return file;
}

function deadLetters(dir: string): string[] {
  const f = path.join(dir, 'data/dead_letter/loki.ndjson');
  if (!existsSync(f)) return [];
  const text = readFileSync(f, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean);
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function seqs(r: LokiReceiver, kind: string): number[] {
  return r.entries
    .map((e) => JSON.parse(e.line) as { kind: string; seq: number })
    .filter((l) => l.kind === kind)
    .map((l) => l.seq);
}

describe('shiplog replay', () => {
  it('while the daemon runs: 301 dead letters arrive exactly once, with their labels and ns times; a second replay sends 0', async () => {
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    receiver.rejectWhere((e) => e.line.includes('"kind":"bad"'));
    const dir = tempDir('shiplog-replay-');
    const log = path.join(dir, 'a.log');
    let text = '';
    for (let i = 0; i < 301; i++) text += `{"kind":"bad","seq":${i},"team":"t${i % 3}"}\n`;
    for (let i = 0; i < 100; i++) text += `{"kind":"good","seq":${i},"team":"t0"}\n`;
    writeFileSync(log, text);
    const cfg = config(dir, receiver.url);
    const daemon: Proc = runShiplog(['run', '-c', cfg]);
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      await daemon.exited;
    });
    await until(() => deadLetters(dir).length === 301, 20_000, 'dead letters');
    const first = JSON.parse(deadLetters(dir)[0]) as {
      time_ns: string;
      labels: Record<string, string>;
      source_id: string;
      record: Record<string, unknown>;
    };
    expect(first.labels).toEqual({ team: 't0' });
    expect(first.time_ns).toMatch(/^\d{19}$/);
    expect(first.record).toMatchObject({ kind: 'bad', seq: 0 });
    receiver.rejectWhere(undefined);

    // The daemon keeps writing while the replay runs.
    const more = setInterval(
      () => appendFileSync(log, `{"kind":"good","seq":${Date.now()},"team":"t1"}\n`),
      20,
    );
    cleanups.push(() => clearInterval(more));
    const r = await runCli(['replay', '-c', cfg]);
    clearInterval(more);
    console.log(`[ops] replay while the daemon runs:\n${r.stdout}`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('replay loki: sent 301, dead-lettered again 0');
    const bad = seqs(receiver, 'bad');
    expect(bad).toHaveLength(301);
    expect(new Set(bad).size).toBe(301);
    // The original record: its label-filter label and its nanosecond time.
    const e0 = receiver.entries.find((e) => e.line.includes('"kind":"bad","seq":0,'))!;
    expect(e0.labels).toEqual({ job: 'replay', team: 't0' });
    expect(e0.ts.toString()).toBe(first.time_ns);

    const again = await runCli(['replay', '-c', cfg, '--json']);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ files: [], exit: 0 });
    expect(seqs(receiver, 'bad')).toHaveLength(301);
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 60_000);

  it('20k dead letters: interrupted (exit 130) and rerun, every record once, none twice', async () => {
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    receiver.rejectWhere(() => true);
    const dir = tempDir('shiplog-replay-int-');
    let text = '';
    for (let i = 0; i < 20_000; i++) text += `{"kind":"bad","seq":${i},"team":"t${i % 2}"}\n`;
    writeFileSync(path.join(dir, 'a.log'), text);
    const cfg = config(dir, receiver.url, '4KiB');
    const daemon: Proc = runShiplog(['run', '-c', cfg]);
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      await daemon.exited;
    });
    await until(() => deadLetters(dir).length === 20_000, 60_000, 'dead letters');
    daemon.kill('SIGTERM');
    await daemon.exited;
    receiver.rejectWhere(undefined);

    // Interrupt once a few thousand arrived.
    const r1 = await runCli(['replay', '-c', cfg], {
      onStart: (child) => {
        void receiver.waitFor(3000, 60_000).then(() => child.kill('SIGINT'));
      },
    });
    expect(r1.status, r1.stderr).toBe(130);
    expect(r1.stdout).toContain('interrupted');
    const part = seqs(receiver, 'bad').length;
    console.log(`[ops] replay interrupted after ${part} of 20000:\n${r1.stdout}`);
    expect(part).toBeGreaterThanOrEqual(3000);
    expect(part).toBeLessThan(20_000);
    expect(existsSync(path.join(dir, 'data/dead_letter/loki.replay'))).toBe(true);

    const r2 = await runCli(['replay', '-c', cfg]);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(/resumed at byte \d+/);
    const all = seqs(receiver, 'bad');
    console.log(`[ops] rerun:\n${r2.stdout}received ${all.length}, unique ${new Set(all).size}`);
    expect(new Set(all).size).toBe(20_000);
    expect(all).toHaveLength(20_000);
    expect(existsSync(path.join(dir, 'data/dead_letter/loki.replay'))).toBe(false);
  }, 120_000);

  it('records refused again: exit 3, kept in a new dead-letter file; --dry-run and --since count without sending', async () => {
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    receiver.rejectWhere((e) => e.line.includes('"kind":"bad"'));
    const dir = tempDir('shiplog-replay-again-');
    let text = '';
    for (let i = 0; i < 50; i++) text += `{"kind":"bad","seq":${i},"team":"t"}\n`;
    writeFileSync(path.join(dir, 'a.log'), text);
    const cfg = config(dir, receiver.url);
    const daemon: Proc = runShiplog(['run', '-c', cfg]);
    cleanups.push(async () => {
      daemon.kill('SIGKILL');
      await daemon.exited;
    });
    await until(() => deadLetters(dir).length === 50, 20_000, 'dead letters');
    daemon.kill('SIGTERM');
    await daemon.exited;

    console.log(`[ops] dry run:\n${(await runCli(['replay', '-c', cfg, '--dry-run'])).stdout}`);
    const dry = await runCli(['replay', '-c', cfg, '--dry-run', '--json']);
    expect(dry.status, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      files: Array<{ records: number; reasons: unknown[] }>;
    };
    expect(plan.files[0].records).toBe(50);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await runCli(['replay', '-c', cfg, '--since', future, '--json']);
    expect(none.status, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout).files[0]).toMatchObject({ sent: 0, kept: 50 });
    expect(deadLetters(dir)).toHaveLength(50);

    const r = await runCli(['replay', '-c', cfg]);
    console.log(`[ops] refused again:\n${r.stdout}${r.stderr}`);
    expect(r.status, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toContain('sent 0, dead-lettered again 50');
    expect(deadLetters(dir)).toHaveLength(50);
    expect(receiver.entries).toHaveLength(0);

    const usage = await runCli(['replay', '-c', cfg, '--to', 'nope']);
    expect(usage.status).toBe(2);
  }, 60_000);
});
