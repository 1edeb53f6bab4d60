import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arena } from '../_shared/arena.js';
import type { LogRecord } from '../../../core/record.js';
import {
  autoId,
  compileId,
  compileIndex,
  createBulkEncoder,
  dataStreamIndex,
  IsoMs,
  rfc3339,
} from './encode.js';

const rec = (fields: Record<string, unknown>, timeMs: number, extra: Partial<LogRecord> = {}) =>
  ({ fields, timeMs, timeNs: 0, ...extra }) as LogRecord;

describe('compileIndex', () => {
  it('formats the record time in UTC, not local time', () => {
    const n = compileIndex('shiplog-%Y.%m.%d');
    // 23:59:59.999 UTC on Jan 2nd, and one ms later.
    expect(n.name(rec({}, Date.UTC(2024, 0, 2, 23, 59, 59, 999)))).toBe('shiplog-2024.01.02');
    expect(n.name(rec({}, Date.UTC(2024, 0, 3, 0, 0, 0, 0)))).toBe('shiplog-2024.01.03');
    // Going back in time must not return a stale cached name.
    expect(n.name(rec({}, Date.UTC(2023, 11, 31, 12)))).toBe('shiplog-2023.12.31');
  });

  it('supports hours, minutes, seconds, day of year, 2-digit year and %%', () => {
    const n = compileIndex('x-%y%j-%H%M%S-100%%');
    expect(n.name(rec({}, Date.UTC(2024, 11, 31, 7, 5, 9)))).toBe('x-24366-070509-100%');
    expect(n.name(rec({}, Date.UTC(2024, 11, 31, 7, 5, 10)))).toBe('x-24366-070510-100%');
  });

  it('renders {field} references per record and lower-cases the name', () => {
    const n = compileIndex('{App}-logs-%Y.%m');
    const t = Date.UTC(2024, 4, 1);
    expect(n.name(rec({ App: 'Billing' }, t))).toBe('billing-logs-2024.05');
    expect(n.name(rec({ App: 'search' }, t))).toBe('search-logs-2024.05');
    const nested = compileIndex('{kubernetes.namespace_name}');
    expect(nested.name(rec({ kubernetes: { namespace_name: 'Prod' } }, t))).toBe('prod');
  });

  it('returns a constant name for a template without time or fields', () => {
    const n = compileIndex('Logs');
    expect(n.constant).toBe(true);
    expect(n.name(rec({}, 0))).toBe('logs');
  });

  it('rejects unknown directives and bad field references', () => {
    expect(() => compileIndex('x-%Q')).toThrow(/unsupported strftime directive "%Q"/);
    expect(() => compileIndex('x-%')).toThrow(/unsupported/);
    expect(() => compileIndex('x-{a b}')).toThrow(/invalid field reference/);
  });

  it('builds data stream names', () => {
    const n = compileIndex(dataStreamIndex({ type: 'logs', dataset: '{app}', namespace: 'prod' }));
    expect(n.name(rec({ app: 'api' }, 0))).toBe('logs-api-prod');
  });
});

