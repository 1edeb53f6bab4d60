// Bad config corpus: every `bad-configs/NN-name.cfg` (YAML; the extension keeps the formatter
// away from the deliberately broken ones) must make `shiplog validate` exit 78 with exactly the
// text in `NN-name.expected` on stderr (`<config>` stands for the config's path) and nothing on
// stdout. A changed message is a deliberate decision: update the .expected file with it.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/proc.js';

const CORPUS = path.join(ROOT, 'test/reliability/bad-configs');
const cases = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.cfg'))
  .sort();

function validate(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.SHIPLOG_TEST_UNSET_LOKI_URL; // 09-unset-env
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'validate', '-c', file], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bad config corpus', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  // Concurrent: each case is a separate node process start (~0.5 s).
  describe.concurrent('shiplog validate', () => {
    for (const c of cases) {
      it(`${c}: exit 78 with the expected message`, async () => {
        const file = path.join(CORPUS, c);
        const expected = readFileSync(file.replace(/\.cfg$/, '.expected'), 'utf8');
        const r = await validate(file);
        expect(r.stderr.split(file).join('<config>')).toBe(expected);
        expect(r.code).toBe(78);
        expect(r.stdout).toBe('');
      }, 30_000);
    }
  });
});

// Was a bug: errors raised by component factories after the schema passed (12, 17, 18) lost
// file, line, column and key path; the pipeline now locates them. Kept as a regression test.
describe('bad config corpus: factory errors are located', () => {
  for (const [c, keyPath] of [
    ['12-bad-regex.cfg', 'pipeline.filters[0].include'],
    ['17-multiline-backreference.cfg', 'pipeline.inputs[0].multiline'],
    ['18-loki-basic-and-bearer.cfg', 'pipeline.outputs[0].auth'],
  ] as const) {
    it(`${c}: names file, line, column and key path`, async () => {
      const file = path.join(CORPUS, c);
      const r = await validate(file);
      expect(r.code).toBe(78);
      const msg = r.stderr.split(file).join('<config>');
      expect(msg).toMatch(/<config>:\d+:\d+: /);
      expect(msg).toContain(keyPath);
    }, 30_000);
  }
});
