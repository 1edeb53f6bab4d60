// The disk-queue payload codecs: what a sender stores in a frame must come back the same after a
// restart, and bytes that are not a frame must throw an Error (dead-lettered), never crash.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from './record.js';
import {
  decodeFrame,
  decodeRecords,
  deflatedFrame,
  encodeFrame,
  frameParts,
  encodeRecords,
  keptFromJson,
  keptToJson,
  type FrameContent,
} from './queue-codec.js';

/** JSON-safe values as they come back from JSON.parse (no -0, no undefined members). */
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const tagsArb = fc.array(fc.tuple(fc.string(), fc.nat()), { maxLength: 5 });
const partsArb = fc.array(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  { maxLength: 5 },
);
const frameArb: fc.Arbitrary<FrameContent> = fc.record({
  tags: tagsArb,
  meta: fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 3 })),
  parts: partsArb,
});

const fieldsArb = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 6,
}) as fc.Arbitrary<Record<string, unknown>>;
const recordArb: fc.Arbitrary<LogRecord> = fc
  .record(
    {
      fields: fieldsArb,
      timeMs: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constant(NaN)),
      timeNs: fc.integer({ min: 0, max: 999_999 }),
      labels: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 }), {
        maxKeys: 4,
      }),
      sourceId: fc.string({ maxLength: 20 }),
    },
    { requiredKeys: ['fields', 'timeMs', 'timeNs'] },
  )
  .map((r) => r as LogRecord);

/** What decodeRecords must give back for a record. */
function expectedRecord(r: LogRecord): LogRecord {
  const out: LogRecord = { fields: json(r.fields), timeMs: r.timeMs, timeNs: r.timeNs };
  if (r.sourceId !== undefined) out.sourceId = r.sourceId;
  if (r.labels !== undefined) out.labels = json(r.labels);
  return out;
}

describe('queue-codec: frames', () => {
  it('decodeFrame(encodeFrame(x)) gives back the tags, meta and parts (property)', () => {
    fc.assert(
      fc.property(frameArb, (content) => {
        const back = decodeFrame(encodeFrame(content));
        expect(back.tags).toEqual(json(content.tags));
        expect(back.meta).toEqual(json(content.meta));
        expect(back.parts.map((p) => Buffer.from(p).toString('hex'))).toEqual(
          content.parts.map((p) => p.toString('hex')),
        );
      }),
      { numRuns: 500, seed: 16 },
    );
  });

  it('frameParts: the parts of encodeFrame, decoded as they are, or joined when laid out otherwise (property)', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), (content, cut) => {
        const parts = frameParts(content);
        expect(Buffer.concat(parts).equals(encodeFrame(content))).toBe(true);
        const want = decodeFrame(encodeFrame(content));
        const back = decodeFrame(parts);
        expect(back).toEqual(want);
        // The bodies are the parts given, not copies.
        back.parts.forEach((p, i) => expect(p).toBe(content.parts[i]));
        // The same bytes cut elsewhere (as a reader could hold them): joined, same content.
        const whole = Buffer.concat(parts);
        const at = cut % (whole.length + 1);
        expect(decodeFrame([whole.subarray(0, at), whole.subarray(at)])).toEqual(want);
      }),
      { numRuns: 300, seed: 18 },
    );
  });

  it('a deflated frame decodes to the same tags, meta and parts (property), and is smaller on text', async () => {
    await fc.assert(
      fc.asyncProperty(frameArb, async (content) => {
        const back = decodeFrame(await deflatedFrame(content));
        expect(back.tags).toEqual(json(content.tags));
        expect(back.meta).toEqual(json(content.meta));
        expect(back.parts.map((p) => Buffer.from(p).toString('hex'))).toEqual(
          content.parts.map((p) => p.toString('hex')),
        );
      }),
      { numRuns: 200, seed: 17 },
    );
    const bulk = Buffer.from(
      Array.from(
        { length: 500 },
        (_, i) =>
          `{"create":{"_index":"logs","_id":"2049:${i}"}}\n{"level":"INFO","seq":${i},"message":"request served"}\n`,
      ).join(''),
    );
    const plain = encodeFrame({ tags: [['t', 500]], meta: null, parts: [bulk] });
    const deflated = Buffer.concat(
      await deflatedFrame({ tags: [['t', 500]], meta: null, parts: [bulk] }),
    );
    expect(deflated.length).toBeLessThan(plain.length / 4);
    expect(decodeFrame(deflated).parts[0].equals(bulk)).toBe(true);
    // A flipped byte in a deflated part throws (the queue then dead-letters the frame).
    const bad = Buffer.from(deflated);
    bad[bad.length - 5] ^= 0xff;
    expect(() => decodeFrame(bad)).toThrow();
  });

  it('an encoded frame cut short throws an Error or decodes only bytes it has', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), (content, cutAt) => {
        const bytes = encodeFrame(content);
        const cut = bytes.subarray(0, cutAt % bytes.length);
        let threw: unknown;
        try {
          decodeFrame(cut);
        } catch (e) {
          threw = e;
        }
        // A prefix never decodes into parts that are not in the original.
        if (threw === undefined) {
          const back = decodeFrame(cut);
          const total = back.parts.reduce((n, p) => n + p.length, 0);
          expect(total).toBeLessThanOrEqual(cut.length);
        } else expect(threw).toBeInstanceOf(Error);
      }),
      { numRuns: 300, seed: 17 },
    );
  });

  it('random bytes either decode or throw an Error (no other exception, no hang)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        try {
          const f = decodeFrame(Buffer.from(a));
          expect(Array.isArray(f.tags)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 1000, seed: 18 },
    );
  });

  it('throws on known-bad frames', () => {
    const head = (text: string, extra = Buffer.alloc(0)): Buffer => {
      const h = Buffer.from(text);
      const n = Buffer.alloc(4);
      n.writeUInt32LE(h.length, 0);
      return Buffer.concat([n, h, extra]);
    };
    expect(() => decodeFrame(Buffer.alloc(0))).toThrow(Error);
    expect(() => decodeFrame(Buffer.from([1, 0]))).toThrow(/too short/);
    expect(() => decodeFrame(Buffer.from([200, 0, 0, 0, 123]))).toThrow(/past its end/);
    expect(() => decodeFrame(head('{not json'))).toThrow(SyntaxError);
    expect(() => decodeFrame(head('null'))).toThrow(Error);
    expect(() => decodeFrame(head('{"tags":[],"lens":5}'))).toThrow(/header bad/);
    expect(() => decodeFrame(head('{"tags":[],"lens":[3]}', Buffer.from('ab')))).toThrow(
      /part past its end/,
    );
    expect(() => decodeFrame(head('{"tags":[],"lens":[-1]}'))).toThrow(/part past its end/);
    expect(() => decodeFrame(head('{"tags":[],"lens":["2"]}', Buffer.from('ab')))).toThrow(
      /part past its end/,
    );
    expect(() => decodeFrame(head('{"tags":[],"lens":[1.5]}', Buffer.from('ab')))).toThrow(
      /part past its end/,
    );
  });
});

