import { describe, expect, it } from 'vitest';
import { newRecord, recordJson, type Fields, type LogRecord } from '../../../core/record.js';
import { lineRecord, testContext } from '../_shared/testing.js';
import def from './index.js';
import { inspect, keyMarks } from './json.js';

function make(cfg: Record<string, unknown> = {}, ctx = testContext('pj')) {
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'parse_json', id: 'pj', match: '*' }, ctx), ctx };
}

const AGENT =
  '{"timestamp":"2024-05-01T12:00:00.123456789Z","level":"info","component":"planner","agent_id":"agent-7","correlation_id":"c-0000002a-9f1","message":"task accepted","context":{"tool":"search","duration_ms":12,"attempt":1,"seq":42}}';

describe('parse_json', () => {
  it('merges an agent line into the root, keeps the line as raw, sets ns time', async () => {
    const { f, ctx } = make({ time_field: 'timestamp' });
    const [r] = f.process([lineRecord(AGENT)], 'agents');
    expect(r.fields).toEqual(JSON.parse(AGENT));
    expect(r.raw).toBe(AGENT);
    expect(recordJson(r)).toBe(AGENT);
    expect(r.timeMs).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 123));
    expect(r.timeNs).toBe(456_789);
    expect(await ctx.count('modified')).toBe(1);
  });

  it('preserves input metadata (file) and keeps the line as raw text beside it', () => {
    const { f } = make();
    const [r] = f.process([lineRecord(AGENT, { file: '/var/log/a.log' })], 't');
    expect(r.fields.file).toBe('/var/log/a.log');
    expect(r.fields.level).toBe('info');
    expect(r.raw).toBe(AGENT);
    expect(r.rawExtra).toEqual(['file']);
    expect(JSON.parse(recordJson(r))).toEqual(r.fields);
  });

  it('merges metadata into the parsed object: line keys first, rawExtra per key set', () => {
    const { f } = make();
    const recs = [
      lineRecord('{"b":1,"a":2}', { file: 'x.log' }),
      lineRecord('{"c":3}', { file: 'y.log' }),
      lineRecord('{"d":4}', { file: 'z.log', truncated: true }),
      lineRecord('{"e":5}', { file: 'w.log' }),
    ];
    const out = f.process(recs, 't');
    expect(Object.keys(out[0].fields)).toEqual(['b', 'a', 'file']);
    expect(out.map((r) => r.rawExtra)).toEqual([
      ['file'],
      ['file'],
      ['file', 'truncated'],
      ['file'],
    ]);
    expect(out.map((r) => recordJson(r))).toEqual([
      '{"b":1,"a":2,"file":"x.log"}',
      '{"c":3,"file":"y.log"}',
      '{"d":4,"file":"z.log","truncated":true}',
      '{"e":5,"file":"w.log"}',
    ]);
  });

  it('metadata named __proto__ stays data (the copying merge)', () => {
    const fields = JSON.parse('{"__proto__":{"polluted":1},"message":"{\\"a\\":1}"}') as Fields;
    const [r] = make().f.process([newRecord(fields, 1, 0)], 't');
    expect(Object.getPrototypeOf(r.fields)).toBe(Object.prototype);
    expect(Object.hasOwn(r.fields, '__proto__')).toBe(true);
    expect(r.fields.a).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('drops the raw text when the line and the metadata share a key', () => {
    const [r] = make().f.process(
      [lineRecord('{"file":"x","level":"warn"}', { file: 'real.log' })],
      't',
    );
    expect(r.raw).toBeUndefined();
    expect(r.rawExtra).toBeUndefined();
    expect(JSON.parse(recordJson(r))).toEqual(r.fields);
  });

  it('does not let a line spoof input metadata unless overwrite is set', () => {
    const line = '{"file":"/etc/shadow","level":"warn"}';
    expect(make().f.process([lineRecord(line, { file: 'real.log' })], 't')[0].fields.file).toBe(
      'real.log',
    );
    expect(
      make({ overwrite: true }).f.process([lineRecord(line, { file: 'real.log' })], 't')[0].fields
        .file,
    ).toBe('/etc/shadow');
  });

  it.each([
    ['duplicate keys', '{"a":1,"a":2}'],
    ['duplicate keys split by whitespace', '{"a":1,"a" :2,"b":3}'],
    ['nested duplicates', '{"o":{"x":1,"x":2},"y":1}'],
  ])('never keeps raw that differs from the fields: %s', (_n, line) => {
    const [r] = make().f.process([lineRecord(line)], 't');
    expect(r.raw).toBeUndefined();
    expect(JSON.parse(recordJson(r))).toEqual(r.fields);
  });

  it('keeps raw for whitespace-formatted JSON (same meaning)', () => {
    const line = '{ "a" : 1, "b": {"c": [1, 2]} }';
    const [r] = make().f.process([lineRecord(line)], 't');
    expect(r.raw).toBe(line);
    expect(JSON.parse(r.raw!)).toEqual(r.fields);
  });

  it('on_error keep / drop / dead_letter, counted', async () => {
    const bad = ['not json', '{"unterminated": ', '[1,2]', '42', ''];
    for (const on_error of ['keep', 'drop', 'dead_letter'] as const) {
      const { f, ctx } = make({ on_error });
      const recs = [...bad.map((b) => lineRecord(b)), lineRecord('{"ok":true}')];
      const out = f.process(recs, 'tag1');
      expect(await ctx.count('error')).toBe(bad.length);
      if (on_error === 'keep') {
        expect(out).toHaveLength(6);
        expect(out[0].fields).toEqual({ message: 'not json' });
      } else {
        expect(out.map((r) => r.fields)).toEqual([{ ok: true }]);
      }
      expect(ctx.deadLetters).toHaveLength(on_error === 'dead_letter' ? bad.length : 0);
      if (on_error === 'dead_letter') expect(ctx.deadLetters[0].tag).toBe('tag1');
    }
  });

  it('guards deep nesting without recursion (200k levels) and bounds max_depth', () => {
    const deep = '{"a":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}';
    const { f, ctx } = make({ max_depth: 64 });
    const [r] = f.process([lineRecord(deep)], 't');
    expect(r.fields).toEqual({ message: deep });
    expect(ctx.logs.some((l) => /max_depth/.test(String(l.fields?.reason)))).toBe(true);
    const ok = '{"a":' + '['.repeat(60) + ']'.repeat(60) + '}';
    expect(f.process([lineRecord(ok)], 't')[0].fields.a).toBeInstanceOf(Array);
    expect(inspect(JSON.parse(deep), 1e9)).toBe(1);
  });

  it('parses a huge line (4 MiB) and invalid UTF-8 replaced by the reader', () => {
    const big = JSON.stringify({ level: 'info', blob: 'x'.repeat(4 << 20) });
    const [r] = make().f.process([lineRecord(big)], 't');
    expect((r.fields.blob as string).length).toBe(4 << 20);
    const bytes = Buffer.concat([
      Buffer.from('{"m":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('b"}'),
    ]);
    const [u] = make().f.process([lineRecord(bytes.toString('utf8'))], 't');
    expect(u.fields.m).toBe('a\ufffd\ufffdb');
  });

  it('target nests, keep_original keeps the source, __proto__ stays data', () => {
    const [r] = make({ target: 'body', keep_original: true }).f.process(
      [lineRecord('{"__proto__":{"polluted":1},"x":1}')],
      't',
    );
    expect(r.fields.message).toBeTypeOf('string');
    expect((r.fields.body as Record<string, unknown>).x).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each<[string, unknown, number, number]>([
    ['auto', '2024-05-01T12:00:00Z', Date.UTC(2024, 4, 1, 12), 0],
    ['auto', '2024-05-01T14:00:00.5+02:00', Date.UTC(2024, 4, 1, 12, 0, 0, 500), 0],
    ['auto', 1714564800, Date.UTC(2024, 4, 1, 12), 0],
    ['auto', 1714564800123, Date.UTC(2024, 4, 1, 12, 0, 0, 123), 0],
    ['auto', '1714564800123456789', Date.UTC(2024, 4, 1, 12, 0, 0, 123), 456_789],
    ['epoch_s', '1714564800.25', Date.UTC(2024, 4, 1, 12, 0, 0, 250), 0],
    ['epoch_us', 1714564800123456, Date.UTC(2024, 4, 1, 12, 0, 0, 123), 456_000],
    ['%d/%b/%Y:%H:%M:%S %z', '01/May/2024:14:00:00 +0200', Date.UTC(2024, 4, 1, 12), 0],
    ['%d %b %Y %H:%M:%S.%f', '01 May 2024 12:00:00.042', Date.UTC(2024, 4, 1, 12, 0, 0, 42), 0],
  ])('time_format %s: %s', (fmt, v, ms, ns) => {
    const rec = lineRecord(JSON.stringify({ t: v }));
    const [r] = make({ time_field: 't', time_format: fmt }).f.process([rec], 'x');
    expect([r.timeMs, r.timeNs]).toEqual([ms, ns]);
  });

  it('a bad time keeps the record time and counts time_error; keep_time: false drops the field', async () => {
    const { f, ctx } = make({ time_field: 't' });
    const rec: LogRecord = lineRecord('{"t":"yesterday-ish"}');
    const before = rec.timeMs;
    expect(f.process([rec], 'x')[0].timeMs).toBe(before);
    expect(await ctx.count('time_error')).toBe(1);
    const [r] = make({ time_field: 't', keep_time: false }).f.process(
      [lineRecord('{"t":1714564800,"a":1}')],
      'x',
    );
    expect(r.fields).toEqual({ a: 1 });
    expect(r.raw).toBeUndefined();
  });

  it('keyMarks counts key colons, not colons in values', () => {
    expect(keyMarks('{"a":"1:2","b" : 3}')).toBe(2);
  });
});
