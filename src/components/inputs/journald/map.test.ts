import { describe, expect, it } from 'vitest';
import { JournalMapper, type MapResult } from './map.js';

const CURSOR = 's=abc;i=1;b=def;m=1;t=2;x=3';

function mapOne(
  entry: Record<string, unknown>,
  opts: Partial<ConstructorParameters<typeof JournalMapper>[0]> = {},
) {
  const m = new JournalMapper({ fields: 'all', exclude_units: [], ...opts });
  const out: MapResult = { records: [], bytes: 0, cursor: undefined };
  m.mapLines([JSON.stringify({ __CURSOR: CURSOR, ...entry })], out);
  return { m, out, rec: out.records[0] };
}

describe('journald record mapping', () => {
  it('maps the well-known fields and keeps the rest under journal', () => {
    const { rec, out } = mapOne({
      __REALTIME_TIMESTAMP: '1700000000123456',
      __MONOTONIC_TIMESTAMP: '42',
      MESSAGE: 'hello',
      PRIORITY: '3',
      _SYSTEMD_UNIT: 'redis.service',
      _HOSTNAME: 'node-1',
      _PID: '1234',
      SYSLOG_IDENTIFIER: 'redis',
      _COMM: 'redis-server',
    });
    expect(out.cursor).toBe(CURSOR);
    expect(rec.fields).toEqual({
      message: 'hello',
      level: 'err',
      unit: 'redis.service',
      hostname: 'node-1',
      pid: 1234,
      syslog_identifier: 'redis',
      journal: { __MONOTONIC_TIMESTAMP: '42', _COMM: 'redis-server' },
    });
    expect(rec.timeMs).toBe(1700000000123);
    expect(rec.timeNs).toBe(456_000);
    expect(rec.sourceId).toBe(`journald:${CURSOR}`);
  });

  it('maps every priority to its syslog name', () => {
    const names = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
    for (let p = 0; p < 8; p++)
      expect(mapOne({ PRIORITY: String(p) }).rec.fields.level).toBe(names[p]);
    expect(mapOne({ PRIORITY: '9' }).rec.fields.level).toBeUndefined();
  });

  it('decodes byte-array messages as UTF-8, and keeps non-text as base64 with a flag', () => {
    const text = Buffer.from('line one\nline two ✓', 'utf8');
    expect(mapOne({ MESSAGE: [...text] }).rec.fields).toMatchObject({
      message: 'line one\nline two ✓',
    });
    expect(mapOne({ MESSAGE: [...text] }).rec.fields.message_binary).toBeUndefined();
    const bin = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]);
    const r = mapOne({ MESSAGE: [...bin], BLOB: [...bin], OK: [104, 105] }).rec;
    expect(r.fields.message).toBe(bin.toString('base64'));
    expect(r.fields.message_binary).toBe(true);
    expect(r.fields.journal).toEqual({ BLOB: bin.toString('base64'), OK: 'hi' });
    expect(r.fields.journal_binary).toEqual(['BLOB']);
  });

  it('keeps repeated fields as arrays', () => {
    const r = mapOne({ TAG: ['a', [98], [0xff]], MESSAGE: ['x', 'y'] }).rec;
    expect(r.fields.message).toBe('x\ny');
    expect(r.fields.journal).toEqual({ TAG: ['a', 'b', Buffer.from([0xff]).toString('base64')] });
    expect(r.fields.journal_binary).toEqual(['TAG']);
  });

  it('selects journal fields: common and a list', () => {
    const entry = {
      MESSAGE: 'm',
      _COMM: 'c',
      _BOOT_ID: 'b',
      X_CUSTOM: 'x',
      __MONOTONIC_TIMESTAMP: '1',
    };
    expect(mapOne(entry, { fields: 'common' }).rec.fields.journal).toEqual({
      _COMM: 'c',
      _BOOT_ID: 'b',
    });
    expect(mapOne(entry, { fields: ['X_CUSTOM'] }).rec.fields.journal).toEqual({ X_CUSTOM: 'x' });
    expect(mapOne(entry, { fields: [] }).rec.fields.journal).toBeUndefined();
  });

  it('drops excluded units but still advances the cursor', () => {
    const { out, m } = mapOne(
      { MESSAGE: 'm', _SYSTEMD_UNIT: 'noisy.service' },
      { exclude_units: ['noisy'] },
    );
    expect(out.records).toHaveLength(0);
    expect(out.cursor).toBe(CURSOR);
    expect(m.stats.excluded).toBe(1);
  });

  it('counts malformed lines and skips them without throwing', () => {
    const m = new JournalMapper({ fields: 'all', exclude_units: [] });
    const out: MapResult = { records: [], bytes: 0, cursor: undefined };
    m.mapLines(
      ['{"MESSAGE":"no cursor"}', '{trunc', 'null', '[1]', '', `{"__CURSOR":"c2","MESSAGE":"ok"}`],
      out,
    );
    expect(out.records.map((r) => r.fields.message)).toEqual(['ok']);
    expect(out.cursor).toBe('c2');
    expect(m.stats.malformed).toBe(4);
  });

  it('falls back to the current time without a realtime timestamp, and an empty message', () => {
    const before = Date.now();
    const r = mapOne({}).rec;
    expect(r.timeMs).toBeGreaterThanOrEqual(before);
    expect(r.fields.message).toBe('');
  });
});
