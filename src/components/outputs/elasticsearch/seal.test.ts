import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/record.js';
import { Arena } from '../_shared/arena.js';
import { compileId, compileIndex, createBulkEncoder } from './encode.js';
import { BulkSealer } from './seal.js';

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