describe('queue-codec: records', () => {
  it('decodeRecords(encodeRecords(records)) keeps fields, time, labels and sourceId (property)', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 20 }), (records) => {
        const back = decodeRecords(encodeRecords(records));
        expect(back).toEqual(records.map(expectedRecord));
      }),
      { numRuns: 500, seed: 19 },
    );
  });

  it('encodes a slice [from, to) only', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 12 }), fc.nat(), fc.nat(), (records, a, b) => {
        const from = records.length ? a % (records.length + 1) : 0;
        const to = from + (records.length ? b % (records.length - from + 1) : 0);
        const back = decodeRecords(encodeRecords(records, from, to));
        expect(back).toEqual(records.slice(from, to).map(expectedRecord));
      }),
      { numRuns: 300, seed: 20 },
    );
  });

  it('uses the raw JSON text of an unmodified record (and rawExtra beside it)', () => {
    const r: LogRecord = {
      fields: { a: 1, b: 'x', file: '/var/log/x.log' },
      raw: '{"a":1,"b":"x"}',
      rawExtra: ['file'],
      timeMs: 1_700_000_000_123,
      timeNs: 456_789,
      sourceId: 'f:1:2',
    };
    expect(decodeRecords(encodeRecords([r]))).toEqual([
      {
        fields: { a: 1, b: 'x', file: '/var/log/x.log' },
        timeMs: 1_700_000_000_123,
        timeNs: 456_789,
        sourceId: 'f:1:2',
      },
    ]);
  });

  it('a record that cannot be serialised is stored as a note instead of failing the chunk', () => {
    const bad: LogRecord = { fields: { n: 10n }, timeMs: 5, timeNs: 0 };
    const back = decodeRecords(
      encodeRecords([bad, { fields: { ok: true }, timeMs: 6, timeNs: 0 }]),
    );
    expect(back).toHaveLength(2);
    expect(typeof back[0].fields.unserialisable).toBe('string');
    expect(back[1]).toEqual({ fields: { ok: true }, timeMs: 6, timeNs: 0 });
  });

  it('an empty payload is no records', () => {
    expect(decodeRecords(encodeRecords([]))).toEqual([]);
    expect(decodeRecords(Buffer.alloc(0))).toEqual([]);
  });

  it('random bytes either decode or throw an Error (no other exception, no hang)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
          fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) + '\n')),
        ),
        (bytes) => {
          try {
            decodeRecords(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
          }
        },
      ),
      { numRuns: 1000, seed: 21 },
    );
  });

  // A line of a records payload is `[timeMs, timeNs, sourceId, labels, fields]`. Bytes that are
  // JSON but not that shape are garbage too: they must throw (the frame is dead-lettered as
  // unreadable), not turn into made-up records with `fields: { message: undefined }`.
  it('a line that is JSON but not [timeMs, timeNs, sourceId, labels, fields] throws', () => {
    const lines = ['5', '"hello"', '{"a":1}', '[1,2]', '[]', '["x","y",3,4,5]'];
    const decoded: string[] = [];
    for (const line of lines) {
      try {
        decodeRecords(Buffer.from(line + '\n'));
        decoded.push(line);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
    }
    expect(decoded, 'garbage lines decoded into made-up records').toEqual([]);
  });
});

describe('queue-codec: kept records', () => {
  it('keptFromJson(keptToJson(m)) keeps positions, fields and times', () => {
    const m = new Map<number, LogRecord>([
      [0, { fields: { a: 1 }, timeMs: 10, timeNs: 5 }],
      [7, { fields: { b: 'x' }, timeMs: 20, timeNs: 0 }],
    ]);
    const back = keptFromJson(json(keptToJson(m)));
    expect([...back.entries()]).toEqual([...m.entries()]);
    expect(keptFromJson(undefined).size).toBe(0);
  });
});
