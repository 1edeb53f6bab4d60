// The JSON-line fast paths (cutting label fields out of the raw text, masking them for one
// JSON.stringify) must produce exactly what the copying path produces:
// JSON.stringify(withoutPaths(fields, label fields)), or the raw text when no label field is in it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/record.js';
import { encodeJson, encodeProtobuf } from './body.js';
import type { LokiEncoder } from './encoder.js';
import { testLokiEncoder } from '../../../../test/helpers/loki-encoder.js';
import { spliceTopKeys, stringifyMasked, withoutPaths } from './json-cut.js';
import { encodePushRequest, type PushStream } from './logproto.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const DROP = ['level', 'component'];

function enc(maxLineBytes = 256_000): LokiEncoder {
  return testLokiEncoder(
    { labels: { job: 'bench', level: '{level}', component: '{component}' }, maxLineBytes },
    NOW,
  );
}

/** The reference: the copying path. */
function expected(fields: Record<string, unknown>, raw?: string): string {
  if (raw !== undefined && !DROP.some((k) => Object.hasOwn(fields, k))) return raw;
  return JSON.stringify(
    withoutPaths(
      fields,
      DROP.map((k) => [k]),
    ),
  );
}

const key = fc.oneof(
  fc.constantFrom('level', 'component', 'msg', 'a', '7', '__proto__', 'é', 'x"y', 'levels'),
  fc.string({ maxLength: 6 }),
);
const fieldsArb = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 });

