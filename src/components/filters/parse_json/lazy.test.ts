// The lazy record (core/json-record.ts) against the parse it replaces: the same lines through
// parse_json's scan path and through its JSON.parse path must give the same records, the same
// Loki push bytes and the same Elasticsearch bulk bytes.

import { describe, expect, it } from 'vitest';
import { JsonRecord, rawSpans } from '../../../core/json-record.js';
import { jsonLines } from '../../../core/json-testing.js';
import { copyRecord, recordJson, touch, type LogRecord } from '../../../core/record.js';
import { Arena } from '../../outputs/_shared/arena.js';
import { autoId, compileIndex, createBulkEncoder } from '../../outputs/elasticsearch/encode.js';
import { encodeProtobuf } from '../../outputs/loki/body.js';
import type { LokiEncoder } from '../../outputs/loki/encoder.js';
import { testLokiEncoder } from '../../../../test/helpers/loki-encoder.js';
import { lineRecord, testContext } from '../_shared/testing.js';
import def from './index.js';

const NOW = Date.parse('2025-03-01T12:00:00Z');

function filter(lazy: boolean, cfg: Record<string, unknown> = {}) {
  const config = def.options.parse({ time_field: 'timestamp', ...cfg });
  const f = def.create({ ...config, type: 'parse_json', id: 'pj', match: '*' }, testContext('pj'));
  // The JSON.parse path as it was before the scan: the lazy path switched off.
  if (!lazy) (f as unknown as { lazy: boolean }).lazy = false;
  return f;
}

function lines(): string[] {
  const agent = Array.from(
    { length: 200 },
    (_, i) =>
      `{"timestamp":"2025-03-01T11:59:${String(i % 60).padStart(2, '0')}.${i}Z","level":"${['INFO', 'WARN', 'a"b', 'é'][i % 4]}","component":"c${i % 3}","message":"m ${i}","context":{"n":${i}.5,"ok":true},"seq":${i}}`,
  );
  const odd = [
    '{"level":1e5,"component":-0,"x":93.910}',
    '{"level":{"a":[1,2]},"component":null,"timestamp":1740830000}',
    '{"component":"\\u00e9\\/","level":"l\\n","timestamp":"bad"}',
    '{ "level" : "INFO" , "component":"x" }',
    '{"file":"spoof","level":"INFO"}',
    '{"a":"x\\" :y","level":"INFO"}',
    '{}',
  ];
  return [...agent, ...odd, ...jsonLines(7, 1500)];
}

function records(lazy: boolean, withFile: boolean, cfg: Record<string, unknown> = {}): LogRecord[] {
  const recs = lines().map((l, i) => {
    const r = withFile ? lineRecord(l, { file: { path: '/var/log/a.log' } }) : lineRecord(l);
    r.timeMs = NOW - 1000;
    r.sourceId = `src:${i}`;
    return r;
  });
  return filter(lazy, cfg).process(recs, 't');
}

const exact = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (Object.is(x, -0) ? '-0!' : x));

function loki(): LokiEncoder {
  return testLokiEncoder(
    { labels: { job: 'agents', level: '{level}', component: '{component}' } },
    NOW,
  );
}

function bulk(recs: LogRecord[]): Buffer {
  const enc = createBulkEncoder({
    index: compileIndex('logs-%Y.%m.%d'),
    action: 'create',
    id: autoId,
    timeKey: '@timestamp',
  });
  const arena = new Arena();
  enc.encodeInto(recs, 0, recs.length, arena, []);
  return Buffer.from(arena.buf.subarray(0, arena.used));
}

describe('parse_json lazy records', () => {
  it.each([
    ['with input metadata', true],
    ['the line alone', false],
  ])('match the parsed records: %s', (_n, withFile) => {
    const lazy = records(true, withFile);
    const eager = records(false, withFile);
    expect(lazy.length).toBe(eager.length);
    const scanned = lazy.filter((r) => r instanceof JsonRecord).length;
    expect(scanned).toBeGreaterThan(lazy.length / 3);
    expect(eager.some((r) => r instanceof JsonRecord)).toBe(false);
    for (let i = 0; i < lazy.length; i++) {
      const a = lazy[i];
      const b = eager[i];
      expect([a.timeMs, a.timeNs, a.sourceId, a.rawExtra]).toEqual([
        b.timeMs,
        b.timeNs,
        b.sourceId,
        b.rawExtra,
      ]);
      expect(a.raw).toBe(b.raw);
      expect(exact(a.fields)).toBe(exact(b.fields));
    }
  });

  it('encode to the same Loki push bytes', () => {
    for (const withFile of [true, false]) {
      const lazy = loki().prepare(records(true, withFile));
      const eager = loki().prepare(records(false, withFile));
      expect(lazy.pushes.length).toBe(1);
      expect(
        Buffer.from(encodeProtobuf(lazy.pushes[0])).equals(encodeProtobuf(eager.pushes[0])),
      ).toBe(true);
      expect([lazy.badTimes, lazy.rejected.length]).toEqual([
        eager.badTimes,
        eager.rejected.length,
      ]);
    }
  });

  it('encode to the same Elasticsearch bulk bytes (and never build fields)', () => {
    for (const withFile of [true, false]) {
      const lazyRecs = records(true, withFile);
      const eagerRecs = records(false, withFile);
      expect(bulk(lazyRecs).equals(bulk(eagerRecs))).toBe(true);
      const built = lazyRecs.filter((r) => r instanceof JsonRecord && r.materialised).length;
      expect(built).toBe(0);
    }
  });

  it('falls back to the parse for what the scan leaves (duplicates, depth, keep_time: false)', () => {
    const [dup] = filter(true).process([lineRecord('{"a":1,"a":2}')], 't');
    expect(dup).not.toBeInstanceOf(JsonRecord);
    expect(dup.raw).toBeUndefined();
    const [kt] = filter(true, { keep_time: false }).process(
      [lineRecord('{"timestamp":1740830000,"a":1}')],
      't',
    );
    expect(kt).not.toBeInstanceOf(JsonRecord);
    expect(kt.fields).toEqual({ a: 1 });
    const [ok] = filter(true).process([lineRecord('{"timestamp":1740830000,"a":1}')], 't');
    expect(ok).toBeInstanceOf(JsonRecord);
    expect(ok.timeMs).toBe(1740830000_000);
  });

  it('a filter that changes the fields (touch) makes outputs read the fields, not the spans', () => {
    const line = '{"level":"INFO","component":"c","message":"m","n":1}';
    const [r] = filter(true).process([lineRecord(line, { file: { path: '/x' } })], 't');
    expect(r).toBeInstanceOf(JsonRecord);
    expect(rawSpans(r)).toBeDefined();
    r.fields.level = 'WARN';
    touch(r);
    expect(rawSpans(r)).toBeUndefined();
    expect(JSON.parse(recordJson(r))).toEqual({
      level: 'WARN',
      component: 'c',
      message: 'm',
      n: 1,
      file: { path: '/x' },
    });
    const p = loki().prepare([r]);
    const st = p.pushes[0].streams[0];
    expect(st.labels).toBe('{component="c", job="agents", level="WARN"}');
    expect(st.entries[0].line).toBe('{"message":"m","n":1,"file":{"path":"/x"}}');
    const c = copyRecord(r);
    expect(c).not.toBeInstanceOf(JsonRecord);
    expect(c.fields).toEqual(r.fields);
    expect(c.fields).not.toBe(r.fields);
  });
});