describe('document ids', () => {
  it('auto: the same sourceId gives the same id whatever the content or time', () => {
    const a = rec({ message: 'a' }, 1, { sourceId: 'dev1:ino2:fp:1234' });
    const b = rec({ message: 'b' }, 2, { sourceId: 'dev1:ino2:fp:1234' });
    const c = rec({ message: 'a' }, 1, { sourceId: 'dev1:ino2:fp:1235' });
    expect(autoId(a)).toBe(autoId(b));
    expect(autoId(a)).not.toBe(autoId(c));
    expect(autoId(a)).toMatch(/^[A-Za-z0-9_-]{22}\.1234$/);
  });

  it('auto: a file position is the hash of its source and the offset, the same whatever came before', () => {
    const sid = (s: string) => rec({}, 0, { sourceId: s });
    const k = '2049:1234:0123456789abcdef.deadbeef';
    const first = autoId(sid(`${k}:0`));
    expect(first).toBe(`${createHash('sha256').update(k).digest('base64url').slice(0, 22)}.0`);
    expect(autoId(sid(`${k}:270`))).toBe(`${first.slice(0, 22)}.270`);
    // Another source in between, then back: the same ids as read in order.
    const other = autoId(sid('2049:99:fedcba9876543210.00000001:270'));
    expect(other).not.toBe(`${first.slice(0, 22)}.270`);
    expect(other.endsWith('.270')).toBe(true);
    expect(autoId(sid(`${k}:270`))).toBe(`${first.slice(0, 22)}.270`);
    // The cached head followed by more than an offset: its own head, not the cached one's.
    const longer = autoId(sid(`${k}:12:34`));
    expect(longer).toBe(
      `${createHash('sha256').update(`${k}:12`).digest('base64url').slice(0, 22)}.34`,
    );
    expect(autoId(sid(`${k}:12:34`))).toBe(longer);
    // Not an offset (a journald cursor, letters, too long): a hash of the whole sourceId.
    for (const s of [
      'journald:s=ab;i=1f;b=cd;m=2;t=3;x=4',
      `${k}:`,
      `${k}:12a`,
      `${k}:${'9'.repeat(21)}`,
      '123',
    ])
      expect(autoId(sid(s))).toBe(createHash('sha256').update(s).digest('base64url').slice(0, 27));
  });

  it('auto: distinct sourceIds give distinct ids, in any order', () => {
    const part = fc.constantFrom('', ':', '1', '12', 'a', '9'.repeat(20), '.', 'x:1');
    fc.assert(
      fc.property(
        fc.array(
          fc.array(part, { maxLength: 5 }).map((p) => p.join('')),
          { maxLength: 30 },
        ),
        (sids) => {
          const byId = new Map<string, string>();
          for (const s of [...sids, ...[...sids].reverse()]) {
            const id = autoId(rec({}, 0, { sourceId: s }));
            const seen = byId.get(id);
            if (seen !== undefined) expect(seen).toBe(s);
            byId.set(id, s);
          }
          // Each sourceId has one id, whatever was asked before.
          const once = new Map(sids.map((s) => [s, autoId(rec({}, 0, { sourceId: s }))]));
          for (const s of [...sids].reverse())
            expect(autoId(rec({}, 0, { sourceId: s }))).toBe(once.get(s));
        },
      ),
      { numRuns: 500, seed: 23 },
    );
  });

  it('auto without sourceId: a hash of the record JSON and its time', () => {
    const a = rec({ message: 'a' }, 1000);
    expect(autoId(a)).toBe(autoId(rec({ message: 'a' }, 1000)));
    expect(autoId(a)).not.toBe(autoId(rec({ message: 'a' }, 1001)));
    expect(autoId(a)).not.toBe(autoId(rec({ message: 'b' }, 1000)));
    expect(autoId(a)).not.toBe(autoId({ ...rec({ message: 'a' }, 1000), timeNs: 5 }));
  });

  it('none and {field}', () => {
    expect(compileId('none')).toBeUndefined();
    const f = compileId('{req.id}')!;
    expect(f(rec({ req: { id: 'r-1' } }, 0))).toBe('r-1');
    expect(f(rec({}, 0))).toBeUndefined();
    expect(() => compileId('fixed')).toThrow(/same id/);
  });
});

