// Collects the rows every scenario reports (lib.ts report()) into test/reliability/results.md
// when the suite runs under test/reliability/vitest.config.ts.

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROWS = path.join(os.tmpdir(), 'shiplog-reliability-rows.ndjson');
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results.md');

interface Row {
  scenario: string;
  written: number;
  delivered: number;
  lost: number;
  duplicated: number;
  peakRssMiB: number;
  note?: string;
  long: boolean;
}

export default function setup(): () => Promise<void> {
  rmSync(ROWS, { force: true });
  const started = new Date();
  return async () => {
    if (!existsSync(ROWS)) return;
    const rows = readFileSync(ROWS, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Row);
    if (rows.length === 0) return;
    const cell = (s: string): string => s.replace(/\|/g, '\\|');
    const lines = [
      '# Reliability suite: results',
      '',
      `Run of \`npm run test:reliability\` (full size, SHIPLOG_LONG_TESTS=1) on ${started.toISOString().slice(0, 10)}:`,
      `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}. ` +
        'Written = lines the writers appended (or sentinel lines for bad input); delivered = distinct ' +
        'lines Loki stored (or, for the partial 400, stored or dead-lettered); duplicated = extra ' +
        'copies; peak RSS of the shiplog process. Scenarios gated as known bugs are not included ' +
        'unless SHIPLOG_KNOWN_BUGS=1 was set.',
      '',
      'Also in the suite, not line-counted: the bad config corpus (`bad-configs/`, each case exits 78 ' +
        'with its exact message) and the fast-check properties in `fuzz.test.ts`.',
      '',
      '| scenario | written | delivered | lost | duplicated | peak RSS MB | notes |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
      ...rows.map(
        (r) =>
          `| ${cell(r.scenario)} | ${r.written} | ${r.delivered} | ${r.lost} | ${r.duplicated} | ${r.peakRssMiB.toFixed(1)} | ${cell(r.note ?? '')} |`,
      ),
      '',
    ];
    // Formatted as `prettier --check .` expects (the file is committed).
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(OUT)) ?? {};
    writeFileSync(OUT, await prettier.format(lines.join('\n'), { ...options, filepath: OUT }));
    rmSync(ROWS, { force: true });
  };
}
