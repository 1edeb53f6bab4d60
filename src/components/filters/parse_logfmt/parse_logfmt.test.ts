import { describe, expect, it } from 'vitest';
import { lineRecord, testContext } from '../_shared/testing.js';
import def from './index.js';

function make(cfg: Record<string, unknown> = {}) {
  const ctx = testContext('lf');
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'parse_logfmt', id: 'lf', match: '*' }, ctx), ctx };
}

describe('parse_logfmt', () => {
  it.each<[string, Record<string, unknown>]>([
    [
      'level=info msg="task accepted" agent_id=agent-7',
      { level: 'info', msg: 'task accepted', agent_id: 'agent-7' },
    ],
    [
      'at=info method=GET path="/" dyno=web.1 connect=1ms status=200 bytes=1548 fwd',
      {
        at: 'info',
        method: 'GET',
        path: '/',
        dyno: 'web.1',
        connect: '1ms',
        status: '200',
        bytes: '1548',
        fwd: true,
      },
    ],
    ['msg="say \\"hi\\"\\n" empty= x=1', { msg: 'say "hi"\n', empty: '', x: '1' }],
    ['a=1 a=2 unterminated="abc', { a: '2', unterminated: 'abc' }],
    ['url=https://x/?a=b&c=d', { url: 'https://x/?a=b&c=d' }],
  ])('%s', (line, want) => {
    const [r] = make().f.process([lineRecord(line)], 't');
    expect(r.fields).toEqual(want);
  });

  it('types and auto_types; time', () => {
    const [r] = make({ auto_types: true, types: { code: 'string' }, time_field: 'ts' }).f.process(
      [lineRecord('ok=true n=42 f=1.5 q="7" code=007 ts=2024-05-01T12:00:00Z')],
      't',
    );
    expect(r.fields).toMatchObject({ ok: true, n: 42, f: 1.5, q: '7', code: '007' });
    expect(r.timeMs).toBe(Date.UTC(2024, 4, 1, 12));
  });

  it('plain text is an error (kept); 1 MiB of "=" is linear', async () => {
    const { f, ctx } = make();
    expect(f.process([lineRecord('just some words')], 't')[0].fields).toEqual({
      message: 'just some words',
    });
    expect(await ctx.count('error')).toBe(1);
    const t0 = performance.now();
    f.process([lineRecord('='.repeat(1 << 20)), lineRecord('a="' + '\\'.repeat(1 << 20))], 't');
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
