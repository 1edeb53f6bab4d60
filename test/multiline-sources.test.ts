// Multiline joins after journald (real journal files, built by systemd-journal-remote, read by the
// real journalctl) and stdin, each in a real shiplog process (#18): the same traces as the pods
// tree test, keyed by unit (journald) and by input (stdin); a SIGKILL in the middle of a journal
// trace. Every trace arrives as one record, every ordinary line as one, nothing lost.

import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TRACES } from './fixtures/traces.js';
import { HAVE_JOURNALCTL, JOURNAL_REMOTE, writeJournal } from './helpers/journal.js';
import { getText, runShiplog } from './helpers/proc.js';
import { LokiReceiver } from './receivers/loki.js';
import { scenarioDir, Shiplog, sleep, writeConfig } from './reliability/lib.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const norm = (s: string): string =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .join('\n');

interface Case {
  key: string;
  text: string;
}

/** Traces of every kind with a key in their first line, ordinary lines between them. */
function workload(w: string): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const kind of ['java', 'python', 'go'] as const)
    for (const t of TRACES[kind]) {
      const line = `{"w":"${w}","seq":${n++},"msg":"ordinary"}`;
      out.push({ key: `${w}:${n - 1}`, text: line });
      const lines = t.slice();
      lines[0] = `${lines[0]} {"w":"${w}","seq":${n++}}`;
      out.push({ key: `${w}:${n - 1}`, text: lines.join('\n') });
    }
  out.push({ key: `${w}:${n}`, text: `{"w":"${w}","seq":${n},"msg":"last"}` });
  return out;
}

/** Check what Loki got: every case exactly as written (blank lines aside), nothing else. */
function check(entries: Array<{ line: string }>, cases: Case[]) {
  const want = new Map(cases.map((c) => [c.key, norm(c.text)]));
  const got = new Map<string, number>();
  const bad: string[] = [];
  for (const e of entries) {
    const keys = [...e.line.matchAll(/"w":"([a-z]+)","seq":(\d+)/g)];
    if (keys.length !== 1) {
      bad.push(`${keys.length} keys: ${e.line.slice(0, 160)}`);
      continue;
    }
    const key = `${keys[0][1]}:${keys[0][2]}`;
    if (want.get(key) !== norm(e.line)) bad.push(`differs ${key}: ${e.line.slice(0, 160)}`);
    got.set(key, (got.get(key) ?? 0) + 1);
  }
  const lost = [...want.keys()].filter((k) => !got.has(k));
  return { bad, lost, got };
}

describe.skipIf(!JOURNAL_REMOTE || !HAVE_JOURNALCTL)(
  'multiline after journald (real journal)',
  () => {
    it('two units interleaved line by line, killed mid-trace: every trace one record', async () => {
      const { dir, data, logs } = scenarioDir('multiline-journal');
      const journalDir = path.join(logs, 'journal');
      mkdirSync(journalDir, { recursive: true });
      const receiver = await LokiReceiver.start();
      cleanups.push(() => receiver.close());
      const units = ['billing.service', 'orders.service'];
      const cases = units.map((u) => workload(u.startsWith('b') ? 'jb' : 'jo'));
      // Interleave the two units line by line.
      const entries: Array<Record<string, string>> = [];
      const lines = cases.map((cs) => cs.flatMap((c) => c.text.split('\n')));
      for (let i = 0; i < Math.max(...lines.map((l) => l.length)); i++)
        for (let u = 0; u < units.length; u++)
          if (i < lines[u].length)
            entries.push({
              MESSAGE: lines[u][i],
              _SYSTEMD_UNIT: units[u],
              SYSLOG_IDENTIFIER: units[u].split('.')[0],
            });
      const half = Math.floor(entries.length / 2);
      writeJournal(journalDir, 'remote', entries.slice(0, half));
      const cfg = writeConfig(dir, {
        dataDir: data,
        inputs: [
          {
            type: 'journald',
            id: 'journal',
            journal_directory: journalDir,
            read_from: 'head',
            restart_delay: '50ms',
          },
        ],
        filters: [{ type: 'multiline', parsers: ['java', 'python', 'go'], flush_timeout: '3s' }],
        lokiUrl: receiver.url,
        loki: { line_format: 'message' },
      });
      const ship = new Shiplog(cfg);
      cleanups.push(() => ship.dispose());
      await ship.start();
      await sleep(1500);
      // Killed while both units have a trace half read; the rest arrives after the restart.
      await ship.kill('SIGKILL');
      writeJournal(journalDir, 'remote', entries.slice(half));
      await ship.start();
      const all = cases.flat();
      const end = Date.now() + 30_000;
      while (Date.now() < end && check(receiver.entries, all).lost.length > 0) await sleep(200);
      expect((await ship.stop()).code).toBe(0);
      const r = check(receiver.entries, all);
      expect(r.bad).toEqual([]);
      expect(r.lost).toEqual([]);
    }, 90_000);
  },
);

