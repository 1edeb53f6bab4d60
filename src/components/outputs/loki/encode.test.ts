import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/record.js';
import { sanitizeLabelName, truncateUtf8 } from '../../_shared/loki-labels/index.js';
import { encodeJson, encodeProtobuf } from './body.js';
import type { EncoderConfig, LokiEncoder } from './encoder.js';
import { testLokiEncoder } from '../../../../test/helpers/loki-encoder.js';
import { canonicalDecimal } from './json-cut.js';
import { labelsText } from './labels.js';
import { attributeRejections, parseGoTime } from './rejections.js';
import { tenantProblem } from './tenant.js';
import { nsString } from './time.js';
import { decodePushRequest } from './logproto.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');

function enc(over: Partial<EncoderConfig> = {}): LokiEncoder {
  return testLokiEncoder(
    {
      labels: { job: 'agents', level: '{level}' },
      rejectOlderThanMs: 7 * 86_400_000,
      ...over,
    },
    NOW,
  );
}

function rec(fields: Record<string, unknown>, timeMs = NOW - 1000, timeNs = 0): LogRecord {
  return { fields, timeMs, timeNs };
}

describe('labels', () => {
  it('sanitises names to Loki rules', () => {
    expect(sanitizeLabelName('level')).toBe('level');
    expect(sanitizeLabelName('k8s.pod-name')).toBe('k8s_pod_name');
    expect(sanitizeLabelName('1st')).toBe('_1st');
    expect(sanitizeLabelName('__name__')).toBe('_name__');
    expect(sanitizeLabelName('...')).toBeUndefined();
    expect(sanitizeLabelName('')).toBeUndefined();
  });

  it('prints selectors like Loki, escaping values', () => {
    expect(
      labelsText([
        ['a', 'x'],
        ['b', 'say "hi"\n'],
      ]),
    ).toBe('{a="x", b="say \\"hi\\"\\n"}');
  });

  it('renders templates, merges record labels, drops empty values, sorts', () => {
    const r = rec({ level: 'warn', message: 'm' });
    r.labels = { 'app.name': 'gw', job: 'override', empty: '' };
    const p = enc().prepare([r, rec({ message: 'no level' })]);
    const streams = p.pushes[0].streams.map((s) => s.labels);
    expect(streams).toEqual(['{app_name="gw", job="override", level="warn"}', '{job="agents"}']);
  });

  it('keeps at most 15 labels per stream, configured ones first', () => {
    const r = rec({ level: 'info' });
    r.labels = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`a${i}`, 'v']));
    const p = enc().prepare([r]);
    const pairs = p.pushes[0].streams[0].pairs;
    expect(pairs).toHaveLength(15);
    expect(pairs.map((x) => x[0])).toContain('job');
    expect(pairs.map((x) => x[0])).toContain('level');
    expect(p.labelsDropped).toBe(7);
  });

  it('falls back to job="shiplog" when no label is left', () => {
    const p = enc({ labels: { level: '{level}' } }).prepare([rec({ message: 'x' })]);
    expect(p.pushes[0].streams[0].labels).toBe('{job="shiplog"}');
  });

  it('max_streams refuses new label sets and names the exploding label', () => {
    const e = enc({ labels: { job: 'a', level: '{level}', req: '{request_id}' }, maxStreams: 5 });
    const recs = Array.from({ length: 8 }, (_, i) => rec({ level: 'info', request_id: `r${i}` }));
    const p = e.prepare(recs);
    expect(p.pushes[0].count).toBe(5);
    expect(p.rejected.map((r) => r.index)).toEqual([5, 6, 7]);
    expect(p.rejected[0].reason).toMatch(/max_streams \(5\) reached/);
    expect(p.explodingLabel).toEqual({ name: 'req', values: 5 });
    // Known streams keep flowing.
    expect(e.prepare([rec({ level: 'info', request_id: 'r1' })]).rejected).toHaveLength(0);
  });
});

