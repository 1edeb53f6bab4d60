// What a file → parse_json → loki daemon loads (issue #22, the resident cost): nothing it does not
// use. Node's own undici (an ESM import of node:http), WebCrypto (of node:crypto), the full undici
// and prom-client (their index.js: fetch, WebSocket, Pushgateway, cluster), https, the AWS SDK
// and unused components each cost resident memory on every node of a DaemonSet. The daemon runs
// as installed (bin/shiplog.js → dist/), with SHIPLOG_DEBUG_MODULES naming a file where it writes
// what it loaded when it exits (src/cli/run.ts).
//
// (Still loaded, and measured as small: net.Server.listen's cluster internals.)

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runShiplog } from '../helpers/proc.js';
import { LokiReceiver } from '../receivers/loki.js';

interface Loaded {
  builtins: string[];
  modules: string[];
}

let dir: string;
let loki: LokiReceiver;
let loaded: Loaded;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'shiplog-modules-'));
  loki = await LokiReceiver.start();
  const log = path.join(dir, 'app.log');
  const t = Date.now() - 60_000;
  const lines = Array.from(
    { length: 50 },
    (_, i) =>
      `{"timestamp":"${new Date(t + i).toISOString()}","level":"INFO","message":"m${i}","context":{"n":${i}}}\n`,
  );
  writeFileSync(log, lines.join(''));
  const cfg = path.join(dir, 'shiplog.yaml');
  writeFileSync(
    cfg,
    [
      'service:',
      `  data_dir: ${path.join(dir, 'data')}`,
      '  http: { listen: "127.0.0.1:0" }',
      'pipeline:',
      '  inputs:',
      '    - type: file',
      `      paths: [${log}]`,
      '      read_from: head',
      '  filters:',
      '    - type: parse_json',
      '      time_field: timestamp',
      '  outputs:',
      '    - type: loki',
      `      url: ${loki.url}`,
      '      labels: { job: test, level: "{level}" }',
      '',
    ].join('\n'),
  );
  const out = path.join(dir, 'loaded.json');
  const p = runShiplog(['run', '-c', cfg], { env: { SHIPLOG_DEBUG_MODULES: out } });
  await p.waitForLog('shiplog started');
  const t0 = Date.now();
  while (loki.entries.length < lines.length && Date.now() - t0 < 15_000)
    await new Promise((r) => setTimeout(r, 50));
  expect(loki.entries.length, p.stderr.slice(-2000)).toBe(lines.length);
  // /metrics too: the telemetry server and prom-client's default metrics are in use.
  const res = await fetch(`http://${String((await p.waitForLog('shiplog started')).http)}/metrics`);
  expect(res.status).toBe(200);
  p.kill('SIGTERM');
  expect((await p.exited).code).toBe(0);
  loaded = JSON.parse(readFileSync(out, 'utf8')) as Loaded;
}, 30_000);

afterAll(async () => {
  await loki?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a file → parse_json → loki daemon (dist) loads only what it uses', () => {
  it('reports what it loaded', () => {
    expect(loaded.builtins.length).toBeGreaterThan(50);
    // The resolve hook saw the modules: the daemon itself, and the lean dependencies.
    expect(loaded.modules.some((u) => u.endsWith('/dist/cli/run.js'))).toBe(true);
    expect(loaded.modules.some((u) => u.endsWith('/packaging/undici-lean.mjs'))).toBe(true);
    expect(loaded.modules.some((u) => u.endsWith('/packaging/prom-client-lean.mjs'))).toBe(true);
  });

  it("not Node's bundled undici, WebCrypto, https, http2 or tls", () => {
    // http2 (and the tls it loads) is required by undici's HTTP/2 client when it loads:
    // packaging/undici-h2-lazy.cjs defers it (a plain-http Loki needs neither).
    const bad = loaded.builtins.filter((m) =>
      /internal\/deps\/undici|internal\/crypto\/webcrypto|NativeModule (https|http2|tls)$/.test(m),
    );
    expect(bad).toEqual([]);
  });

  it("not undici's or prom-client's index (fetch, WebSocket, Pushgateway, Summary)", () => {
    const bad = loaded.modules.filter((u) =>
      /\/node_modules\/(undici\/(index\.js|lib\/(web|cache|mock)\/)|prom-client\/(index\.js|lib\/(pushgateway|summary|cluster)\.js))/.test(
        u,
      ),
    );
    expect(bad).toEqual([]);
  });

  it('not the AWS SDK, protobufjs, zod locales other than en, or components the config does not use (their schemas only)', () => {
    const bad = loaded.modules.filter(
      (u) =>
        /\/node_modules\/(@aws-sdk|@smithy|protobufjs)\//.test(u) ||
        /\/node_modules\/zod\/v4\/locales\/(?!en\.js$)/.test(u) ||
        /\/dist\/components\/(inputs\/(journald|kubernetes)|outputs\/(elasticsearch|s3))\/(?!(meta|config)\.js$)/.test(
          u,
        ),
    );
    expect(bad).toEqual([]);
  });
});
