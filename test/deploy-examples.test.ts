// conf/examples: every example validates with the bundle and with dist/ (the parts whose
// components exist, and in full), and each does what its comments say: it runs (bundle) over
// real-looking sample lines in a temp tree, its file inputs pointed there, its outputs replaced
// by stdout.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { tempDir } from './helpers/harness.js';
import { BIN } from './helpers/proc.js';
import {
  EXAMPLES,
  EXAMPLES_DIR,
  install,
  installBundle,
  KINDS,
  loadConfig,
  missingTypes,
  registryOf,
  run,
  shiplog,
  type ConfigDoc,
  type Json,
} from './helpers/deploy.js';

beforeAll(() => installBundle({ rebuild: false }), 150_000);

describe('conf/examples', () => {
  it('has the deployments we serve', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(4);
    const types = EXAMPLES.flatMap((f) => {
      const c = loadConfig(path.join(EXAMPLES_DIR, f));
      return KINDS.flatMap((k) => (c.pipeline[k] ?? []).map((x) => x.type));
    });
    for (const t of ['file', 'kubernetes', 'journald', 'parse_json', 'loki', 'elasticsearch', 's3'])
      expect(types).toContain(t);
  });

  for (const file of EXAMPLES) {
    const full = path.join(EXAMPLES_DIR, file);

    // Every type the examples use is registered (these checks used to skip until it was).
    it(`${file}: validates in full with the bundle`, () => {
      expect(missingTypes(loadConfig(full), install.registry)).toEqual([]);
      const r = shiplog(['validate', '--config-only', '-c', full]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(': ok');
      expect(r.status).toBe(0);
    });

    it(`${file}: validates in full with bin/shiplog.js (dist/)`, () => {
      const s = run(process.execPath, [BIN, 'schema']);
      expect(s.status).toBe(0);
      expect(missingTypes(loadConfig(full), registryOf(s.stdout))).toEqual([]);
      const r = run(process.execPath, [BIN, 'validate', '--config-only', '-c', full]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }
});

interface Scenario {
  /** Host directory in the example → files (relative path → content) written under the temp copy. */
  dirs: Record<string, Record<string, string>>;
  /** Records expected on stdout. */
  count: number;
  check(records: Json[]): void;
  /** Edit the config (after paths were rewritten) for a test run, e.g. turn API lookups off. */
  adjust?(cfg: ConfigDoc): void;
}

async function runScenario(file: string, sc: Scenario): Promise<Json[]> {
  const dir = tempDir('shiplog-example-');
  let text = readFileSync(path.join(EXAMPLES_DIR, file), 'utf8');
  for (const [hostDir, files] of Object.entries(sc.dirs)) {
    const local = path.join(dir, 'host', hostDir);
    text = text.replaceAll(hostDir, local);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(local, name)), { recursive: true });
      writeFileSync(path.join(local, name), content);
    }
  }
  const cfg = parseYaml(text) as ConfigDoc;
  cfg.service = { ...cfg.service, data_dir: path.join(dir, 'data') };
  delete cfg.service.http;
  // The journal of this machine is not part of the scenario.
  cfg.pipeline.inputs = (cfg.pipeline.inputs ?? []).filter((i) => i.type !== 'journald');
  cfg.pipeline.outputs = [{ type: 'stdout', id: 'out', match: '*', format: 'json' }];
  sc.adjust?.(cfg);
  const cfgFile = path.join(dir, 'run.yaml');
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const child = spawn(install.bin, ['run', '-c', cfgFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 15_000;
  while (stdout.split('\n').length <= sc.count && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // nothing more may come
  child.kill('SIGTERM');
  expect(await exited, stderr).toBe(0);
  const records = stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);
  expect(records, stderr).toHaveLength(sc.count);
  return records;
}

const SCENARIOS: Record<string, Scenario> = {
  'agents-loki.yaml': {
    dirs: {
      '/var/log/infrafabric/agents': {
        'planner.log':
          JSON.stringify({
            timestamp: '2025-03-05T10:15:02.123Z',
            level: 'error',
            component: 'planner',
            agent_id: 'a-7',
            correlation_id: 'c-0001',
            trace_id: 't-9',
            message: 'calling api with Authorization: Bearer abcdef0123456789abcdef',
            context: { password: 'hunter2', attempt: 3 },
          }) +
          '\nnot json at all\n' +
          // A rotated copy matching the directory but excluded by the example.
          '',
        'planner.log.1': '{"level":"info","message":"old rotated copy"}\n',
      },
    },
    count: 2,
    check([rec, plain]) {
      expect(rec).toMatchObject({ level: 'error', component: 'planner', correlation_id: 'c-0001' });
      const s = JSON.stringify(rec);
      expect(s).not.toContain('hunter2');
      expect(s).not.toContain('abcdef0123456789abcdef');
      expect(plain.message).toBe('not json at all');
    },
  },
  'docker-loki.yaml': {
    dirs: {
      '/var/lib/docker/containers': {
        [`${'ab12'.repeat(16)}/${'ab12'.repeat(16)}-json.log`]:
          JSON.stringify({
            log: '{"level":"warn","request_id":"r-42","msg":"slow upstream"}\n',
            stream: 'stderr',
            time: '2025-03-05T10:15:02.123456789Z',
          }) +
          '\n' +
          JSON.stringify({
            log: 'plain text line\n',
            stream: 'stdout',
            time: '2025-03-05T10:15:03Z',
          }) +
          '\n',
      },
    },
    count: 2,
    check([app, plain]) {
      expect(app).toMatchObject({
        level: 'warn',
        request_id: 'r-42',
        stream: 'stderr',
        container_id: 'ab12ab12ab12',
      });
      expect(plain).toMatchObject({ stream: 'stdout', container_id: 'ab12ab12ab12' });
      expect(String(plain.log)).toContain('plain text line');
    },
  },
  'node-services-journal.yaml': {
    dirs: {
      '/var/log/redis': {
        'redis-server.log': '12345:M 05 Mar 2025 10:15:02.123 * Ready to accept connections tcp\n',
      },
      '/var/log/infrafabric/api': {
        'access.log':
          '10.0.0.1 - alice [05/Mar/2025:10:15:02 +0000] "GET /v1/agents?limit=5 HTTP/1.1" 200 512 "-" "curl/8.5.0"\n',
      },
      '/var/log/chromadb': {
        'chroma.log':
          '2025-03-05 10:15:02 ERROR query failed\nTraceback (most recent call last):\n  File "x.py", line 1\nValueError: boom\n2025-03-05 10:15:03 INFO next\n',
      },
    },
    count: 4,
    check(records) {
      const redis = records.find((r) => r.role === 'M');
      expect(redis, JSON.stringify(records)).toMatchObject({
        pid: 12345,
        msg: 'Ready to accept connections tcp',
      });
      const access = records.find((r) => r.method === 'GET');
      expect(access).toMatchObject({ client: '10.0.0.1', user: 'alice', status: 200, bytes: 512 });
      expect(String(access!.path)).toMatch(/^\/v1\/agents/);
      const tb = records.find((r) => String(r.message).startsWith('2025-03-05 10:15:02 ERROR'));
      expect(String(tb!.message)).toContain('ValueError: boom');
      expect(records.filter((r) => String(r.message ?? '').includes('INFO next'))).toHaveLength(1);
    },
  },
  'kubernetes-elasticsearch-s3.yaml': {
    dirs: {
      '/var/log/pods': {
        'shop_web-7d9f_0b1c2d3e-aaaa-bbbb-cccc-000000000001/app/0.log':
          '2025-03-05T10:15:02.123456789Z stdout F {"level":"info","request_id":"r-1","msg":"ok"}\n' +
          '2025-03-05T10:15:03.000000000Z stderr F plain error text\n',
      },
    },
    count: 2,
    adjust(cfg) {
      const k = cfg.pipeline.inputs?.find((i) => i.type === 'kubernetes');
      if (k) k.metadata = { enabled: false }; // no API server here
    },
    check([json, plain]) {
      expect(json).toMatchObject({ level: 'info', request_id: 'r-1' });
      expect(JSON.stringify(json)).toContain('"namespace_name":"shop"');
      expect(JSON.stringify(plain)).toContain('plain error text');
    },
  },
};

describe('conf/examples behave as their comments say (bundle, sample lines)', () => {
  it('has a scenario for every example', () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual(EXAMPLES);
  });
  for (const [file, sc] of Object.entries(SCENARIOS)) {
    it(file, async () => {
      sc.check(await runScenario(file, sc));
    });
  }
});
