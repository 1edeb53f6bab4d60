// Small truths of backfill (issue #21 item 10), through the real CLI: progress of a .gz file
// counts uncompressed bytes against an uncompressed total, and --until without a time_field says
// that it compared the read time.

import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT } from './helpers/proc.js';

function backfill(cfg: string, args: string[]) {
  return spawnSync(process.execPath, [BIN, 'backfill', '-c', cfg, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 64 << 20,
  });
}

describe('backfill small truths', () => {
  const dir = tempDir();
  const lines = Array.from({ length: 20_000 }, (_, i) =>
    JSON.stringify({
      time: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`,
      msg: `line ${i}`,
    }),
  );
  const raw = lines.join('\n') + '\n';
  const gz = path.join(dir, 'app.log.1.gz');
  writeFileSync(gz, gzipSync(raw));
  const config = (filters: string) => {
    const file = path.join(dir, `c${Math.random()}.yaml`);
    writeFileSync(
      file,
      `service: { data_dir: ${dir}/data }\npipeline:\n  inputs: [{ type: file, paths: ["${dir}/*.gz"] }]\n  filters: ${filters}\n  outputs: [{ type: stdout, format: text }]\n`,
    );
    return file;
  };

  it('.gz progress: bytes_total is the uncompressed size and the last bytes_done reaches it', () => {
    const r = backfill(config('[]'), []);
    expect(r.status, r.stderr).toBe(0);
    const progress = r.stderr
      .split('\n')
      .filter((l) => l.includes('"event":"progress"'))
      .map((l) => JSON.parse(l) as { bytes_done: number; bytes_total: number });
    const last = progress.at(-1)!;
    expect(statSync(gz).size).toBeLessThan(raw.length / 3);
    expect(last.bytes_total).toBe(Buffer.byteLength(raw));
    expect(last.bytes_done).toBe(last.bytes_total);
  });

  it('--until without a time_field says it compared the read time; with one it does not', () => {
    const plain = backfill(config('[]'), ['--until', '2099-01-01']);
    expect(plain.status).toBe(0);
    expect(plain.stderr).toContain('--since/--until compared the time each line was read');
    const parsed = backfill(config('[{ type: parse_json, time_field: time }]'), [
      '--until',
      '2026-01-01T00:00:30Z',
    ]);
    expect(parsed.status).toBe(0);
    expect(parsed.stderr).not.toContain('compared the time each line was read');
    expect(parsed.stderr).toMatch(/delivered 10010 to stdout_0, .*outside the time window 9990/);
  });
});