describe('bulk body', () => {
  const t = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

  it('writes an action line and a source line per record, ending in a newline', () => {
    const enc = createBulkEncoder({
      index: compileIndex('shiplog-%Y.%m.%d'),
      action: 'create',
      id: compileId('auto'),
      timeKey: '@timestamp',
    });
    const records = [
      rec({ message: 'hello "world"' }, t, { sourceId: 's:1' }),
      rec({ level: 'info', '@timestamp': 'kept' }, t, { sourceId: 's:2' }),
      rec({}, t, { sourceId: 's:3' }),
    ];
    const ids: Array<string | undefined> = [];
    const body = enc.encode(records, ids).toString();
    expect(body.endsWith('\n')).toBe(true);
    const lines = body.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(6);
    expect(JSON.parse(lines[0])).toEqual({
      create: { _index: 'shiplog-2024.01.02', _id: autoId(records[0]) },
    });
    expect(JSON.parse(lines[1])).toEqual({
      '@timestamp': '2024-01-02T03:04:05.678Z',
      message: 'hello "world"',
    });
    expect(JSON.parse(lines[3])).toEqual({ level: 'info', '@timestamp': 'kept' });
    expect(JSON.parse(lines[5])).toEqual({ '@timestamp': '2024-01-02T03:04:05.678Z' });
    expect(ids).toEqual(records.map((r) => autoId(r)));
  });

  it('reuses the raw JSON text of unchanged records and escapes odd ids', () => {
    const enc = createBulkEncoder({
      index: compileIndex('i'),
      action: 'index',
      id: compileId('{k}'),
      timeKey: '',
    });
    const raw = '{"k":"a\\"b","n":1}';
    const r = rec({ k: 'a"b', n: 1 }, t, { raw });
    const body = enc.encode([r]).toString();
    expect(body).toBe(`{"index":{"_index":"i","_id":"a\\"b"}}\n${raw}\n`);
  });

  it('omits _id with id: none', () => {
    const enc = createBulkEncoder({
      index: compileIndex('i'),
      action: 'create',
      id: compileId('none'),
      timeKey: '',
    });
    expect(enc.encode([rec({ a: 1 }, t)]).toString()).toBe('{"create":{"_index":"i"}}\n{"a":1}\n');
  });

  it('keeps nanoseconds in the time field', () => {
    expect(rfc3339(t, 123456)).toBe('2024-01-02T03:04:05.678123456Z');
    expect(rfc3339(t, 5)).toBe('2024-01-02T03:04:05.678000005Z');
    expect(rfc3339(t, 0)).toBe('2024-01-02T03:04:05.678Z');
  });

  it('measures roughly the encoded size', () => {
    const enc = createBulkEncoder({
      index: compileIndex('shiplog-%Y.%m.%d'),
      action: 'create',
      id: compileId('auto'),
      timeKey: '@timestamp',
    });
    const r = rec({ message: 'x'.repeat(500) }, t);
    const actual = enc.encode([r]).length;
    expect(enc.measure(r)).toBeGreaterThan(actual * 0.7);
    expect(enc.measure(r)).toBeLessThan(actual * 1.5);
  });
});

describe('encodeInto (sealing) writes raw records without building their lines', () => {
  const fieldsArb = fc.dictionary(
    fc.oneof(fc.constantFrom('a', '@timestamp', 'ü', 'x"y', 'file'), fc.string({ maxLength: 5 })),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 6 },
  );
  const fileArb = fc.oneof(
    fc.record({ path: fc.constantFrom('/var/log/a.log', '/var/log/ü.log') }),
    fc.jsonValue({ maxDepth: 1 }),
    fc.constant(undefined),
  );

  it('lines of several files interleaved: each action line names its own file', () => {
    const recs = (
      [
        ['f1:5', '{"a":1}'],
        ['f2:é:7', '{"b":2}'],
        ['f1:9', '{"c":3}'],
        ['f1:12', '{"d":4}'],
        ['journald:s=1;i=2', '{"e":5}'],
        ['f2:é:8', '{"f":6}'],
      ] as const
    ).map(([sourceId, raw], i) =>
      rec(JSON.parse(raw) as Record<string, unknown>, Date.UTC(2024, 0, 1) + i * 999, {
        raw,
        sourceId,
      }),
    );
    const enc = () =>
      createBulkEncoder({
        index: compileIndex('i-%Y'),
        action: 'create',
        id: compileId('auto'),
        timeKey: '@timestamp',
      });
    const arena = new Arena();
    enc().encodeInto(recs, 0, recs.length, arena, []);
    const lines = arena.buf.toString('utf8', 0, arena.used).split('\n');
    const ids = recs.map((r) => autoId(r));
    expect(new Set(ids).size).toBe(recs.length);
    for (let i = 0; i < recs.length; i++)
      expect(JSON.parse(lines[2 * i])).toEqual({ create: { _index: 'i-2024', _id: ids[i] } });
    expect(arena.buf.subarray(0, arena.used).toString()).toBe(enc().encode(recs).toString());
  });

  it('the same bytes as the string path (encode), raw or not, with metadata, time or not', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fieldsArb,
            fileArb,
            fc.boolean(),
            fc.boolean(),
            fc.nat(999_999),
            fc.boolean(),
            // No sourceId, file positions of two files, offsets too long, a journald cursor.
            fc.constantFrom(undefined, 'k:', 'k2:é:', 'k:1', 'journald:s=1;i=2'),
            fc.oneof(fc.nat(5000), fc.constant(-1001), fc.constant(8.64e15 + 1)),
          ),
          { minLength: 1, maxLength: 10 },
        ),
        fc.constantFrom('', '@timestamp', 'tïme'),
        fc.constantFrom('auto', 'none', '{a}'),
        fc.constantFrom('i-%Y', 'é-{a}'),
        (rows, timeKey, idSpec, indexSpec) => {
          let id: ReturnType<typeof compileId>;
          try {
            id = compileId(idSpec);
          } catch {
            return;
          }
          const enc = () =>
            createBulkEncoder({ index: compileIndex(indexSpec), action: 'create', id, timeKey });
          const recs = rows.map(([parsed, file, withRaw, withFile, ns, spaced, sid, ms], i) => {
            const line = { ...parsed };
            delete line.file;
            // A line holds no newline: whitespace-formatted JSON on one line.
            const raw = spaced
              ? JSON.stringify(line, null, 1).replaceAll('\n', ' ')
              : JSON.stringify(line);
            const fields: Record<string, unknown> = withFile ? { ...line, file } : line;
            const r: LogRecord = {
              fields,
              timeMs: Date.UTC(2024, 0, 1) + i * 997 + ms,
              timeNs: ns % 3 ? 0 : ns,
            };
            if (sid !== undefined) r.sourceId = sid === 'k:1' ? `k:${'1'.repeat(21)}` : sid + i;
            if (withRaw) {
              r.raw = raw;
              if (withFile) r.rawExtra = ['file'];
            }
            return r;
          });
          const arena = new Arena();
          const ends: number[] = [];
          let want: Buffer;
          try {
            want = enc().encode(recs);
          } catch {
            // A time Date cannot write: both paths throw.
            expect(() => enc().encodeInto(recs, 0, recs.length, arena, ends)).toThrow(RangeError);
            return;
          }
          enc().encodeInto(recs, 0, recs.length, arena, ends);
          expect(arena.buf.subarray(0, arena.used).toString('hex')).toBe(want.toString('hex'));
          expect(ends).toHaveLength(recs.length);
          expect(ends.at(-1)).toBe(arena.used);
        },
      ),
      { numRuns: 400, seed: 9 },
    );
  });
});

