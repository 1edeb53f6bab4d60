import { describe, expect, it } from 'vitest';
import { appendRawExtra, recordJson, touch, type LogRecord } from './record.js';

describe('raw JSON reuse', () => {
  it('appends input metadata beside the raw line and stays equivalent to the fields', () => {
    const raw = '{"level":"info","msg":"a \\"q\\""}';
    const fields = { file: { path: '/var/log/a.log' }, level: 'info', msg: 'a "q"' };
    const r: LogRecord = { fields, timeMs: 0, timeNs: 0, raw, rawExtra: ['file'] };
    const out = recordJson(r);
    expect(JSON.parse(out)).toEqual(fields);
    expect(out.startsWith(raw.slice(0, -1))).toBe(true);
    touch(r);
    expect(r.raw).toBeUndefined();
    expect(r.rawExtra).toBeUndefined();
    expect(JSON.parse(recordJson(r))).toEqual(fields);
  });

  it('handles empty objects, trailing blanks, skipped and undefined extras', () => {
    expect(appendRawExtra('{}', { a: 1 }, ['a'])).toBe('{"a":1}');
    expect(JSON.parse(appendRawExtra('{ "x": 2 }  ', { a: [1] }, ['a']))).toEqual({ x: 2, a: [1] });
    expect(appendRawExtra('{"x":2}', { a: 1, b: undefined }, ['a', 'b'], ['a'])).toBe('{"x":2}');
  });
});