describe('lines', () => {
  it('reuses the raw JSON when no label field is in the record', () => {
    const raw = '{"msg":"hello",  "n":1}';
    const r: LogRecord = { ...rec({ msg: 'hello', n: 1 }), raw };
    expect(enc().line(r)).toBe(raw);
  });

  it('cuts label fields from raw text and appends input metadata kept beside it (rawExtra)', () => {
    const raw = '{"level":"warn","component":"api","msg":"x"}';
    const fields = { file: { path: '/var/log/a.log' }, level: 'warn', component: 'api', msg: 'x' };
    const r: LogRecord = { ...rec(fields), raw, rawExtra: ['file'] };
    const e = enc({ labels: { level: '{level}', component: '{component}' } });
    expect(JSON.parse(e.line(r))).toEqual({ msg: 'x', file: { path: '/var/log/a.log' } });
    const p = e.prepare([r]);
    expect(p.pushes[0].streams[0].entries[0].line).toBe(e.line(r));
  });

  it('drops fields used as labels (nested too) without touching the record', () => {
    const fields = { level: 'warn', k: { ns: 'a', x: 1 }, message: 'm' };
    const r: LogRecord = { ...rec(fields), raw: JSON.stringify(fields) };
    const e = enc({ labels: { level: '{level}', ns: '{k.ns}' } });
    expect(JSON.parse(e.line(r))).toEqual({ k: { x: 1 }, message: 'm' });
    expect(fields).toEqual({ level: 'warn', k: { ns: 'a', x: 1 }, message: 'm' });
  });

  it('sends an unparsed raw line as itself; line_format message takes one field', () => {
    expect(enc().line(rec({ message: '{"a":1}' }))).toBe('{"a":1}');
    const e = enc({ lineFormat: 'message', messageField: 'log' });
    expect(e.line(rec({ log: 'text', level: 'x' }))).toBe('text');
    expect(e.line(rec({ level: 'x' }))).toBe('{"level":"x"}');
  });

  it('truncates at max_line_bytes on a character boundary and counts it', () => {
    expect(truncateUtf8('aé€', 4)).toBe('aé');
    const p = enc({ maxLineBytes: 10 }).prepare([rec({ message: 'x'.repeat(50) })]);
    expect(p.pushes[0].streams[0].entries[0].line).toBe('x'.repeat(10));
    expect(p.truncated).toBe(1);
  });
});

describe('time', () => {
  it("time_field: RFC 3339 to ns and epochs by magnitude (the parse filters' parser, auto)", () => {
    const at = (ts: unknown): [number, number] | undefined => {
      const p = enc({ timeField: 'ts', rejectOlderThanMs: 0 }).prepare([rec({ ts }, 1, 0)]);
      if (p.badTimes > 0) return undefined;
      const e = p.pushes[0].streams[0].entries[0];
      return [e.seconds * 1000 + Math.floor(e.nanos / 1e6), e.nanos % 1e6];
    };
    expect(at('2025-03-01T12:00:00.123456789Z')).toEqual([NOW + 123, 456789]);
    expect(at('2025-03-01T13:00:00+01:00')).toEqual([NOW, 0]);
    expect(at(NOW / 1000)).toEqual([NOW, 0]);
    expect(at(NOW)).toEqual([NOW, 0]);
    expect(at(`${NOW}000123`)).toEqual([NOW, 123]);
    expect(at('yesterday')).toBeUndefined();
    expect(nsString(1740830400, 5)).toBe('1740830400000000005');
  });

  it('uses time_field when set, sorts entries per stream, keeps ns', () => {
    const e = enc({ timeField: 'ts' });
    const p = e.prepare([
      rec({ level: 'a', ts: '2025-03-01T11:00:00.000000002Z' }),
      rec({ level: 'a', ts: '2025-03-01T11:00:00.000000001Z' }),
      rec({ level: 'a', ts: 'garbage' }, NOW - 5, 7),
    ]);
    const es = p.pushes[0].streams[0].entries;
    expect(es.map((x) => x.index)).toEqual([1, 0, 2]);
    expect(es[0].timestamp).toEqual({ seconds: (NOW - 3_600_000) / 1000, nanos: 1 });
    expect(es[2].timestamp).toEqual({ seconds: NOW / 1000 - 1, nanos: 995_000_007 });
    expect(p.badTimes).toBe(1);
  });

  it('refuses entries older than reject_older_than before sending', () => {
    const p = enc().prepare([rec({ level: 'a' }, NOW - 8 * 86_400_000), rec({ level: 'a' })]);
    expect(p.rejected).toHaveLength(1);
    expect(p.rejected[0]).toMatchObject({ index: 0 });
    expect(p.rejected[0].reason).toMatch(/older than reject_older_than \(7d\)/);
    expect(p.pushes[0].count).toBe(1);
  });
});

