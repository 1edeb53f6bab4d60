// The HTTP output kit (#19): one auth/tls option shape for loki and elasticsearch, the old
// spellings with their one-time warning, secrets from value/env/file and never in a message, and
// the status classification. Real HTTP server on 127.0.0.1:0.

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { mkdtempSync } from 'node:fs';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../telemetry/logger.js';
import { options as esOptions } from '../elasticsearch/config.js';
import { options as lokiOptions } from '../loki/config.js';
import { resolveAuth } from './auth.js';
import { HEAD_BYTES, HttpEndpoint, type EndpointSpec } from './endpoint.js';
import { classifyStatus } from './status.js';

const SECRET = 's3cr3t-Value-42';
const SPEC: EndpointSpec = {
  name: 'loki',
  request: 'push',
  requests: 'pushes',
  authTypes: ['none', 'basic', 'bearer'],
};

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
    };
  const log = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => log,
  };
  return log;
}

const servers: Server[] = [];
const endpoints: HttpEndpoint[] = [];
afterEach(async () => {
  for (const e of endpoints.splice(0)) await e.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  delete process.env.SHIPLOG_TEST_SECRET;
});

/** A server answering `status` and remembering each request's Authorization header. */
async function server(status = 204, headers: Record<string, string> = {}) {
  const seen: Array<string | undefined> = [];
  const s = createServer((req, res) => {
    seen.push(req.headers.authorization);
    req.resume();
    req.on('end', () => {
      res.writeHead(status, headers);
      res.end(status === 204 ? undefined : 'no');
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

/** A loki config through the real schema, then an endpoint started on it. */
function endpoint(url: string, extra: Record<string, unknown>, log = capture()) {
  const config = lokiOptions.parse({ url, ...extra });
  const e = new HttpEndpoint({ ...config, workers: 1, timeout: 2000 }, SPEC, log);
  endpoints.push(e);
  return { e, log };
}

async function authorizationSent(url: string, seen: Array<string | undefined>, e: HttpEndpoint) {
  e.start({ 'user-agent': 'shiplog' });
  const res = await e.exchange({ path: '/', body: 'x', signal: new AbortController().signal });
  expect(res).toMatchObject({ kind: 'answer', verdict: 'ok' });
  return seen.at(-1);
}

const basic = `Basic ${Buffer.from(`u:${SECRET}`).toString('base64')}`;

describe('auth and tls: one option shape, old spellings for one release', () => {
  it.each([
    ['new: type basic + password', { auth: { type: 'basic', user: 'u', password: SECRET } }, basic],
    ['new: type bearer + token', { auth: { type: 'bearer', token: SECRET } }, `Bearer ${SECRET}`],
    ['none', {}, undefined],
  ])('%s: sent, no warning', async (_name, extra, header) => {
    const { url, seen } = await server();
    const { e, log } = endpoint(url, extra);
    expect(await authorizationSent(url, seen, e)).toBe(header);
    expect(log.lines.filter((l) => /deprecated/.test(l))).toEqual([]);
  });

  it.each([
    [
      'auth without type (basic)',
      { auth: { user: 'u', password: SECRET } },
      basic,
      /set auth\.type: basic/,
    ],
    [
      'auth.bearer_token',
      { auth: { bearer_token: SECRET } },
      `Bearer ${SECRET}`,
      /auth\.bearer_token is deprecated: use auth\.token/,
    ],
    [
      'auth.bearer_token_file',
      { auth: { type: 'bearer', bearer_token_file: 'FILE' } },
      `Bearer ${SECRET}`,
      /auth\.bearer_token_file is deprecated: use auth\.token_file/,
    ],
  ])(
    'old: %s works, warned once at start naming the new key',
    async (_n, extra, header, warning) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-kit-'));
      writeFileSync(path.join(dir, 'tok'), `${SECRET}\n`);
      const json = JSON.stringify(extra).replace('FILE', path.join(dir, 'tok'));
      const { url, seen } = await server();
      const { e, log } = endpoint(url, JSON.parse(json) as Record<string, unknown>);
      expect(log.lines).toEqual([]); // nothing said before start
      expect(await authorizationSent(url, seen, e)).toBe(header);
      e.start({}); // a second start (none happens today) does not repeat it
      const warned = log.lines.filter((l) => /deprecated/.test(l));
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(warning);
      expect(warned[0]).toMatch(/^warn .*works until the next release/);
      for (const l of log.lines) expect(l).not.toContain(SECRET);
    },
  );

  it('tls.insecure_skip_verify: still turns verification off, warned, naming tls.verify', () => {
    const { e, log } = endpoint('https://127.0.0.1:1', { tls: { insecure_skip_verify: true } });
    expect(e.tls.verify).toBe(false);
    e.start({});
    expect(log.lines.join('\n')).toMatch(
      /tls\.insecure_skip_verify is deprecated: use tls\.verify: false/,
    );
    expect(log.lines.join('\n')).toMatch(/tls\.verify is off/);
    const fresh = endpoint('https://127.0.0.1:1', { tls: { verify: false } });
    expect(fresh.e.tls.verify).toBe(false);
    fresh.e.start({});
    expect(fresh.log.lines.join('\n')).not.toMatch(/deprecated/);
    expect(endpoint('https://127.0.0.1:1', {}).e.tls.verify).toBe(true); // on by default
  });

  it('elasticsearch and loki share the shape: the same keys parse in both', () => {
    const shared = {
      url: 'https://x:1',
      auth: { type: 'basic', user: 'u', password_env: 'PW' },
      tls: { verify: true, ca_file: '/ca', cert_file: '/c', key_file: '/k', server_name: 'es' },
    };
    expect(lokiOptions.parse(shared).auth).toEqual(esOptions.parse(shared).auth);
    expect(lokiOptions.parse(shared).tls).toEqual(esOptions.parse(shared).tls);
    // API keys are Elasticsearch's scheme only.
    expect(
      esOptions.parse({ url: 'http://x', auth: { type: 'api_key', api_key: 'k' } }),
    ).toBeTruthy();
    expect(() => lokiOptions.parse({ url: 'http://x', auth: { type: 'api_key' } })).toThrow();
    // The 0.1 loki keys are the loki output's only (elasticsearch never had them).
    expect(() => esOptions.parse({ url: 'http://x', auth: { bearer_token: 't' } })).toThrow();
    expect(() =>
      esOptions.parse({ url: 'http://x', tls: { insecure_skip_verify: true } }),
    ).toThrow();
  });
});

describe('secrets: value, env or file; never in a message', () => {
  it('reads *_env at create and *_file at start; the header is the same', async () => {
    process.env.SHIPLOG_TEST_SECRET = SECRET;
    const { url, seen } = await server();
    const env = endpoint(url, {
      auth: { type: 'basic', user: 'u', password_env: 'SHIPLOG_TEST_SECRET' },
    });
    expect(await authorizationSent(url, seen, env.e)).toBe(basic);
  });

  it.each([
    [
      { type: 'basic', user: 'u' },
      'auth.password',
      /needs auth\.password, auth\.password_env or auth\.password_file/,
    ],
    [
      { type: 'basic', user: 'u', password: SECRET, password_file: '/f' },
      'auth.password',
      /not several/,
    ],
    [
      { type: 'bearer', token_env: 'SHIPLOG_NO_SUCH_VAR' },
      'auth.token_env',
      /SHIPLOG_NO_SUCH_VAR is not set/,
    ],
    [
      { type: 'basic', user: 'u', password: SECRET, token: SECRET },
      'auth.token',
      /auth\.token is set but auth\.type is basic/,
    ],
    [
      { user: 'u', password: SECRET, token: SECRET },
      'auth.type',
      /several schemes .*set auth\.type/,
    ],
    [{ type: 'none', password: SECRET }, 'auth.password', /auth\.type is none/],
    [
      { type: 'bearer', token: SECRET, bearer_token: SECRET },
      'auth.bearer_token',
      /set auth\.token only/,
    ],
  ])('%j is a config error naming %s, without the secret', (auth, key, why) => {
    let err: Error | undefined;
    try {
      resolveAuth(auth as never, ['none', 'basic', 'bearer']);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toContain(key);
    expect(err?.message).toMatch(why);
    expect(err?.message).not.toContain(SECRET);
  });

  it('a token that cannot be a header value is refused at start, without showing it', () => {
    const { e } = endpoint('http://127.0.0.1:1', {
      auth: { type: 'bearer', token: `${SECRET}\r\nX: y` },
    });
    expect(() => e.start({})).toThrow(/auth\.token: the secret holds a control character/);
    try {
      e.start({});
    } catch (err) {
      expect((err as Error).message).not.toContain(SECRET);
    }
  });

  it('a resolved auth prints no secret (JSON, inspect)', () => {
    const a = resolveAuth({ type: 'bearer', token: SECRET }, ['bearer']);
    expect(JSON.stringify(a)).not.toContain(SECRET);
    expect(inspect(a)).not.toContain(SECRET);
    expect(a.header()).toBe(`Bearer ${SECRET}`);
  });

  it('mutual TLS needs both files', () => {
    expect(() => endpoint('https://x:1', { tls: { cert_file: '/c' } })).toThrow(/tls\.key_file/);
  });
});

describe('status classification and health', () => {
  it.each([
    [200, 'ok'],
    [204, 'ok'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [413, 'too_large'],
    [400, 'permanent'],
    [401, 'permanent'],
    [404, 'permanent'],
    [302, 'permanent'],
  ])('%i is %s', (code, verdict) => {
    expect(classifyStatus(code)).toBe(verdict);
  });

  it('a 429 carries Retry-After; a refused connection retries; health fails after 3 in a row', async () => {
    const { url } = await server(429, { 'retry-after': '7' });
    const { e } = endpoint(url, {});
    e.start({});
    const signal = new AbortController().signal;
    expect(await e.exchange({ path: '/', body: 'x', signal })).toMatchObject({
      verdict: 'retry',
      status: '429',
      delayMs: 7000,
    });
    const gone = endpoint('http://127.0.0.1:1', {}).e;
    gone.start({});
    const f = await gone.exchange({ path: '/', body: 'x', signal });
    expect(f).toMatchObject({ kind: 'failure', permanent: false, status: 'econnrefused' });
    for (let i = 0; i < 3; i++) gone.failed('econnrefused');
    expect(gone.health()).toEqual({ ok: false, reason: 'pushes failing (last: econnrefused)' });
    gone.succeeded();
    expect(gone.health()).toEqual({ ok: true });
  });

  it('an invalid header value is a permanent failure (resending cannot help)', async () => {
    const { url } = await server();
    const { e } = endpoint(url, {});
    e.start({});
    const f = await e.exchange({
      path: '/',
      body: 'x',
      headers: { 'x-scope-orgid': 'a\u0100' },
      signal: new AbortController().signal,
    });
    expect(f).toMatchObject({ kind: 'failure', permanent: true, status: 'invalid_argument' });
  });
});

describe('skip: a 2xx body read only as far as its head', () => {
  /** A server answering `status` with `body`, written in pieces of `piece` bytes. */
  async function answering(status: number, body: Buffer, piece = body.length) {
    const s = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/json' });
        let at = 0;
        const next = (): void => {
          if (at >= body.length) return void res.end();
          res.write(body.subarray(at, at + piece));
          at += piece;
          setImmediate(next);
        };
        next();
      });
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
  const items = Array.from({ length: 2000 }, () => '{"create":{"status":201}}').join(',');
  const ok = `{"errors":false,"items":[${items}]}`;
  const signal = new AbortController().signal;

  it('an accepted head is the answer text; the rest is dropped and the connection reused', async () => {
    for (const piece of [7, 1000, ok.length]) {
      const { e } = endpoint(await answering(200, Buffer.from(ok), piece), {});
      e.start({});
      const heads: string[] = [];
      const skip = (h: string) => (heads.push(h), h.startsWith('{"errors":false'));
      for (let i = 0; i < 3; i++) {
        const res = await e.exchange({ path: '/', body: 'x', signal, skip });
        expect(res).toMatchObject({ kind: 'answer', verdict: 'ok', text: ok.slice(0, HEAD_BYTES) });
      }
      expect(heads).toEqual(Array(3).fill(ok.slice(0, HEAD_BYTES)));
    }
  });

  it('a refused head, a short body, a BOM or a non-2xx: the whole text, as without skip', async () => {
    const bad = `{"errors":true,"items":[${items},{"create":{"status":400,"error":{"type":"é"}}}]}`;
    const cases: Array<[number, string, number]> = [
      [200, bad, 5],
      [200, '{"errors":false}', 3],
      [200, `\ufeff${bad}`, 100],
      [500, ok, 1000],
      [201, '', 1],
    ];
    for (const [status, text, piece] of cases) {
      const body = Buffer.from(text);
      const { e } = endpoint(await answering(status, body, piece), {});
      e.start({});
      const plain = await e.exchange({ path: '/', body: 'x', signal });
      const skipped = await e.exchange({
        path: '/',
        body: 'x',
        signal,
        skip: (h) => h.startsWith('{"errors":false') && h.length >= HEAD_BYTES,
      });
      expect({ ...skipped, headers: {} }).toEqual({ ...plain, headers: {} });
      expect((skipped as { text: string }).text).toBe(text.replace(/^\ufeff/, ''));
    }
  });
});
