// The single-file bundle (npm run bundle → dist/shiplog.mjs), used the way it is installed: from a
// directory holding only the bundle and its native addon, through a symlink; it serves the
// probe and HEALTHCHECK targets the manifests and the Dockerfile name, and exits 0 on SIGTERM;
// copied without node_modules it still runs and names the missing addon.

import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { ROOT, getText } from './helpers/proc.js';
import {
  daemonSetProbes,
  dockerHealthcheck,
  install,
  installBundle,
  PKG,
  shiplog,
} from './helpers/deploy.js';

beforeAll(() => installBundle({ rebuild: true }), 150_000);

describe('bundle (npm run bundle → dist/shiplog.mjs)', () => {
  it('runs from a directory with only the bundle and its native addon, through a symlink', () => {
    expect(PKG.scripts.bundle).toContain('packaging/bundle.mjs');
    const v = shiplog(['--version']);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe(PKG.version);
    const ok = shiplog([
      'validate',
      '--config-only',
      '-c',
      path.join(ROOT, 'conf', 'shiplog.yaml'),
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const bad = path.join(install.dir, 'bad.yaml');
    writeFileSync(
      bad,
      'pipeline:\n  inputs: [{type: demo, read_form: head}]\n  outputs: [{type: stdout}]\n',
    );
    const r = shiplog(['validate', '--config-only', '-c', bad]);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('read_form');
  });

  // Without the addon next to it: --version runs, a protobuf loki output fails at start naming
  // the addon (it does not reach into the repo): 'bundle without node_modules' below (#21 item 9).

  it('serves /healthz, /readyz and /metrics (probe and HEALTHCHECK targets) and exits 0 on SIGTERM', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'logs'));
    const cfg = path.join(dir, 'smoke.yaml');
    writeFileSync(
      cfg,
      [
        'service:',
        `  data_dir: ${path.join(dir, 'data')}`,
        '  http: { listen: 127.0.0.1:0 }',
        '  shutdown_timeout: 5s',
        'pipeline:',
        '  inputs:',
        '    - { type: demo, id: demo, tag: agents, rate: 0, count: 50 }',
        `    - { type: file, id: files, tag: files, paths: ["${path.join(dir, 'logs')}/*.log"] }`,
        '  outputs:',
        '    - { type: stdout, id: out, match: agents }',
        '    - { type: loki, id: loki, match: nothing, url: "http://127.0.0.1:9" }',
        '',
      ].join('\n'),
    );
    const child = spawn(install.bin, ['run', '-c', cfg], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let addr: string | undefined;
      for (let i = 0; i < 150 && !addr; i++) {
        const m = /"msg":"shiplog started".*?"http":"([^"]+)"/.exec(stderr);
        if (m) addr = m[1];
        else await new Promise((r) => setTimeout(r, 100));
      }
      expect(addr, stderr).toBeDefined();
      const base = `http://${addr}`;
      expect((await getText(`${base}/healthz`)).status).toBe(200);
      let ready = 0;
      for (let i = 0; i < 50 && ready !== 200; i++) {
        ready = (await getText(`${base}/readyz`)).status;
        if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(200);
      expect((await getText(`${base}/nope`)).status).toBe(404);

      // Every probe path of the DaemonSet is served.
      for (const p of daemonSetProbes())
        expect((await getText(`${base}${p.path}`)).status).toBe(200);

      // The Dockerfile's HEALTHCHECK command, run as Docker would (exec form), passes against
      // the live server and fails against a dead port.
      const hc = dockerHealthcheck();
      const env = { ...process.env, SHIPLOG_HEALTHCHECK_URL: `${base}/healthz` };
      expect(
        spawnSync(hc[0] === 'node' ? process.execPath : hc[0], hc.slice(1), { env }).status,
      ).toBe(0);
      env.SHIPLOG_HEALTHCHECK_URL = 'http://127.0.0.1:9/healthz';
      expect(
        spawnSync(hc[0] === 'node' ? process.execPath : hc[0], hc.slice(1), { env }).status,
      ).toBe(1);

      // Metric names the operator docs tell people to watch exist.
      const metrics = (await getText(`${base}/metrics`)).body;
      const served = new Set([...metrics.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1]));
      const documented = new Set(
        [
          ...readFileSync(path.join(ROOT, 'docs', 'deployment.md'), 'utf8').matchAll(
            /\bshiplog_[a-z_]+/g,
          ),
        ].map((m) => m[0]),
      );
      expect(documented.size).toBeGreaterThan(5);
      const unknown = [...documented].filter(
        (n) => !served.has(n) && !served.has(n.replace(/_(bucket|sum|count)$/, '')),
      );
      expect(unknown).toEqual([]);

      for (let i = 0; i < 50 && stdout.split('\n').length < 51; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(stdout.trim().split('\n')).toHaveLength(50);
    } finally {
      child.kill('SIGTERM');
    }
    const t0 = Date.now();
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

// #21 item 9: the bundle copied without node_modules (no snappy): --version and validate work;
// a loki output says at start what is missing (or runs with encoding: json).
describe('bundle without node_modules', () => {
  it('--version and validate run; a protobuf loki output names the missing addon', () => {
    const dir = tempDir('shiplog-bare-');
    const bare = path.join(dir, 'shiplog.mjs');
    copyFileSync(install.bundle, bare);
    const node = (args: string[]) =>
      spawnSync(process.execPath, [bare, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    const v = node(['--version']);
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(PKG.version);
    const cfg = (encoding: string) => {
      const f = path.join(dir, `${encoding}.yaml`);
      writeFileSync(
        f,
        `service: { data_dir: ${dir}/data-${encoding}, shutdown_timeout: 1s }\npipeline:\n  inputs: [{ type: stdin }]\n  outputs: [{ type: loki, url: "http://127.0.0.1:9", encoding: ${encoding} }]\n`,
      );
      return f;
    };
    expect(node(['validate', '-c', cfg('protobuf')]).status).toBe(0);
    const r = node(['run', '-c', cfg('protobuf')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('needs the snappy native addon, which cannot be loaded');
    expect(r.stderr).toContain('or set encoding: json');
    expect(r.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
    // encoding: json needs no addon: it starts (stdin is empty: it ends at once, exit 0).
    const j = node(['run', '-c', cfg('json')]);
    expect(j.stderr).toContain('shiplog started');
    expect(j.stderr).not.toContain('snappy');
  });
});