describe('JSON lines without label fields', () => {
  it('spliceTopKeys equals the copying path on canonical text, or declines', () => {
    let cut = 0;
    fc.assert(
      fc.property(fieldsArb, fc.boolean(), (fields, spaced) => {
        const raw = spaced ? JSON.stringify(fields, null, 1) : JSON.stringify(fields);
        const got = spliceTopKeys(raw, DROP);
        if (!spaced || raw === JSON.stringify(fields)) {
          // No integer-like keys or odd numbers: canonical text is always cut.
          if (got !== undefined) {
            expect(got).toBe(expected(fields, raw));
            if (got !== raw) cut++;
          }
        } else expect(got).toBeUndefined();
      }),
      { numRuns: 1000, seed: 7 },
    );
    expect(cut).toBeGreaterThan(100); // the fast path is exercised, not always declined
  });

  it('cuts typical lines and declines what JSON.stringify would write differently', () => {
    const raw = '{"ts":"t","level":"info","component":"gw","n":-12.5,"ok":true,"o":{"a":[1,null]}}';
    expect(spliceTopKeys(raw, DROP)).toBe('{"ts":"t","n":-12.5,"ok":true,"o":{"a":[1,null]}}');
    expect(spliceTopKeys('{"level":"x"}', DROP)).toBe('{}');
    expect(spliceTopKeys('{"level":"x","a":1}', DROP)).toBe('{"a":1}');
    expect(spliceTopKeys('{"a":1,"level":"x"}', DROP)).toBe('{"a":1}');
    expect(spliceTopKeys('{"level":"x","a":1,"component":"c"}', DROP)).toBe('{"a":1}');
    expect(spliceTopKeys('{"a":"say \\"hi\\"\\n😀","level":"x"}', DROP)).toBe(
      '{"a":"say \\"hi\\"\\n😀"}',
    );
    expect(spliceTopKeys('{"a":1}', DROP)).toBe('{"a":1}');
    for (const odd of [
      '{"a": 1,"level":"x"}', // whitespace
      '{"a":"\\u0041","level":"x"}', // an escape JSON.stringify does not write
      '{"a":"\\/","level":"x"}',
      '{"a":1.50,"level":"x"}', // non-canonical numbers
      '{"a":1e3,"level":"x"}',
      '{"a":-0,"level":"x"}',
      '{"a":12345678901234567,"level":"x"}',
      '{"b":1,"2":1,"level":"x"}', // V8 puts integer-like keys first
      '{"a":"\ud800","level":"x"}', // lone surrogate: JSON.stringify escapes it
      '{"a":1,"level":"x"} ',
    ]) {
      expect(spliceTopKeys(odd, DROP), odd).toBeUndefined();
    }
  });

  it('stringifyMasked equals the copying path and leaves the object as it was', () => {
    fc.assert(
      fc.property(fieldsArb, (fields) => {
        const before = JSON.stringify(fields);
        const keys = Object.keys(fields);
        expect(stringifyMasked(fields, DROP)).toBe(expected(fields));
        expect(JSON.stringify(fields)).toBe(before);
        expect(Object.keys(fields)).toEqual(keys);
      }),
      { numRuns: 500, seed: 11 },
    );
    const frozen = Object.freeze({ level: 'x', a: 1 });
    expect(stringifyMasked(frozen, DROP)).toBeUndefined();
    expect(enc().line({ fields: frozen, timeMs: NOW, timeNs: 0 })).toBe('{"a":1}');
  });

  it('prepare + the wire writer send the same lines as the copying path (raw or not, ASCII or not)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fieldsArb, fc.constantFrom('info', 'warn', 'ü'), fc.boolean()), {
          minLength: 1,
          maxLength: 20,
        }),
        (rows) => {
          const recs: LogRecord[] = rows.map(([f, level, withRaw], i) => {
            const fields = { ...f, level, component: `c${i % 3}` };
            const r: LogRecord = { fields, timeMs: NOW - i, timeNs: i };
            if (withRaw) r.raw = JSON.stringify(fields);
            return r;
          });
          const p = enc().prepare(recs);
          const lines = new Map<number, string>();
          const ref: PushStream[] = [];
          for (const st of p.pushes[0].streams) {
            const entries: PushStream['entries'] = [];
            for (const e of st.entries) {
              lines.set(e.index, e.line);
              entries.push({ timestamp: { seconds: e.seconds, nanos: e.nanos }, line: e.line });
            }
            ref.push({ labels: st.labels, entries });
          }
          recs.forEach((r, i) => expect(lines.get(i)).toBe(expected(r.fields, r.raw)));
          expect(Buffer.from(encodeProtobuf(p.pushes[0])).toString('hex')).toBe(
            Buffer.from(encodePushRequest(ref)).toString('hex'),
          );
          expect(JSON.parse(encodeJson(p.pushes[0])).streams).toHaveLength(ref.length);
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });

  it('input metadata beside the raw line (rawExtra: file) is appended like the copying path', () => {
    const fileArb = fc.oneof(
      fc.record({ path: fc.constantFrom('/var/log/a.log', '/var/log/ü.log', 'x"y') }),
      fc.record({ path: fc.string({ maxLength: 4 }), n: fc.integer() }),
      fc.jsonValue({ maxDepth: 2 }),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fieldsArb, fileArb, fc.constantFrom('info', 'ü'), fc.boolean()), {
          minLength: 1,
          maxLength: 12,
        }),
        (rows) => {
          const e = enc();
          const recs: LogRecord[] = rows.map(([f, file, level, second], i) => {
            const parsed: Record<string, unknown> = { ...f, level, component: `c${i % 2}` };
            delete parsed.file;
            delete parsed.other;
            if (i % 3 === 0) delete parsed.level; // a raw line with nothing cut
            const raw = JSON.stringify(parsed);
            // Each record its own metadata object (as the file input makes them), often equal.
            const copy = file !== null && typeof file === 'object' ? { ...file } : file;
            const fields: Record<string, unknown> = { ...parsed, file: copy };
            const extra = ['file'];
            if (second) {
              fields.other = i;
              extra.push('other');
            }
            return { fields, timeMs: NOW - i, timeNs: i, raw, rawExtra: extra };
          });
          const p = e.prepare(recs);
          const lines = new Map<number, string>();
          const ref: PushStream[] = [];
          for (const st of p.pushes[0].streams) {
            const entries: PushStream['entries'] = [];
            for (const en of st.entries) {
              lines.set(en.index, en.line);
              entries.push({ timestamp: { seconds: en.seconds, nanos: en.nanos }, line: en.line });
            }
            ref.push({ labels: st.labels, entries });
          }
          recs.forEach((r, i) => {
            const want = JSON.stringify(withoutPaths(r.fields, [['level'], ['component']]));
            expect(lines.get(i)).toBe(want);
            expect(e.line(r)).toBe(want);
          });
          expect(Buffer.from(encodeProtobuf(p.pushes[0])).toString('hex')).toBe(
            Buffer.from(encodePushRequest(ref)).toString('hex'),
          );
        },
      ),
      { numRuns: 300, seed: 5 },
    );
  });

  it('does not reuse the metadata text of an earlier record once the value differs', () => {
    const e = enc();
    const rec = (path: unknown): LogRecord => {
      const fields = { a: 1, level: 'x', file: path };
      return { fields, timeMs: NOW, timeNs: 0, raw: '{"a":1,"level":"x"}', rawExtra: ['file'] };
    };
    const shared = { path: '/a' };
    const recs = [rec(shared), rec({ path: '/a' }), rec({ path: '/b' }), rec({ path: '/b', x: 1 })];
    const lines = (): string[] => e.prepare(recs).pushes[0].streams[0].entries.map((x) => x.line);
    expect(lines()).toEqual([
      '{"a":1,"file":{"path":"/a"}}',
      '{"a":1,"file":{"path":"/a"}}',
      '{"a":1,"file":{"path":"/b"}}',
      '{"a":1,"file":{"path":"/b","x":1}}',
    ]);
    shared.path = '/c'; // mutated after it was encoded once
    expect(lines()[0]).toBe('{"a":1,"file":{"path":"/c"}}');
    expect(e.prepare([rec('/d')]).pushes[0].streams[0].entries[0].line).toBe('{"a":1,"file":"/d"}');
    expect(e.prepare([rec({ level: 'l' })]).pushes[0].streams[0].entries[0].line).toBe(
      '{"a":1,"file":{"level":"l"}}',
    );
  });

  it('truncates a cut line with input metadata after the metadata is appended', () => {
    const parsed = { level: 'info', msg: 'x'.repeat(30) };
    const fields = { ...parsed, file: { path: '/var/log/a.log' } };
    const raw = JSON.stringify(parsed);
    const p = enc(50).prepare([{ fields, raw, rawExtra: ['file'], timeMs: NOW, timeNs: 0 }]);
    expect(p.truncated).toBe(1);
    const full = `{"msg":"${'x'.repeat(30)}","file":{"path":"/var/log/a.log"}}`;
    expect(p.pushes[0].streams[0].entries[0].line).toBe(full.slice(0, 50));
    expect(
      enc(full.length).prepare([{ fields, raw, rawExtra: ['file'], timeMs: NOW, timeNs: 0 }])
        .truncated,
    ).toBe(0);
  });

  it('truncates a cut line at max_line_bytes like any other line', () => {
    const fields = { level: 'info', component: 'gw', msg: 'x'.repeat(100) };
    const p = enc(40).prepare([{ fields, raw: JSON.stringify(fields), timeMs: NOW, timeNs: 0 }]);
    expect(p.truncated).toBe(1);
    expect(p.pushes[0].streams[0].entries[0].line).toBe(`{"msg":"${'x'.repeat(32)}`);
  });
});

