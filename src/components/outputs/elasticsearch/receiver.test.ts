// The test receiver must answer like Elasticsearch, or the output's tests prove nothing.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EsReceiver, filterPath } from '../../../../test/receivers/elasticsearch.js';

let es: EsReceiver;
beforeAll(async () => {
  es = await EsReceiver.start();
});
afterAll(async () => {
  await es.close();
});

async function bulk(body: string | Buffer, headers: Record<string, string> = {}, query = '') {
  const res = await request(`${es.url}/_bulk${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...headers },
    body,
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

type Items = Array<Record<string, { status: number; _id: string; error?: { type: string } }>>;

describe('EsReceiver', () => {
  it('answers per item in the Elasticsearch shape; create of an existing id is a 409', async () => {
    const body =
      '{"create":{"_index":"a","_id":"1"}}\n{"x":1}\n' +
      '{"create":{"_index":"a","_id":"1"}}\n{"x":2}\n' +
      '{"index":{"_index":"a","_id":"1"}}\n{"x":3}\n' +
      '{"create":{"_index":"a"}}\n{"x":4}\n';
    const { status, json } = await bulk(body);
    expect(status).toBe(200);
    expect(json.errors).toBe(true);
    expect(typeof json.took).toBe('number');
    const items = json.items as Items;
    expect(items.map((i) => Object.keys(i)[0])).toEqual(['create', 'create', 'index', 'create']);
    expect(items.map((i) => Object.values(i)[0].status)).toEqual([201, 409, 200, 201]);
    expect(items[1].create.error?.type).toBe('version_conflict_engine_exception');
    expect(items[3].create._id).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(es.indices.get('a')?.get('1')).toEqual({ x: 3 });
  });

  it('checks Content-Type (406), the final newline and gzip bodies', async () => {
    const res = await request(`${es.url}/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"create":{"_index":"b"}}\n{}\n',
    });
    expect(res.statusCode).toBe(406);
    await res.body.dump();
    expect((await bulk('{"create":{"_index":"b"}}\n{}')).status).toBe(400);
    const gz = await bulk(gzipSync('{"create":{"_index":"b","_id":"z"}}\n{"g":1}\n'), {
      'content-encoding': 'gzip',
    });
    expect(gz.status).toBe(200);
    expect(es.indices.get('b')?.get('z')).toEqual({ g: 1 });
  });

  it('applies filter_path like Elasticsearch', async () => {
    expect(
      filterPath(
        { took: 3, errors: false, items: [{ create: { _id: 'x', status: 201 } }] },
        'errors,items.*.status',
      ),
    ).toEqual({ errors: false, items: [{ create: { status: 201 } }] });
    const { json } = await bulk(
      '{"create":{"_index":"c","_id":"1"}}\n{}\n',
      {},
      '?filter_path=errors,items.*.status',
    );
    expect(json).toEqual({ errors: false, items: [{ create: { status: 201 } }] });
  });

  it('rejects index (not create) into a data stream and upper-case index names', async () => {
    const { json } = await bulk(
      '{"index":{"_index":"logs-app-default"}}\n{}\n{"create":{"_index":"Bad"}}\n{}\n',
    );
    const items = json.items as Items;
    expect(items[0].index.status).toBe(400);
    expect(items[1].create.error?.type).toBe('invalid_index_name_exception');
  });

  it('injects request-level statuses in order, then answers normally', async () => {
    es.failNext.push(429, 500);
    expect((await bulk('{"create":{"_index":"d"}}\n{}\n')).status).toBe(429);
    expect((await bulk('{"create":{"_index":"d"}}\n{}\n')).status).toBe(500);
    expect((await bulk('{"create":{"_index":"d"}}\n{}\n')).status).toBe(200);
  });
});