describe('bodies', () => {
  it('protobuf round-trips with Loki field numbers, structured metadata and tenants', () => {
    const e = enc({ structuredMetadata: ['trace_id', 'ctx.req'], tenant: '{team}' });
    const p = e.prepare([
      rec({ level: 'info', team: 'a', trace_id: 't1', ctx: { req: 9 } }, NOW, 42),
      rec({ level: 'info', team: 'b' }),
    ]);
    expect(p.pushes.map((x) => x.tenant)).toEqual(['a', 'b']);
    const decoded = decodePushRequest(encodeProtobuf(p.pushes[0]));
    expect(decoded.streams[0].labels).toBe('{job="agents", level="info"}');
    const entry = decoded.streams[0].entries[0];
    expect(entry.timestamp).toEqual({ seconds: NOW / 1000, nanos: 42 });
    expect(entry.structuredMetadata).toEqual([
      { name: 'trace_id', value: 't1' },
      { name: 'ctx_req', value: '9' },
    ]);
    expect(JSON.parse(entry.line)).toEqual({ team: 'a', trace_id: 't1', ctx: { req: 9 } });
  });

  it('JSON body has string ns timestamps and metadata objects', () => {
    const e = enc({ structuredMetadata: ['trace_id'] });
    const p = e.prepare([rec({ level: 'info', trace_id: 't', message: 'm' }, NOW, 1)]);
    const doc = JSON.parse(encodeJson(p.pushes[0])) as unknown;
    expect(doc).toEqual({
      streams: [
        {
          stream: { job: 'agents', level: 'info' },
          values: [[`${NOW}000001`, '{"trace_id":"t","message":"m"}', { trace_id: 't' }]],
        },
      ],
    });
  });
});

describe('reading a 400 back onto entries', () => {
  const e = enc();
  const p = e.prepare([
    rec({ level: 'a', message: '1' }, NOW - 10_000, 5),
    rec({ level: 'a', message: '2' }, NOW - 9_000, 0),
    rec({ level: 'b', message: '3' }, NOW - 8_000, 0),
  ]);
  const push = p.pushes[0];

  it('ingester format: listed timestamps, then the stream', () => {
    const body =
      "entry with timestamp 2025-03-01 11:59:50.000000005 +0000 UTC ignored, reason: 'entry out of order',\n" +
      'user \'fake\', total ignored: 1 out of 2 for stream: {job="agents", level="a"}\n';
    const m = attributeRejections(body, push)!;
    expect([...m.keys()]).toEqual([0]);
    expect(m.get(0)).toMatch(/entry out of order/);
  });

  it('distributor formats: stream-level and entry-level', () => {
    const body =
      `entry for stream '{job="agents", level="b"}' has 16 label names; limit 15\n` +
      `entry for stream '{job="agents", level="a"}' has timestamp too new: 2025-03-01T11:59:51Z\n`;
    const m = attributeRejections(body, push)!;
    expect([...m.keys()].sort()).toEqual([1, 2]);
  });

  it('returns undefined for a body it cannot map', () => {
    expect(attributeRejections('something broke', push)).toBeUndefined();
    expect(parseGoTime('2025-03-01 12:00:00 +0000 UTC')).toEqual([NOW / 1000, 0]);
  });
});

