// `shiplog validate --healthcheck` (issue #21 item 1), as an operator runs it: the real CLI against
// live and dead backends. Each output gets one line; any failure exits 1 with the fix.

import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { runShiplog } from './helpers/proc.js';
import { LokiReceiver } from './receivers/loki.js';
import { EsReceiver } from './receivers/elasticsearch.js';
import { startS3 } from './receivers/s3.js';

async function validate(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = tempDir();
  const file = path.join(dir, 'shiplog.yaml');
  writeFileSync(file, yaml);
  const p = runShiplog(['validate', '--healthcheck', '-c', file], { env });
  const { code } = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/** An Elasticsearch stand-in with security on: user `writer` may create_doc, `reader` may not. */
async function securedEs(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const users: Record<string, string> = {
    [`Basic ${Buffer.from('writer:w').toString('base64')}`]: 'writer',
    [`Basic ${Buffer.from('reader:r').toString('base64')}`]: 'reader',
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      const user = users[req.headers.authorization ?? ''];
      res.setHeader('content-type', 'application/json');
      if (!user) {
        res.writeHead(401).end('{"error":{"type":"security_exception"},"status":401}');
        return;
      }
      if (req.url === '/') {
        res.end('{"version":{"number":"8.15.0"},"tagline":"You Know, for Search"}');
        return;
      }
      const q = JSON.parse(body) as { index: Array<{ names: string[]; privileges: string[] }> };
      const ok = user === 'writer';
      res.end(
        JSON.stringify({
          username: user,
          has_all_requested: ok,
          index: { [q.index[0].names[0]]: { [q.index[0].privileges[0]]: ok } },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const demo = 'pipeline:\n  inputs: [{ type: demo }]\n  outputs:\n';

describe('validate --healthcheck', () => {
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });

  it('fails for unreachable Loki, Elasticsearch and S3, naming each output and the reason', async () => {
    const r = await validate(
      demo +
        '    - { type: loki, id: lk, url: "http://127.0.0.1:9" }\n' +
        '    - { type: elasticsearch, id: es, url: "http://127.0.0.1:9" }\n' +
        '    - { type: s3, id: arch, bucket: b, endpoint: "http://127.0.0.1:9",' +
        ' credentials: { access_key_id_env: AK, secret_access_key_env: SK } }\n' +
        '    - { type: stdout, id: out }\n',
      { AK: 'a', SK: 's' },
    );
    expect(r.code).toBe(1);
    for (const id of ['lk (loki)', 'es (elasticsearch)', 'arch (s3)'])
      expect(r.stderr).toMatch(
        new RegExp(`output ${id.replace(/[()]/g, '\\$&')}: FAILED: .*connection refused`),
      );
    expect(r.stdout).toContain('output out (stdout): nothing to check');
    expect(r.stderr).toContain('healthcheck failed for 3 output(s)');
  }, 60_000);

  it('passes against live Loki, Elasticsearch (security off) and S3', async () => {
    const loki = await LokiReceiver.start();
    const es = await EsReceiver.start();
    const s3 = await startS3({ bucket: 'archive' });
    closers.push(
      () => loki.close(),
      () => es.close(),
      () => s3.close(),
    );
    const r = await validate(
      demo +
        `    - { type: loki, id: lk, url: "${loki.url}" }\n` +
        `    - { type: elasticsearch, id: es, url: "${es.url}" }\n` +
        `    - { type: s3, id: arch, bucket: archive, endpoint: "${s3.endpoint}", force_path_style: true,` +
        ' credentials: { access_key_id_env: AK, secret_access_key_env: SK } }\n',
      { AK: 'S3RVER', SK: 'S3RVER' },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/output lk \(loki\): ok: push accepted/);
    expect(r.stdout).toMatch(/output es \(elasticsearch\): ok: .*security disabled/);
    expect(r.stdout).toMatch(/output arch \(s3\): ok: HeadBucket bucket archive/);
    // A missing bucket is a failure of its own.
    const r2 = await validate(
      demo +
        `    - { type: s3, id: arch, bucket: nope, endpoint: "${s3.endpoint}", force_path_style: true,` +
        ' credentials: { access_key_id_env: AK, secret_access_key_env: SK } }\n',
      { AK: 'S3RVER', SK: 'S3RVER' },
    );
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/bucket nope .*does not exist/);
  }, 60_000);

  it('Loki: a wrong password and a missing tenant are reported with the fix', async () => {
    const loki = await LokiReceiver.start({
      requireTenant: true,
      authorization: `Basic ${Buffer.from('u:right').toString('base64')}`,
    });
    closers.push(() => loki.close());
    const dir = tempDir();
    writeFileSync(path.join(dir, 'pw'), 'wrong\n');
    const wrong = await validate(
      demo +
        `    - { type: loki, url: "${loki.url}", tenant: t1, auth: { user: u, password_file: ${dir}/pw } }\n`,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/answered 401.*check auth/);
    writeFileSync(path.join(dir, 'pw'), 'right\n');
    const noTenant = await validate(
      demo +
        `    - { type: loki, url: "${loki.url}", auth: { user: u, password_file: ${dir}/pw } }\n`,
    );
    expect(noTenant.code).toBe(1);
    expect(noTenant.stderr).toMatch(/401/);
    const ok = await validate(
      demo +
        `    - { type: loki, url: "${loki.url}", tenant: t1, auth: { user: u, password_file: ${dir}/pw } }\n`,
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  }, 60_000);

  it('Elasticsearch with security: checks credentials and the create_doc privilege on the index pattern', async () => {
    const es = await securedEs();
    closers.push(() => es.close());
    const conf = (user: string, pw: string) =>
      demo +
      `    - { type: elasticsearch, url: "${es.url}", index: "app-{kubernetes.namespace}-%Y.%m.%d", auth: { type: basic, user: ${user}, password: ${pw} } }\n`;
    const bad = await validate(conf('nobody', 'x'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/ answered 401/);
    const reader = await validate(conf('reader', 'r'));
    expect(reader.code).toBe(1);
    expect(reader.stderr).toContain('user reader lacks the create_doc privilege on app-*-*.*.*');
    const writer = await validate(conf('writer', 'w'));
    expect(writer.stderr).toBe('');
    expect(writer.code).toBe(0);
    expect(writer.stdout).toMatch(/elasticsearch 8\.15\.0 .*user writer has create_doc on app-\*/);
    expect(es.seen.some((s) => s.startsWith('POST /_security/user/_has_privileges'))).toBe(true);
  }, 60_000);

  it('a proxy that echoes the request into its error page: the credential is masked in what validate prints', async () => {
    // Some gateways answer 502 with the request they failed to forward, headers included.
    const echo = http.createServer((req, res) => {
      const head = Object.entries(req.headers)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join('\n');
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`bad gateway for\n${head}\n`);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => echo.close(() => r())));
    const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    const dir = tempDir();
    writeFileSync(path.join(dir, 'pw'), 'hunter2-secret\n');
    const r = await validate(
      demo +
        `    - { type: loki, id: lk, url: "${url}", auth: { user: u, password_file: ${dir}/pw } }\n` +
        `    - { type: elasticsearch, id: es, url: "${url}", auth: { user: u, password_file: ${dir}/pw } }\n`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /output lk \(loki\): FAILED: .*answered 502.*authorization: \[redacted\]/,
    );
    expect(r.stderr).toMatch(
      /output es \(elasticsearch\): FAILED: .*answered 502.*authorization: \[redacted\]/,
    );
    const basic = Buffer.from('u:hunter2-secret').toString('base64');
    expect(r.stderr + r.stdout).not.toContain(basic);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  }, 60_000);
});