describe('JSON lines with a label field nested in input metadata (kubernetes)', () => {
  const mixed = testLokiEncoder(
    { labels: { job: 'k', level: '{level}', namespace: '{kubernetes.namespace_name}' } },
    NOW,
  );
  const drops = [['level'], ['kubernetes', 'namespace_name']];
  const meta = fc.record(
    {
      namespace_name: fc.string({ maxLength: 5 }),
      pod_name: fc.string({ maxLength: 5 }),
      labels: fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 })),
    },
    { requiredKeys: [] },
  );

  it('equals the copying path: raw line cut, metadata serialised without its label field', () => {
    fc.assert(
      fc.property(fieldsArb, meta, fc.boolean(), (parsed, kubernetes, inLine) => {
        // The parsed line is the raw text; `kubernetes` is metadata merged beside it (rawExtra),
        // or (inLine) part of the line itself, where only the copying path applies.
        const line: Record<string, unknown> = { ...parsed };
        delete line.kubernetes;
        if (inLine) line.kubernetes = kubernetes;
        const raw = JSON.stringify(line);
        const fields: Record<string, unknown> = inLine ? line : { ...line, kubernetes };
        const rec: LogRecord = {
          fields,
          timeMs: NOW,
          timeNs: 0,
          raw,
          rawExtra: inLine ? undefined : ['kubernetes'],
        };
        const want = JSON.stringify(withoutPaths(fields, drops));
        expect(mixed.line(rec)).toBe(want);
      }),
      { numRuns: 500 },
    );
  });
});