describe('canonicalDecimal', () => {
  const slow = (t: string): boolean => {
    const v = Number(t);
    return Number.isFinite(v) && String(v) === t;
  };
  it('agrees with Number→String whenever it says yes (property), and accepts typical floats', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => String(Math.abs(v))),
          fc
            .tuple(fc.stringMatching(/^[0-9]{1,22}$/), fc.stringMatching(/^[0-9]{1,20}$/))
            .map(([a, b]) => `${a}.${b}`),
        ),
        (t) => {
          if (canonicalDecimal(t, 0, t.length)) expect(slow(t)).toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
    for (const t of ['123.456', '0.5', '0.000123', '99999.12345', '1.25'])
      expect(canonicalDecimal(t, 0, t.length)).toBe(true);
    for (const t of ['1.50', '01.5', '0.0000001', '1.', '.5', '1.2.3', '1234567890.1234567'])
      expect(canonicalDecimal(t, 0, t.length)).toBe(false);
  });
});

describe('tenants (#17.1)', () => {
  it.each([
    ['team-a', undefined],
    ["a!_.*'()-Z9", undefined],
    ['x'.repeat(150), undefined],
    ['', /rendered empty/],
    ['x'.repeat(151), /longer than 150/],
    ['.', /not allowed/],
    ['..', /not allowed/],
    ['café', /U\+00E9/],
    ['a\u0100', /U\+0100/],
    ['a\rb', /U\+000D/],
    ['a\nb', /U\+000A/],
    ['a\u0000b', /U\+0000/],
    ['a b', /U\+0020/],
    ['a/b', /"\/"/],
    ['a|b', /"\|"/],
  ])('tenantProblem(%j)', (t, want) => {
    const got = tenantProblem(t);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(want);
  });

  it('records with an invalid rendered tenant are refused with the reason, the rest sent', () => {
    const e = enc({ tenant: '{team}' });
    const p = e.prepare([
      rec({ level: 'info', team: 'a' }),
      rec({ level: 'info', team: 'a\nX-Evil: 1' }),
      rec({ level: 'info' }),
      rec({ level: 'info', team: 'b' }),
    ]);
    expect(p.pushes.map((x) => [x.tenant, x.count])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(p.rejected.map((r) => r.index)).toEqual([1, 2]);
    expect(p.rejected[0].reason).toMatch(/^invalid tenant: character U\+000A/);
  });

  it('a static tenant that breaks the rules is a config error', () => {
    expect(() => enc({ tenant: 'a b' })).toThrow(/character U\+0020/);
  });
});

describe('stream_quota (#17.7)', () => {
  it("one producer's many label values exhaust its own quota, not another's streams", () => {
    const e = enc({ maxStreams: 30, streamQuota: { by: '{ns}', max: 5 } });
    // Namespace "noisy" writes 20 distinct levels first.
    const noisy = Array.from({ length: 20 }, (_, i) => rec({ ns: 'noisy', level: `l${i}` }));
    const p1 = e.prepare(noisy);
    expect(p1.pushes[0].count).toBe(5);
    expect(p1.rejected.length).toBe(15);
    expect(p1.rejected[0].reason).toMatch(/stream_quota \(5 per \{ns\}\) reached for "noisy"/);
    // Another namespace still gets its streams.
    const quiet = ['info', 'warn', 'error'].map((level) => rec({ ns: 'quiet', level }));
    const p2 = e.prepare(quiet);
    expect(p2.rejected).toEqual([]);
    expect(p2.pushes[0].count).toBe(3);
  });

  it('without a quota the same producer starves the others (the shared pool)', () => {
    const e = enc({ maxStreams: 20 });
    e.prepare(Array.from({ length: 20 }, (_, i) => rec({ ns: 'noisy', level: `l${i}` })));
    const p2 = e.prepare([rec({ ns: 'quiet', level: 'info' })]);
    expect(p2.rejected[0].reason).toMatch(/max_streams \(20\) reached/);
  });
});
