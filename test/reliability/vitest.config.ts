// `npm run test:reliability`: the whole reliability suite at full size (SHIPLOG_LONG_TESTS=1),
// one file at a time so the numbers are not skewed by other scenarios on the same cores, and the
// results table written to test/reliability/results.md at the end (see global-setup.ts).
// The CI-sized subset runs in the default `vitest run` (these files match test/**/*.test.ts).

import * as os from 'node:os';
import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

const ROWS = path.join(os.tmpdir(), 'shiplog-reliability-rows.ndjson');

export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/reliability/global-setup.ts'],
    env: { SHIPLOG_LONG_TESTS: '1', SHIPLOG_RELIABILITY_ROWS: ROWS },
    testTimeout: 600_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
