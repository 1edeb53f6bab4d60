import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePushRequest, encodePushRequest, type PushStream } from './logproto.js';
import { readStreamLines, writePushRequest, type WireStream } from './wire.js';

/** The same streams in the shape protobufjs reads (a timestamp object per entry). */
function reference(streams: WireStream[]): Buffer {
  const ps: PushStream[] = streams.map((s) => ({
    labels: s.labels,
    entries: s.entries.map((e) => {
      const out: PushStream['entries'][number] = {
        timestamp: { seconds: e.seconds, nanos: e.nanos },
        line: e.line,
      };
      if (e.structuredMetadata) out.structuredMetadata = e.structuredMetadata;
      return out;
    }),
  }));
  return Buffer.from(encodePushRequest(ps));
}

function same(streams: WireStream[]): void {
  const ours = Buffer.from(writePushRequest(streams));
  const ref = reference(streams);
  // Report the first differing byte with some context, not two megabytes of hex.
  let at = 0;
  while (at < ours.length && at < ref.length && ours[at] === ref[at]) at++;
  const near = (b: Buffer): string => b.subarray(Math.max(0, at - 8), at + 8).toString('hex');
  expect({ length: ours.length, at, near: near(ours) }).toEqual({
    length: ref.length,
    at: ref.length,
    near: near(ref),
  });
}

describe('hand-written PushRequest writer', () => {
  it('writes the bytes protobufjs writes: defaults omitted, edge times, non-ASCII, metadata', () => {
    same([]);
    same([{ labels: '', entries: [] }]);
    same([{ labels: '{a="b"}', entries: [{ seconds: 0, nanos: 0, line: '' }] }]);
    same([
      {
        labels: '{job="x", level="info"}',
        entries: [
          { seconds: 1_740_830_400, nanos: 999_999_999, line: '{"msg":"hello"}' },
          { seconds: -1, nanos: 5, line: 'before 1970' },
          { seconds: 2 ** 40 + 3, nanos: 0, line: 'far future' },
          { seconds: 1, nanos: -7, line: 'negative nanos' },
          { seconds: 127, nanos: 128, line: 'varint edges' },
          { seconds: 2 ** 32 - 1, nanos: 2 ** 31 - 1, line: 'uint32 edge' },
          { seconds: -(2 ** 53 - 1), nanos: 1, line: 'min safe' },
          { seconds: 1, nanos: 1, line: 'é€😀 non-ASCII' },
          // protobufjs writes strings of 40+ chars with Buffer#utf8Write: U+FFFD for a lone surrogate.
          { seconds: 1, nanos: 1, line: 'a lone surrogate \ud800 in a string of 40+ characters' },
          { seconds: 2, nanos: 2, line: 'x'.repeat(20_000) },
          {
            seconds: 3,
            nanos: 3,
            line: 'meta',
            structuredMetadata: [
              { name: 'trace_id', value: 't1' },
              { name: 'empty', value: '' },
              { name: '', value: 'no name' },
            ],
          },
          { seconds: 4, nanos: 4, line: 'no meta', structuredMetadata: [] },
        ],
      },
      { labels: '{b="ü"}', entries: [{ seconds: 5, nanos: 6, line: 'second stream' }] },
    ]);
  });

  it('writes a lone surrogate as U+FFFD (valid UTF-8) in short strings too', () => {
    // protobufjs' own short-string path would write the surrogate's 3 raw bytes (invalid UTF-8);
    // the byte count is the same, the bytes are those of Buffer#write.
    const s: WireStream[] = [
      { labels: '{a="\udc00"}', entries: [{ seconds: 1, nanos: 0, line: 'x\ud800' }] },
    ];
    const back = decodePushRequest(writePushRequest(s));
    expect(back.streams[0].labels).toBe('{a="\ufffd"}');
    expect(back.streams[0].entries[0].line).toBe('x\ufffd');
    expect(writePushRequest(s).length).toBe(reference(s).length);
  });

  it('matches protobufjs on random pushes and round-trips through its decoder', () => {
    const str = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const entry = fc.record(
      {
        seconds: fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constant(0)),
        nanos: fc.oneof(fc.integer({ min: 0, max: 999_999_999 }), fc.constant(0)),
        line: fc.oneof(str, fc.string({ minLength: 100, maxLength: 300 })),
        structuredMetadata: fc.array(fc.record({ name: str, value: str }), { maxLength: 3 }),
      },
      { requiredKeys: ['seconds', 'nanos', 'line'] },
    );
    const streams = fc.array(
      fc.record({ labels: str, entries: fc.array(entry, { maxLength: 6 }) }),
      { maxLength: 4 },
    );
    fc.assert(
      fc.property(streams, (s) => {
        same(s);
        const back = decodePushRequest(writePushRequest(s));
        const lines = s.map((x) =>
          x.entries.map((e) => Buffer.from(e.line, 'utf8').toString('utf8')),
        );
        expect(back.streams.map((x) => x.entries.map((e) => e.line))).toEqual(lines);
        // wire.ts's own reader, on its bytes and on protobufjs's (field order, defaults).
        expect(readStreamLines(writePushRequest(s))).toEqual(lines);
        expect(readStreamLines(reference(s))).toEqual(lines);
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  it('readStreamLines: fields in any order, unknown fields skipped, truncation refused', () => {
    const str = (field: number, text: string): number[] => [
      (field << 3) | 2,
      text.length,
      ...Buffer.from(text),
    ];
    const msg = (field: number, body: number[]): number[] => [
      (field << 3) | 2,
      body.length,
      ...body,
    ];
    // Entry: line before timestamp, an unknown varint field 9 and fixed64 field 10 around it.
    const entry = [
      0x48,
      0x96,
      0x01,
      ...str(2, 'hello'),
      0x51,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      ...msg(1, [0x08, 5]),
    ];
    // Stream: entries before labels, then a hash (field 3, varint).
    const stream = [...msg(2, entry), ...msg(2, str(2, 'two')), ...str(1, '{a="b"}'), 0x18, 7];
    const buf = Uint8Array.from([...msg(1, stream), ...msg(1, str(1, '{c="d"}'))]);
    expect(readStreamLines(buf)).toEqual([['hello', 'two'], []]);
    expect(() => readStreamLines(buf.subarray(0, buf.length - 3))).toThrow(/truncated|overruns/);
  });

  it('grows its buffer for a push larger than 1 MiB and stays correct afterwards', () => {
    const big: WireStream[] = [
      {
        labels: '{a="b"}',
        entries: Array.from({ length: 5000 }, (_, i) => ({
          seconds: 1_740_830_400 + i,
          nanos: i,
          line: `${i} ${'y'.repeat(300)}`,
        })),
      },
    ];
    same(big);
    same([{ labels: '{a="c"}', entries: [{ seconds: 9, nanos: 9, line: 'small after big' }] }]);
  });
});