describe('multiline after stdin (real process)', () => {
  it('traces piped to `shiplog run` arrive as one record each; the last is flushed at the end', async () => {
    const { dir, data } = scenarioDir('multiline-stdin');
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [{ type: 'stdin', id: 'pipe' }],
      filters: [
        {
          type: 'multiline',
          parsers: ['java', 'python', 'go', 'ruby', 'dotnet'],
          flush_timeout: '1h',
        },
      ],
      lokiUrl: receiver.url,
      loki: { line_format: 'message' },
    });
    const cases = workload('s');
    // Ruby and .NET too, and a trace as the very last lines (only shutdown can end it).
    let n = cases.length;
    for (const t of [...TRACES.ruby, ...TRACES.dotnet]) {
      const lines = t.slice();
      // Ruby's header ends with `(SomeError)`: the key goes into its message, before that.
      const at = lines[0].endsWith(')') ? lines[0].lastIndexOf(' (') : lines[0].length;
      lines[0] = `${lines[0].slice(0, at)} {"w":"s","seq":${n}}${lines[0].slice(at)}`;
      cases.push({ key: `s:${n++}`, text: lines.join('\n') });
    }
    const p = runShiplog(['run', '-c', cfg], { stdin: 'pipe' });
    cleanups.push(() => void p.child.kill('SIGKILL'));
    await p.waitForLog('shiplog started');
    for (const c of cases) {
      p.child.stdin!.write(c.text + '\n');
      await sleep(5);
    }
    // At end of input `run` delivers everything (the filter's held trace flushed at stop) and
    // exits 0 by itself; SIGTERM only if it has not within 20 s.
    p.child.stdin!.end();
    const late = setTimeout(() => p.child.kill('SIGTERM'), 20_000);
    const exit = await p.exited;
    clearTimeout(late);
    expect(exit.code, p.stderr.slice(-2000)).toBe(0);
    const r = check(receiver.entries, cases);
    expect(r.bad).toEqual([]);
    expect(r.lost).toEqual([]);
    expect([...r.got.values()].every((v) => v === 1)).toBe(true);
  }, 60_000);
});

describe('hostile multiline patterns (#17.6, real process)', () => {
  it('a catastrophic pattern and a lookaround over 64 KiB lines leave /healthz answering', async () => {
    const { dir, data, logs } = scenarioDir('multiline-hostile');
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const log = path.join(logs, 'app.log');
    // `^(\w+\s?)+$` backtracks exponentially on a word run ending in a non-word character;
    // `(?=.*x)(?=.*y)` scans the line per position without the 1 KiB cap.
    let text = '';
    const n = 200;
    for (let i = 0; i < n; i++) text += `${'a'.repeat(34)}! ${i}\n${'b '.repeat(30_000)}${i}\n`;
    writeFileSync(log, text);
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [
        {
          type: 'file',
          id: 'app',
          paths: [log],
          max_line_bytes: '128KiB',
          multiline: { start_pattern: '^(\\w+\\s?)+$', continue_pattern: '(?=.*x)(?=.*y)' },
        },
      ],
      lokiUrl: receiver.url,
      loki: { line_format: 'message' },
    });
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    await ship.start();
    let slowest = 0;
    const end = Date.now() + 60_000;
    while (Date.now() < end && receiver.entries.length < 2 * n) {
      const t0 = Date.now();
      const r = await getText(`http://${ship.http}/healthz`);
      expect(r.status).toBe(200);
      slowest = Math.max(slowest, Date.now() - t0);
      await sleep(100);
    }
    expect(receiver.entries.length).toBe(2 * n);
    expect((await ship.stop()).code).toBe(0);
    expect(slowest).toBeLessThan(2000);
  }, 90_000);
});
