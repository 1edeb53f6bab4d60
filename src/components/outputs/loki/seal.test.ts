import snappy from 'snappy';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/record.js';
import { encodeProtobuf } from './body.js';
import type { EncoderConfig, LokiEncoder } from './encoder.js';
import { testLokiEncoder } from '../../../../test/helpers/loki-encoder.js';
import type { Prepared } from './push.js';
import { decodePushRequest } from './logproto.js';
import { Arena } from '../_shared/arena.js';
import { LokiSealer, SealedChunk, lokiCodec } from './seal.js';
import { decodeFrame, encodeFrame } from '../../../core/queue-codec.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');

function enc(over: Partial<EncoderConfig> = {}): LokiEncoder {
  return testLokiEncoder(
    {
      labels: { job: 'agents', level: '{level}' },
      structuredMetadata: ['trace_id'],
      rejectOlderThanMs: 7 * 86_400_000,
      ...over,
    },
    NOW,
  );
}

function recs(from: number, n: number): LogRecord[] {
  const out: LogRecord[] = [];
  for (let i = from; i < from + n; i++) {
    const fields = {
      level: i % 3 === 0 ? 'error' : 'info',
      seq: i,
      msg: `m ${i} é`,
      trace_id: `t${i}`,
    };
    out.push({ fields, timeMs: NOW - 10_000 + i, timeNs: i * 7, raw: JSON.stringify(fields) });
  }
  return out;
}

function body(sealed: SealedChunk, k = 0): ReturnType<typeof decodePushRequest> {
  return decodePushRequest(snappy.uncompressSync(sealed.pushes[k].body) as Buffer);
}

describe('sealing a chunk as it fills', () => {
  it('merges pieces into one stream per label set, byte-identical to encoding them together', () => {
    const e = enc();
    const reports: Prepared[] = [];
    const sealer = new LokiSealer(e, (p) => reports.push(p), new Arena());
    const all = recs(0, 50);
    // Three input batches, the middle one appended as a slice.
    sealer.add(all.slice(0, 20), 0, 20, 0);
    sealer.add(all, 20, 35, 20);
    sealer.add(all.slice(35), 0, 15, 35);
    const sealed = sealer.finish();
    expect(reports).toHaveLength(1);
    expect(sealed.pushes).toHaveLength(1);
    const got = body(sealed);
    expect(got.streams.map((s) => s.labels)).toEqual([
      '{job="agents", level="error"}',
      '{job="agents", level="info"}',
    ]);
    // Each piece is sorted by time and the pieces arrive in order: the same as one prepare().
    const whole = enc().prepare(all).pushes[0];
    const wholeBytes = Buffer.from(encodeProtobuf(whole));
    expect(Buffer.from(snappy.uncompressSync(sealed.pushes[0].body) as Buffer)).toEqual(wholeBytes);
    expect(SealedChunk.indexes(sealed.pushes[0]).sort((a, b) => a - b)).toEqual([
      ...Array(50).keys(),
    ]);
    expect(got.streams[0].entries[0].structuredMetadata).toEqual([
      { name: 'trace_id', value: 't0' },
    ]);
  });

  it('restores dead-letter records from the body, with the label fields put back', () => {
    const sealer = new LokiSealer(enc(), () => undefined, new Arena());
    const all = recs(0, 10);
    sealer.add(all, 0, 10, 0);
    const sealed = sealer.finish();
    const back = sealed.restore([3, 4]);
    expect(back.map((r) => r.fields)).toEqual([all[3].fields, all[4].fields]);
    expect(back[0].timeMs).toBe(all[3].timeMs);
    expect(back[0].timeNs).toBe(all[3].timeNs);
    // The push with its lines, as a 400 is attributed against.
    const push = sealed.hydrate(sealed.pushes[0]);
    const lines = push.streams.flatMap((s) => s.entries.map((en) => [en.index, en.line]));
    expect(lines).toContainEqual([3, JSON.stringify({ seq: 3, msg: 'm 3 é', trace_id: 't3' })]);
  });

  it('keeps refused records as they were and reports them once, at the chunk positions', () => {
    const reports: Prepared[] = [];
    const sealer = new LokiSealer(enc(), (p) => reports.push(p), new Arena());
    const old = recs(0, 4);
    old[1] = { ...old[1], timeMs: NOW - 30 * 86_400_000 };
    sealer.add(recs(100, 5), 0, 5, 0);
    sealer.add(old, 0, 4, 5);
    const sealed = sealer.finish();
    expect(sealed.pre.map((p) => p.index)).toEqual([6]);
    expect(sealed.pre[0].reason).toMatch(/older than reject_older_than/);
    expect(sealed.restore([6])[0]).toBe(old[1]);
    expect(reports[0].rejected).toHaveLength(1);
    expect(SealedChunk.indexes(sealed.pushes[0])).toHaveLength(8);
  });

  it('one push per tenant; a reused arena starts empty for the next chunk', () => {
    const arena = new Arena();
    const e = enc({ tenant: '{team}' });
    const withTeam = recs(0, 6).map((r, i) => ({
      ...r,
      fields: { ...r.fields, team: i % 2 ? 'a' : 'b' },
      raw: undefined,
    }));
    const s1 = new LokiSealer(e, () => undefined, arena);
    s1.add(withTeam, 0, 6, 0);
    const c1 = s1.finish();
    expect(c1.pushes.map((p) => [p.tenant, p.count])).toEqual([
      ['b', 3],
      ['a', 3],
    ]);
    const s2 = new LokiSealer(e, () => undefined, arena);
    s2.add(withTeam.slice(0, 1), 0, 1, 0);
    const c2 = s2.finish();
    expect(body(c2).streams.flatMap((s) => s.entries)).toHaveLength(1);
  });
});

describe('the disk-queue codec', () => {
  it('stores a sealed chunk and reads back the same pushes, entries and refused records', () => {
    const e = enc({ rejectOlderThanMs: 60_000 });
    const sealer = new LokiSealer(e, () => undefined, new Arena());
    const all = recs(0, 40);
    all[5] = { ...all[5], timeMs: NOW - 3_600_000 }; // too old: refused before sending, kept
    sealer.add(all, 0, 25, 0);
    sealer.add(all, 25, 40, 25);
    const sealed = sealer.finish();
    const codec = lokiCodec(e);
    const { meta, parts } = codec.encode(sealed);
    const frame = decodeFrame(encodeFrame({ tags: [['t', 40]], meta, parts }));
    const back = codec.decode(frame.meta, frame.parts) as SealedChunk;
    expect(back.pushes.length).toBe(sealed.pushes.length);
    for (let k = 0; k < sealed.pushes.length; k++) {
      const a = sealed.pushes[k];
      const b = back.pushes[k];
      expect(b.body.equals(a.body)).toBe(true);
      expect(b.tenant).toBe(a.tenant);
      expect(b.count).toBe(a.count);
      expect(b.streams).toEqual(a.streams);
    }
    expect(back.pre).toEqual(sealed.pre);
    expect(back.pre.map((p) => p.index)).toEqual([5]);
    const positions = [5, 0, 39];
    expect(back.restore(positions).map((r) => r.fields.seq)).toEqual(
      sealed.restore(positions).map((r) => r.fields.seq),
    );
    expect(() => codec.decode(frame.meta, frame.parts.slice(1))).toThrow();
  });
});
