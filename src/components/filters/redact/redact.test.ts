import { describe, expect, it } from 'vitest';
import { newRecord, type Fields } from '../../../core/record.js';
import { testContext } from '../_shared/testing.js';
import { luhn } from './detectors.js';
import def from './index.js';

function make(cfg: Record<string, unknown> = {}) {
  const ctx = testContext('rd');
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'redact', id: 'rd', match: '*' }, ctx), ctx };
}
function run(fields: Fields, cfg: Record<string, unknown> = {}): Fields {
  return make(cfg).f.process([newRecord(structuredClone(fields))], 't')[0].fields;
}
const msg = (m: string, cfg: Record<string, unknown> = {}) =>
  run({ message: m }, cfg).message as string;

// True positives: [text, the secret that must not survive].
const SECRETS: Array<[string, string]> = [
  ['GET /api Authorization: Bearer eyJhbGciOi.J9abc.def-123_x', 'eyJhbGciOi.J9abc.def-123_x'],
  ['curl -H "Authorization: Basic dXNlcjpwYXNzd29yZA=="', 'dXNlcjpwYXNzd29yZA=='],
  ['oauth token exchange ok bearer 9f8e7d6c5b4a3f2e1d0c', '9f8e7d6c5b4a3f2e1d0c'],
  ['login failed password=hunter2 user=bob', 'hunter2'],
  ['db connect db_password="s3cr3t value" host=db1', 's3cr3t value'],
  ['config {"api_key": "AbC123xyz789", "region": "eu"}', 'AbC123xyz789'],
  ["client_secret: 'q1w2e3r4t5'", 'q1w2e3r4t5'],
  ['redirect https://x.example/cb?code=1&access_token=ya29.a0AfH6SM&state=2', 'ya29.a0AfH6SM'],
  ['X-Api-Key: 0123456789abcdef', '0123456789abcdef'],
  ['dsn postgres://app:Pa55w0rd@db.internal:5432/app', 'Pa55w0rd'],
  [
    'id_token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU',
  ],
  ['aws key AKIAIOSFODNN7EXAMPLE in env', 'AKIAIOSFODNN7EXAMPLE'],
  [
    'key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1\n-----END RSA PRIVATE KEY----- done',
    'MIIEpAIBAAKCAQEA1',
  ],
  ['notify alice.smith+ops@example.co.uk now', 'alice.smith+ops@example.co.uk'],
  ['charge card 4111 1111 1111 1111 ok', '4111 1111 1111 1111'],
  ['charge card 5500-0000-0000-0004 ok', '5500-0000-0000-0004'],
  ['ssn 123-45-6789 on file', '123-45-6789'],
  ['PASSWORD = Tr0ub4dor&3', 'Tr0ub4dor'],
  // #17.10: the review's misses.
  ['Authorization: Token 9a8b7c6d5e4f3a2b1c0d', '9a8b7c6d5e4f3a2b1c0d'],
  ['Authorization: ApiKey AbCdEf123456', 'AbCdEf123456'],
  ['authorization: BEARER Zm9vYmFyYmF6cXV4', 'Zm9vYmFyYmF6cXV4'],
  ['sent BEARER Zm9vYmFyYmF6cXV4 upstream', 'Zm9vYmFyYmF6cXV4'],
  ['env [{"name":"DB_PASSWORD","value":"pg-s3cret-99"}]', 'pg-s3cret-99'],
  ['env [{"name": "STRIPE_SECRET_KEY", "value": "notsk_but_secret"}]', 'notsk_but_secret'],
  ['login pass=letmein99 user=bob', 'letmein99'],
  ['ftp pw: qwerty123', 'qwerty123'],
  ['db_pass=zz_top_42', 'zz_top_42'],
  ['Set-Cookie: sid=8f3k2j1h0g; Path=/; HttpOnly', '8f3k2j1h0g'],
  ['resumed session=a1b2c3d4e5f6 for bob', 'a1b2c3d4e5f6'],
  [
    'token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 pushed',
    'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789',
  ],
  ['slack xoxb-123456789012-abcdefABCDEF posted', 'xoxb-123456789012-abcdefABCDEF'],
  ['stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc charge', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
  ['maps AIzaSyA-1234567890abcdefghijklmnopqrstu used', 'AIzaSyA-1234567890abcdefghijklmnopqrstu'],
  [
    'blob https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=Xk9%2FabcDEF123%3D&se=2026',
    'Xk9%2FabcDEF123%3D',
  ],
  [
    'aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY set',
    'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  ],
  ['card 4111.1111.1111.1111 charged', '4111.1111.1111.1111'],
];

// Near misses: must pass untouched.
const NEAR_MISSES = [
  'passwordless=true for tenant acme',
  'order 4111111111111112 shipped',
  'tokenizer=bpe max_tokens=512',
  'Bearer token expired, refreshing',
  'Basic authentication disabled',
  'reach me at ops@localhost',
  'ssn-like 000-12-3456 and 666-12-3456 and 123-00-4567',
  'call 555-123-4567 now',
  'version 1.2.3 build 2024-05-01T12:00:00Z',
  'correlation c-0000002a-9f1 trace 4bf92f3577b34da6a3ce929d0e0e4736',
  'AKIA short AKIA123',
  'token_type=Bearer scope=read',
  'task accepted',
  // #17.10: a pod UID ends in a Luhn-valid 16-digit run; it is not a card.
  'pod 11111111-2222-3333-4444-555555555555 started',
  'uid 0f9e8d7c-1111-2222-4444-555555555555',
  'commit 3f786850e387550fdab836ed7e6dc881de23001b merged',
  'bypass=true compass: north',
  'sigma=3 signal: SIGTERM',
];

describe('redact', () => {
  it.each(SECRETS)('masks %s', (text, secret) => {
    const out = msg(text);
    expect(out).not.toContain(secret);
    expect(out).toContain('[REDACTED]');
  });

  it.each(NEAR_MISSES)('leaves near-miss alone: %s', (text) => {
    expect(msg(text)).toBe(text);
  });

  it('keeps the key, separator, quotes and auth scheme', () => {
    expect(msg('password=hunter2 ok')).toBe('password=[REDACTED] ok');
    expect(msg('{"token":"abc"}')).toBe('{"token":"[REDACTED]"}');
    expect(msg('Authorization: Bearer abcdef123456')).toBe('Authorization: Bearer [REDACTED]');
  });

  it('masks nested fields by key and by content; numbers that are cards', async () => {
    const { f, ctx } = make();
    const oauth = {
      event: 'oauth.token.issued',
      client: { id: 'web', client_secret: 'zzz' },
      request: { headers: { authorization: 'Bearer abc.def.ghi', accept: '*/*' } },
      grants: [{ refresh_token: 'r-123' }, 'contact bob@example.com'],
      payment: { card: 4111111111111111, amount: 1999 },
      passwordless: true,
      max_tokens: 100,
    };
    const rec = newRecord(structuredClone(oauth));
    rec.raw = JSON.stringify(oauth);
    const [r] = f.process([rec], 't');
    const j = JSON.stringify(r.fields);
    for (const s of ['zzz', 'abc.def.ghi', 'r-123', 'bob@example.com', '4111111111111111']) {
      expect(j).not.toContain(s);
    }
    expect(r.fields.passwordless).toBe(true);
    expect(r.fields.max_tokens).toBe(100);
    expect((r.fields.payment as Fields).amount).toBe(1999);
    expect(r.raw).toBeUndefined();
    expect(await ctx.count('modified')).toBe(1);
    const c = await ctx.metrics.registry.getSingleMetric('shiplog_redactions_total')!.get();
    const by = Object.fromEntries(c.values.map((v) => [v.labels.detector, v.value]));
    expect(by).toMatchObject({ key_value: 3, email: 1, credit_card: 1 });
  });

  it('an unchanged record keeps its raw text', () => {
    const rec = newRecord({ level: 'info', message: 'task accepted' });
    rec.raw = '{"level":"info","message":"task accepted"}';
    expect(make().f.process([rec], 't')[0].raw).toBe(rec.raw);
  });

  it('hash mode: salted, equal values correlate, different salts differ', () => {
    process.env.TEST_SALT_A = 'salt-a';
    process.env.TEST_SALT_B = 'salt-b';
    const a1 = msg('password=hunter2', { mode: 'hash', salt_env: 'TEST_SALT_A' });
    const a2 = msg('token: hunter2', { mode: 'hash', salt_env: 'TEST_SALT_A' });
    const b = msg('password=hunter2', { mode: 'hash', salt_env: 'TEST_SALT_B' });
    expect(a1).toMatch(/^password=\[REDACTED:[0-9a-f]{16}\]$/);
    expect(a1.slice(9)).toBe(a2.slice(7));
    expect(a1).not.toBe(b);
    expect(() => make({ mode: 'hash', salt_env: 'TEST_SALT_UNSET_X' })).toThrow(/salt/);
  });

  it('detectors can be switched off; custom patterns with a secret group; fields limits scope', () => {
    expect(msg('mail bob@example.com', { detectors: { email: false } })).toBe(
      'mail bob@example.com',
    );
    expect(msg('employee E-123456 badge', { patterns: [{ name: 'emp', regex: 'E-\\d{6}' }] })).toBe(
      'employee [REDACTED] badge',
    );
    expect(msg('pin:4321;', { patterns: [{ name: 'pin', regex: 'pin:(?<secret>\\d{4})' }] })).toBe(
      'pin:[REDACTED];',
    );
    const r = run(
      { message: 'bob@example.com', other: 'bob@example.com' },
      { fields: ['message'] },
    );
    expect(r).toEqual({ message: '[REDACTED]', other: 'bob@example.com' });
  });

  it('is linear on adversarial inputs (1 MiB each, bounded time)', () => {
    const n = 1 << 20;
    const hostile = [
      'a'.repeat(n), // email local part without @
      'a'.repeat(n) + '@',
      ('a.' as string).repeat(n / 2) + '@x',
      '1 '.repeat(n / 2), // card separators
      '1-'.repeat(n / 2),
      'password='.repeat(n / 9),
      'password="' + 'x'.repeat(n),
      '-----BEGIN PRIVATE KEY-----' + 'A'.repeat(n),
      'eyJ' + 'a'.repeat(n),
      'Bearer ' + 'a'.repeat(n),
      'x://' + ':'.repeat(n),
      'A'.repeat(n),
    ];
    const { f } = make();
    for (const h of hostile) {
      const t0 = performance.now();
      f.process([newRecord({ message: h })], 't');
      expect(performance.now() - t0, h.slice(0, 20)).toBeLessThan(3000);
    }
  });

  it('custom pattern with catastrophic shape is still fast (linear fallback)', () => {
    const { f } = make({ patterns: [{ name: 'evil', regex: '(a+)+b' }] });
    const t0 = performance.now();
    f.process([newRecord({ message: 'a'.repeat(50_000) + '!' })], 't');
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('secrets used as keys are masked in the key; name/value pairs as objects too (#17.10)', () => {
    const r = run({
      tokens: { ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789: { scopes: ['repo'] } },
      env: [
        { name: 'DB_PASSWORD', value: 'pg-s3cret-99' },
        { name: 'LOG_LEVEL', value: 'info' },
      ],
    });
    const j = JSON.stringify(r);
    expect(j).not.toContain('ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789');
    expect(j).not.toContain('pg-s3cret-99');
    expect(j).toContain('"scopes":["repo"]');
    expect((r.env as Fields[])[1].value).toBe('info');
  });

  it('fails closed: a record redaction throws on is dropped, the others pass (#17.10)', async () => {
    const { f, ctx } = make();
    const evil: Fields = { message: 'password=hunter2' };
    Object.defineProperty(evil, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter exploded');
      },
    });
    const out = f.process(
      [newRecord({ message: 'a password=x1' }), newRecord(evil), newRecord({ message: 'ok' })],
      't',
    );
    expect(out.map((r) => r.fields.message)).toEqual(['a password=[REDACTED]', 'ok']);
    expect(await ctx.count('error')).toBe(1);
  });

  it('luhn', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(luhn('79927398713')).toBe(false); // valid Luhn but too short for a card
  });
});
