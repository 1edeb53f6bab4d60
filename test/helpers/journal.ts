// Real journal files for tests: systemd-journal-remote builds them from journal export format,
// so no running journald is needed.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const JOURNAL_REMOTE = [
  '/lib/systemd/systemd-journal-remote',
  '/usr/lib/systemd/systemd-journal-remote',
].find((p) => existsSync(p));
export const HAVE_JOURNALCTL = spawnSync('journalctl', ['--version']).status === 0;
export const BOOT_ID = '0123456789abcdef0123456789abcdef';

export type Value = string | Buffer;
let clock = Date.now() * 1000 - 60_000_000; // µs, a minute ago, strictly increasing
let mono = 1_000_000;

/** One entry in journal export format: text fields `K=v\n`, binary `K\n<le64 size><data>\n`. */
export function exportEntry({
  _BOOT_ID: boot = BOOT_ID,
  ...fields
}: Record<string, Value>): Buffer {
  const parts: Buffer[] = [
    Buffer.from(
      `__REALTIME_TIMESTAMP=${clock++}\n__MONOTONIC_TIMESTAMP=${mono++}\n_BOOT_ID=${String(boot)}\n`,
    ),
  ];
  for (const [k, v] of Object.entries(fields)) {
    const data = typeof v === 'string' ? Buffer.from(v) : v;
    if (typeof v === 'string' && !v.includes('\n')) {
      parts.push(Buffer.from(`${k}=`), data, Buffer.from('\n'));
    } else {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(data.length));
      parts.push(Buffer.from(`${k}\n`), len, data, Buffer.from('\n'));
    }
  }
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}

/** Append entries to `<dir>/<name>.journal` (created if missing) with systemd-journal-remote. */
export function writeJournal(
  dir: string,
  name: string,
  entries: Array<Record<string, Value>>,
): void {
  const input = Buffer.concat(entries.map(exportEntry));
  execFileSync(JOURNAL_REMOTE!, [`--output=${path.join(dir, `${name}.journal`)}`, '-'], {
    input,
    stdio: ['pipe', 'ignore', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
}

export function msgs(prefix: string, from: number, to: number, extra: Record<string, Value> = {}) {
  const out: Array<Record<string, Value>> = [];
  for (let i = from; i < to; i++)
    out.push({
      MESSAGE: `${prefix} ${i}`,
      PRIORITY: String(i % 8),
      _SYSTEMD_UNIT: 'agent.service',
      _HOSTNAME: 'node-1',
      _PID: String(1000 + i),
      SYSLOG_IDENTIFIER: 'agent',
      _TRANSPORT: 'journal',
      ...extra,
    });
  return out;
}
