// Every line shiplog writes to stderr is JSON (issue #21): Node's and dependencies' warnings
// (process.emitWarning, like the AWS SDK's multi-line Node version notice, console.warn/error)
// and start-up failures, including an error thrown before any logger exists. Real processes;
// a preload (--import) plays the dependency.

import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { BIN, ROOT, runShiplog } from './helpers/proc.js';

/** Every non-empty stderr line parsed as JSON (fails on the first that is not). */
function jsonLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`stderr line is not JSON: ${l}\n--- stderr:\n${stderr}`);
      }
    });
}

function preload(dir: string, source: string): NodeJS.ProcessEnv {
  const file = path.join(dir, 'preload.mjs');
  writeFileSync(file, source);
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(file).href}`.trim(),
  };
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('stderr is JSON lines', () => {
  it('warnings from Node and from dependencies (emitWarning, console.warn/error) while running', async () => {
    const dir = tempDir();
    // A dependency that warns when asked (SIGUSR2), the way the AWS SDK warns at client creation.
    const env = preload(
      dir,
      `process.on('SIGUSR2', () => {
  process.emitWarning('NodeVersionSupportWarning: a dependency warns\\nover several lines\\n\\nlike the AWS SDK');
  process.emitWarning('an old API', { type: 'DeprecationWarning', code: 'DEP0999', detail: 'use the new one' });
  console.warn('console %s\\nsecond line', 'warn');
  console.error(new Error('console error'));
  console.trace('traced');
});\n`,
    );
    const p = runShiplog(['run', '-c', 'conf/shiplog.yaml'], {
      env: { ...env, SHIPLOG_DATA_DIR: dir, SHIPLOG_HTTP_LISTEN: '127.0.0.1:0' },
    });
    await p.waitForLog('shiplog started');
    p.kill('SIGUSR2');
    await p.waitForLog(/^an old API/);
    await p.waitForLog(/^NodeVersionSupportWarning: a dependency warns/);
    p.kill('SIGTERM');
    const { code } = await p.exited;
    expect(code, p.stderr).toBe(0);

    const lines = jsonLines(p.stderr);
    const find = (re: RegExp) => lines.find((l) => re.test(String(l.msg)));
    expect(
      find(/^NodeVersionSupportWarning: a dependency warns\nover several lines/),
    ).toMatchObject({ level: 'warn', source: 'node-warning', warning: 'Warning' });
    expect(find(/^an old API$/)).toMatchObject({
      level: 'warn',
      warning: 'DeprecationWarning',
      code: 'DEP0999',
      detail: 'use the new one',
    });
    expect(find(/^console warn\nsecond line$/)).toMatchObject({ level: 'warn', source: 'console' });
    expect(find(/^Error: console error\n\s+at /)).toMatchObject({ level: 'error' });
    expect(find(/^Trace: traced/)).toMatchObject({ level: 'error' });
    expect(find(/^stopped$/)).toBeDefined();
  });

  it('start-up failures: invalid config (78), port in use (78), each one JSON line', async () => {
    const dir = tempDir();
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'pipeline:\n  inputs: [{type: demo, read_form: head}]\n  outputs: [{type: stdout}]\n',
    );
    const r = cli(['run', '-c', bad]);
    expect(r.status).toBe(78);
    const [invalid, ...rest] = jsonLines(r.stderr);
    expect(rest).toEqual([]);
    expect(invalid).toMatchObject({ level: 'error', msg: 'invalid config' });
    expect(String(invalid.error)).toContain(`${bad}:2:`);
    expect(String(invalid.error)).toContain('read_form');

    const server: Server = createServer();
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    try {
      const cfg = path.join(dir, 'busy.yaml');
      writeFileSync(
        cfg,
        `service:\n  data_dir: ${dir}\n  http: { listen: "127.0.0.1:${port}" }\npipeline:\n  inputs: [{type: demo}]\n  outputs: [{type: stdout}]\n`,
      );
      const b = cli(['run', '-c', cfg]);
      // The config's fault (#21): 78, naming the key, so systemd stops restarting.
      expect(b.status, b.stderr).toBe(78);
      expect(jsonLines(b.stderr).filter((l) => l.level === 'error')).toEqual([
        expect.objectContaining({
          msg: 'invalid config',
          error: expect.stringContaining('service.http.listen: cannot listen on') as unknown,
        }),
      ]);
    } finally {
      server.close();
    }
  });

  it('an error thrown before any logger exists is one JSON line, exit 1', () => {
    const dir = tempDir();
    // The CLI's first act is reading its version from package.json: make that throw.
    const env = preload(
      dir,
      `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const read = fs.readFileSync;
fs.readFileSync = (file, ...rest) => {
  if (String(file) === ${JSON.stringify(pathToFileURL(path.join(ROOT, 'package.json')).href)})
    throw new Error('cannot read package.json\\n(test)');
  return read(file, ...rest);
};
syncBuiltinESMExports();\n`,
    );
    const r = cli(['validate', '-c', 'conf/shiplog.yaml'], env);
    expect(r.status).toBe(1);
    expect(jsonLines(r.stderr)).toEqual([
      expect.objectContaining({
        level: 'error',
        msg: expect.stringMatching(/^unhandled rejection/),
        error: 'cannot read package.json\n(test)',
      }),
    ]);
  });
});