describe('IsoMs', () => {
  /** Times for IsoMs: Date's whole range, a run within seconds, around 0, fractions. */
  const ms = fc.oneof(
    fc.integer({ min: -8.64e15, max: 8.64e15 }),
    fc.integer({ min: 1.7e12, max: 1.7e12 + 5000 }),
    fc.integer({ min: -3000, max: 3000 }),
    fc.double({ min: -1e13, max: 1e13, noNaN: true }),
  );

  it('equals Date#toISOString, in order or not, and throws where it throws', () => {
    const iso = new IsoMs();
    fc.assert(
      fc.property(fc.array(ms, { maxLength: 20 }), (list) => {
        for (const t of list) expect(iso.format(t)).toBe(new Date(t).toISOString());
      }),
      { numRuns: 500, seed: 13 },
    );
    for (const bad of [NaN, Infinity, 8.64e15 + 1])
      expect(() => iso.format(bad)).toThrow(RangeError);
  });

  it('writes the bytes of format', () => {
    const iso = new IsoMs();
    const buf = Buffer.alloc(64);
    fc.assert(
      fc.property(fc.array(ms, { maxLength: 20 }), (xs) => {
        for (const x of xs) {
          const end = iso.write(buf, 3, x);
          expect(buf.toString('latin1', 3, end)).toBe(new Date(x).toISOString());
        }
      }),
      { numRuns: 300, seed: 29 },
    );
    expect(() => iso.write(buf, 0, NaN)).toThrow(RangeError);
  });
});

describe('autoId', () => {
  it('is base64url characters, a dot and digits: written as "<id>" without escaping', () => {
    fc.assert(
      fc.property(fc.option(fc.string()), fc.jsonValue(), (sourceId, v) => {
        const r: LogRecord = { fields: { v }, timeMs: 1, timeNs: 0 };
        if (sourceId !== null) r.sourceId = sourceId;
        const id = autoId(r);
        expect(id).toMatch(/^(?:[A-Za-z0-9_-]{27}|[A-Za-z0-9_-]{22}\.\d{1,20})$/);
        expect(JSON.stringify(id)).toBe(`"${id}"`);
      }),
      { numRuns: 300, seed: 17 },
    );
  });
});
