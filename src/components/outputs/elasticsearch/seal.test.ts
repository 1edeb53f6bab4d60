import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/record.js';
import { Arena } from '../_shared/arena.js';
import { compileId, compileIndex, createBulkEncoder } from './encode.js';
import { BulkSealer, SealedBulk, bulkCodec } from './seal.js';
import { decodeFrame, encodeFrame, frameParts } from '../../../core/queue-codec.js';
import { BufferPool } from '../_shared/buffer-pool.js';

const enc = createBulkEncoder({
  index: compileIndex('logs'),
  action: 'create',
  id: compileId('auto'),
  timeKey: '@timestamp',
});

function recs(from: number, n: number): LogRecord[] {
  return Array.from({ length: n }, (_, k) => ({
    fields: { seq: from + k, msg: `m ${from + k} é` },
    timeMs: Date.UTC(2026, 10, 22, 10, 0, 0, from + k),
    timeNs: 0,
    sourceId: `f:${from + k}`,
  }));
}

describe('sealing a bulk chunk as it fills', () => {
  it('is byte-identical to encoding the chunk at once, and slices any subset of documents', () => {
    const arena = new Arena();
    const all = recs(0, 30);
    const s = new BulkSealer(enc, arena, '@timestamp');
    s.add(all.slice(0, 10), 0, 10, 0);
    s.add(all, 10, 30, 10);
    const sealed = s.finish();
    expect(sealed.body.equals(enc.encode(all))).toBe(true);
    const positions = [...Array(30).keys()];
    expect(sealed.bodyOf(positions, 5, 9).equals(enc.encode(all.slice(5, 9)))).toBe(true);
    // A partial retry: documents 3, 7 and 8 only.
    const some = [3, 7, 8];
    expect(sealed.bodyOf(some, 0, 3).equals(enc.encode(some.map((p) => all[p])))).toBe(true);
    // The arena is reused: a second chunk starts empty.
    const s2 = new BulkSealer(enc, arena, '@timestamp');
    s2.add(all, 0, 1, 0);
    expect(s2.finish().body.equals(enc.encode(all.slice(0, 1)))).toBe(true);
  });

  it('restores dead letters from the document lines; a record it cannot encode is kept and refused', () => {
    const all = recs(0, 3);
    const bad: LogRecord = { fields: { n: 10n }, timeMs: 0, timeNs: 0 };
    const s = new BulkSealer(enc, new Arena(), '@timestamp');
    s.add([all[0], bad, all[1], all[2]], 0, 4, 0);
    const sealed = s.finish();
    expect([...sealed.pre.keys()]).toEqual([1]);
    expect(sealed.pre.get(1)).toMatch(/cannot encode the document/);
    expect(sealed.bodyOf([0, 2, 3], 0, 3).equals(enc.encode(all))).toBe(true);
    const back = sealed.restore([1, 2]);
    expect(back[0]).toBe(bad);
    expect(back[1].fields).toEqual({
      '@timestamp': '2026-11-22T10:00:00.001Z',
      seq: 1,
      msg: 'm 1 é',
    });
    expect(back[1].timeMs).toBe(all[1].timeMs);
  });
});

describe('the disk-queue codec', () => {
  it('stores a sealed bulk chunk and reads back the same body, ends and refusals', () => {
    const all = recs(0, 20);
    const s = new BulkSealer(enc, new Arena(), '@timestamp');
    s.add(all, 0, 20, 0);
    const sealed = s.finish();
    const codec = bulkCodec('@timestamp');
    const { meta, parts } = codec.encode(sealed);
    const frame = decodeFrame(encodeFrame({ tags: [['t', 20]], meta, parts }));
    const back = codec.decode(frame.meta, frame.parts) as SealedBulk;
    expect(back.body.equals(sealed.body)).toBe(true);
    expect([...back.ends]).toEqual([...sealed.ends]);
    const some = [2, 11, 12];
    expect(back.bodyOf(some, 0, 3).equals(sealed.bodyOf(some, 0, 3))).toBe(true);
    expect(back.restore([4])[0].fields.seq).toBe(4);
    expect(() => codec.decode(frame.meta, [frame.parts[0]])).toThrow();
  });
});

describe('bodies in pooled buffers', () => {
  // ~ 200 KiB of documents: past the size at which the chunk takes the arena's buffer.
  const many = (from: number): LogRecord[] =>
    recs(from, 1500).map((r) => ({ ...r, fields: { ...r.fields, pad: 'p'.repeat(60) } }));

  it('a finished chunk gives its buffer back for a later chunk; a tainted one does not', () => {
    const pool = new BufferPool();
    const arena = new Arena();
    const seal = (from: number): SealedBulk => {
      const s = new BulkSealer(enc, arena, '@timestamp', pool);
      const all = many(from);
      s.add(all, 0, all.length, 0);
      const sealed = s.finish();
      expect(sealed.body.equals(enc.encode(all))).toBe(true);
      return sealed;
    };
    const a = seal(0);
    const b = seal(1500);
    expect(b.body.buffer === a.body.buffer).toBe(false);
    a.release();
    a.release(); // once only
    expect(pool.size).toBe(1);
    seal(3000); // in the arena's buffer since b; the arena goes on in a's
    expect(pool.reused).toBe(1);
    expect(seal(4500).body.buffer === a.body.buffer).toBe(true);
    // An attempt without a complete 2xx answer: the HTTP client may still hold the bytes.
    b.tainted = true;
    b.release();
    expect(pool.size).toBe(0);
    // A small chunk is a copy: nothing to give back.
    const s = new BulkSealer(enc, arena, '@timestamp', pool);
    s.add(recs(0, 3), 0, 3, 0);
    const small = s.finish();
    expect(small.body.buffer === arena.buf.buffer).toBe(false);
    small.release();
    expect(pool.size).toBe(0);
  });

  it('a queue frame gives the buffer back only if it still is the sealed buffer', () => {
    const pool = new BufferPool();
    const codec = bulkCodec('@timestamp', pool);
    const s = new BulkSealer(enc, new Arena(), '@timestamp', pool);
    const all = many(0);
    s.add(all, 0, all.length, 0);
    const sealed = s.finish();
    const { meta, parts } = codec.encode(sealed);
    // Read back from disk (a copy): not the lent memory.
    const copied = decodeFrame(encodeFrame({ tags: [['t', all.length]], meta, parts }));
    (codec.decode(copied.meta, copied.parts) as SealedBulk).release();
    expect(pool.size).toBe(0);
    // Handed over from memory as its parts (queue.ts `recent`): the same buffer.
    const inMemory = decodeFrame(frameParts({ tags: [['t', all.length]], meta, parts }));
    const back = codec.decode(inMemory.meta, inMemory.parts) as SealedBulk;
    expect(back.body.buffer === sealed.body.buffer).toBe(true);
    back.release();
    expect(pool.size).toBe(1);
    // The chunk object that was queued (never delivered itself) cannot give it back twice.
    sealed.release();
    expect(pool.size).toBe(1);
  });
});
