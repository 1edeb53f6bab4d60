import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EsReceiver } from '../../../../test/receivers/elasticsearch.js';
import { startPipeline, tempDir } from '../../../../test/helpers/harness.js';
import { defineInput } from '../../../core/component.js';
import { createDeadLetterWriter } from '../../../core/dead-letter.js';
import { DiskQueue } from '../../../core/queue.js';
import type { BufferPool } from '../_shared/buffer-pool.js';
import type { LogRecord } from '../../../core/record.js';
import { componentSchema, register } from '../../registry.js';
import { nullLogger } from '../../../telemetry/logger.js';
import { Metrics } from '../../../telemetry/metrics.js';
import def from './index.js';
import { autoId } from './encode.js';
import type { ElasticsearchOutput } from './output.js';

const T0 = Date.UTC(2024, 0, 2, 12);
const FAST_RETRY = { initial: '10ms', max: '50ms' };

let es: EsReceiver;
beforeEach(async () => {
  es = await EsReceiver.start();
});
afterEach(async () => {
  await es.close();
});

function records(n: number, from = 0, prefix = 'file:1:2'): LogRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      fields: { level: 'info', message: `line ${i}`, seq: i },
      timeMs: T0 + i,
      timeNs: 0,
      sourceId: `${prefix}:${i * 100}`,
    };
  });
}

/** An output built as the pipeline builds it, plus ack and dead-letter inspection. */
function makeOutput(options: Record<string, unknown> = {}, diskQueue = false) {
  const config = componentSchema(def).parse({
    type: 'elasticsearch',
    id: 'es',
    url: es.url,
    retry: FAST_RETRY,
    batch: { max_wait: '20ms' },
    ...options,
  }) as never;
  const dataDir = tempDir();
  const metrics = new Metrics({ defaultMetrics: false });
  const abort = new AbortController();
  const output = def.create(config, {
    bufferLimit: 64 * 1024 * 1024,
    id: 'es',
    type: 'elasticsearch',
    log: nullLogger,
    metrics,
    dataDir,
    signal: abort.signal,
    deadLetter: createDeadLetterWriter(dataDir, 'es', nullLogger, metrics),
    queue: diskQueue
      ? () =>
          DiskQueue.open({ dir: path.join(dataDir, 'queue'), maxBytes: 1 << 30, log: nullLogger })
      : undefined,
  }) as ElasticsearchOutput;
  let acked = 0;
  let ackedRecords = 0;
  const deadFile = path.join(dataDir, 'dead_letter', 'es.ndjson');
  return {
    output,
    metrics,
    abort,
    get acked() {
      return acked;
    },
    write(recs: LogRecord[], tag = 'app') {
      output.write({
        tag,
        records: recs,
        bytes: recs.length * 100,
        ack: () => {
          acked++;
          ackedRecords += recs.length;
        },
      });
    },
    async waitAcked(nRecords: number, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (ackedRecords < nRecords) {
        if (Date.now() > until) throw new Error(`timeout: ${ackedRecords}/${nRecords} acked`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    deadLetters(): Array<{ reason: string; record: Record<string, unknown> }> {
      if (!existsSync(deadFile)) return [];
      return readFileSync(deadFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { reason: string; record: Record<string, unknown> });
    },
    async sentCount(result: string) {
      const m = await metrics.outputRecords.get();
      return m.values.find((v) => v.labels.result === result)?.value ?? 0;
    },
  };
}

describe('elasticsearch output: bulk requests', () => {
  it('indexes every record once, in the dated index, as NDJSON with deterministic ids', async () => {
    const o = makeOutput();
    await o.output.start();
    const recs = records(1000);
    o.write(recs.slice(0, 400));
    o.write(recs.slice(400));
    await o.waitAcked(1000);
    await o.output.stop();
    expect(o.acked).toBe(2);
    expect(es.count()).toBe(1000);
    const stored = es.indices.get('shiplog-2024.01.02')!;
    expect(stored.size).toBe(1000);
    const doc = stored.get(autoId(recs[7]))!;
    expect(doc).toEqual({
      '@timestamp': new Date(T0 + 7).toISOString(),
      level: 'info',
      message: 'line 7',
      seq: 7,
    });
    expect(es.stats.itemErrors + es.stats.item429 + es.stats.conflicts).toBe(0);
    expect(es.bulks.every((b) => b.status === 200 && !b.gzip)).toBe(true);
    expect(es.bulks[0].query.filter_path).toContain('items.*.status');
    expect(await o.sentCount('sent')).toBe(1000);
    expect(o.deadLetters()).toEqual([]);
  });

  it('gzip, ingest pipeline, data streams (forced create) and basic auth from a file', async () => {
    await es.close();
    es = await EsReceiver.start({
      authorization: `Basic ${Buffer.from('shipper:s3cret').toString('base64')}`,
    });
    const secret = path.join(tempDir(), 'pw');
    writeFileSync(secret, 's3cret\n');
    const o = makeOutput({
      compression: 'gzip',
      pipeline: 'geoip',
      action: 'index',
      data_stream: { dataset: '{app}', namespace: 'prod' },
      trusted_fields: ['app'],
      auth: { type: 'basic', user: 'shipper', password_file: secret },
      healthcheck: true,
    });
    await o.output.start();
    const recs = records(50).map((r) => ({ ...r, fields: { ...r.fields, app: 'billing' } }));
    o.write(recs);
    await o.waitAcked(50);
    await o.output.stop();
    expect(es.indices.get('logs-billing-prod')?.size).toBe(50);
    expect(es.bulks[0].gzip).toBe(true);
    expect(es.bulks[0].query.pipeline).toBe('geoip');
    expect(o.deadLetters()).toEqual([]);
  });

  it('fails start-up on a failing health check, and dead-letters a 401 with the fix', async () => {
    await es.close();
    es = await EsReceiver.start({ authorization: 'ApiKey right' });
    const bad = makeOutput({ auth: { type: 'api_key', api_key: 'wrong' }, healthcheck: true });
    await expect(bad.output.start()).rejects.toThrow(/answered 401 \(check auth/);
    await bad.output.stop();

    const o = makeOutput({ auth: { type: 'api_key', api_key: 'wrong' } });
    await o.output.start();
    o.write(records(3));
    await o.waitAcked(3);
    await o.output.stop();
    const dead = o.deadLetters();
    expect(dead).toHaveLength(3);
    expect(dead[0].reason).toMatch(/answered 401 \(check auth.*security_exception/);
    expect(es.count()).toBe(0);
  });

  it('document_id: none lets Elasticsearch choose ids', async () => {
    const o = makeOutput({ document_id: 'none' });
    await o.output.start();
    o.write(records(20));
    await o.waitAcked(20);
    await o.output.stop();
    expect(es.count()).toBe(20);
    expect(es.bulks[0].ids.every((id) => /^[A-Za-z0-9_-]{20}$/.test(id))).toBe(true);
  });

  it('refuses credentials in the url and bad templates at create time', () => {
    expect(() => makeOutput({ url: 'http://u:p@127.0.0.1:1' })).toThrow(/credentials/);
    expect(() => makeOutput({ index: 'x-%Q' })).toThrow(/strftime/);
    expect(() => makeOutput({ auth: { type: 'basic', user: 'u' } })).toThrow(/password/);
  });
});

describe('elasticsearch output: sealed bodies in reused buffers', () => {
  // Chunks of ~160 KiB (past the seal's hand-over size): a finished chunk's buffer encodes a later
  // chunk. A buffer reused while a request, a retry or a queue frame still read it would show up
  // as missing, duplicated or garbled documents.
  const big = (n: number, from: number): LogRecord[] =>
    records(n, from).map((r) => ({
      ...r,
      fields: { ...r.fields, message: `line ${String(r.fields.seq)} ${'x'.repeat(900)}` },
    }));
  for (const disk of [false, true]) {
    it(`every document intact across chunks and retries (${disk ? 'disk queue' : 'memory'})`, async () => {
      const o = makeOutput({ batch: { max_wait: '20ms', max_bytes: '160KiB' }, workers: 2 }, disk);
      await o.output.start();
      es.failNext.push(500, 503);
      es.dropResponses = 1;
      const n = 3000;
      for (let i = 0; i < n; i += 150) {
        o.write(big(150, i));
        // Now and then let the chunks so far be delivered: later ones reuse their buffers.
        if (i % 600 === 450) {
          await es.waitForCount(i + 150);
          await new Promise((r) => setTimeout(r, 30));
        }
      }
      await o.waitAcked(n);
      await o.output.stop();
      expect(es.count()).toBe(n);
      const docs = es.docs();
      expect(docs.length).toBe(n);
      const seqs = new Set<number>();
      for (const d of docs) {
        const seq = d.seq as number;
        expect(d.message).toBe(`line ${seq} ${'x'.repeat(900)}`);
        expect(d['@timestamp']).toBe(new Date(T0 + seq).toISOString());
        seqs.add(seq);
      }
      expect(seqs.size).toBe(n);
      expect(o.deadLetters()).toEqual([]);
      const pool = (o.output as unknown as { pool: BufferPool }).pool;
      expect(pool.reused).toBeGreaterThan(0);
    });
  }
});

describe('elasticsearch output: per-item outcomes', () => {
  it('a bulk where 3 of 1,000 items get 429 resends exactly those 3', async () => {
    const o = makeOutput({ batch: { max_wait: '20ms', max_bytes: '5MiB' } });
    await o.output.start();
    const recs = records(1000);
    const chosen = [recs[10], recs[500], recs[999]].map((r) => autoId(r));
    for (const id of chosen) es.reject429Ids.set(id, 1);
    o.write(recs);
    await o.waitAcked(1000);
    await o.output.stop();
    expect(es.bulks).toHaveLength(2);
    expect(es.bulks[0].ids).toHaveLength(1000);
    expect(es.bulks[0].itemStatuses.filter((s) => s === 429)).toHaveLength(3);
    expect(es.bulks[1].ids.sort()).toEqual([...chosen].sort());
    expect(es.count()).toBe(1000);
    expect(es.stats.conflicts).toBe(0);
    expect(await o.sentCount('retried')).toBe(3);
    expect(await o.sentCount('sent')).toBe(1000);
  });

  it('item-level 5xx are retried alone too', async () => {
    const o = makeOutput();
    await o.output.start();
    es.itemFault = ({ position, request }) =>
      request === 1 && position % 2 === 0
        ? {
            status: 503,
            type: 'unavailable_shards_exception',
            reason: 'primary shard is not active',
          }
        : undefined;
    o.write(records(10));
    await o.waitAcked(10);
    await o.output.stop();
    expect(es.bulks.map((b) => b.ids.length)).toEqual([10, 5]);
    expect(es.count()).toBe(10);
  });

  it('dead-letters mapping errors with type and reason and delivers the rest', async () => {
    const o = makeOutput();
    await o.output.start();
    es.mappingError = (doc) => doc.seq === 3 || doc.seq === 7;
    o.write(records(10));
    await o.waitAcked(10);
    await o.output.stop();
    expect(es.count()).toBe(8);
    const dead = o.deadLetters();
    expect(dead.map((d) => d.record.seq).sort()).toEqual([3, 7]);
    expect(dead[0].reason).toMatch(
      /^400 document_parsing_exception: \[1:15\] failed to parse field \[level\]/,
    );
    expect(es.bulks).toHaveLength(1); // never resent
  });

  it('invalid index names (upper case from a field) are dead-lettered, not retried', async () => {
    // #17.11: a record field chooses the index only when listed as trusted.
    expect(() => makeOutput({ index: 'app-{app}' })).toThrow(/index.*\{app\}.*trusted_fields/);
    expect(() => makeOutput({ document_id: '{req_id}' })).toThrow(/document_id.*trusted_fields/);
    expect(() =>
      makeOutput({ data_stream: { dataset: '{kubernetes.labels.app}', namespace: '{ns}' } }),
    ).toThrow(/data_stream.*\{ns\}/);
    expect(() => makeOutput({ index: 'k-{kubernetes.namespace_name}-%Y' })).not.toThrow();
    const o = makeOutput({ index: 'app-{app}', trusted_fields: ['app'] });
    await o.output.start();
    const recs = records(2);
    recs[1].fields.app = 'bad name';
    recs[0].fields.app = 'ok';
    o.write(recs);
    await o.waitAcked(2);
    await o.output.stop();
    expect(es.indices.get('app-ok')?.size).toBe(1);
    expect(o.deadLetters()[0].reason).toMatch(/400 invalid_index_name_exception/);
  });

  it('409 on create with our own id counts as delivered', async () => {
    const recs = records(100);
    const first = makeOutput();
    await first.output.start();
    first.write(recs.slice(0, 60));
    await first.waitAcked(60);
    await first.output.stop();

    const o = makeOutput();
    await o.output.start();
    o.write(recs);
    await o.waitAcked(100);
    await o.output.stop();
    expect(es.count()).toBe(100);
    expect(es.stats.conflicts).toBe(60);
    expect(o.output.conflicts).toBe(60);
    expect(o.deadLetters()).toEqual([]);
    expect(await o.sentCount('sent')).toBe(100);
  });

  it('a lost response (connection dropped after indexing) is retried without a second copy', async () => {
    const o = makeOutput();
    await o.output.start();
    es.dropResponses = 1;
    o.write(records(200));
    await o.waitAcked(200);
    await o.output.stop();
    expect(es.bulks).toHaveLength(2);
    expect(es.count()).toBe(200);
    expect(es.stats.conflicts).toBe(200);
    expect(o.deadLetters()).toEqual([]);
  });
});

describe('elasticsearch output: request-level outcomes', () => {
  it('retries whole-request 429 and 500 until delivered', async () => {
    const o = makeOutput();
    await o.output.start();
    es.failNext.push(429, 500, 502);
    o.write(records(30));
    await o.waitAcked(30);
    await o.output.stop();
    expect(es.bulks.map((b) => b.status)).toEqual([429, 500, 502, 200]);
    expect(es.count()).toBe(30);
    expect(o.deadLetters()).toEqual([]);
  });

  it('retries when the cluster is unreachable, then delivers', async () => {
    const port = Number(new URL(es.url).port);
    await es.close();
    const o = makeOutput({ url: `http://127.0.0.1:${port}` });
    await o.output.start();
    o.write(records(5));
    await new Promise((r) => setTimeout(r, 150));
    expect(o.acked).toBe(0);
    es = await startOn(port);
    await o.waitAcked(5);
    await o.output.stop();
    expect(es.count()).toBe(5);
  });

  it('413 splits the chunk until it fits and remembers the limit', async () => {
    await es.close();
    es = await EsReceiver.start({ maxContentLength: 16 * 1024 });
    const o = makeOutput({ batch: { max_wait: '20ms', max_bytes: '1MiB' } });
    await o.output.start();
    o.write(records(1000)); // ~130 KB of NDJSON
    await o.waitAcked(1000);
    const after413 = es.bulks.length;
    o.write(records(1000, 1000));
    await o.waitAcked(2000);
    await o.output.stop();
    expect(es.count()).toBe(2000);
    expect(es.bulks.slice(0, after413).some((b) => b.status === 413)).toBe(true);
    // The second chunk was split before sending: no more 413s.
    expect(es.bulks.slice(after413).every((b) => b.status === 200)).toBe(true);
    expect(es.stats.conflicts).toBe(0);
    expect(o.deadLetters()).toEqual([]);
  });

  it('413 for a single document too big for the cluster dead-letters that document', async () => {
    await es.close();
    es = await EsReceiver.start({ maxContentLength: 4096 });
    const o = makeOutput();
    await o.output.start();
    const recs = records(3);
    recs[1].fields.message = 'x'.repeat(8000);
    o.write(recs);
    await o.waitAcked(3);
    await o.output.stop();
    expect(es.count()).toBe(2);
    const dead = o.deadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0].reason).toMatch(/413 document of \d+ bytes/);
  });

  it('other 4xx (404: wrong path prefix) are permanent and name the fix', async () => {
    const o = makeOutput({ url: `${es.url}/proxy/es` });
    await o.output.start();
    o.write(records(2));
    await o.waitAcked(2);
    await o.output.stop();
    expect(o.deadLetters()[0].reason).toMatch(/answered 404 \(check url/);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the pipeline: replay after a crash, and a large run with 5% item 429s.

interface ReplayControl {
  emit(from: number, to: number): Promise<void> | undefined;
}
const replaySources = new Map<string, ReplayControl>();
register(
  defineInput({
    kind: 'input',
    type: 'es_replay_source',
    description: 'Test input: records with file-like sourceIds, emitted on demand.',
    options: z.object({}),
    create(_config, ctx) {
      const tracker = ctx.source('f');
      replaySources.set(ctx.id, {
        emit(from, to) {
          const recs = records(to - from, from, 'dev8:ino42:fp');
          return ctx.emit({
            tag: ctx.tag,
            records: recs,
            bytes: recs.length * 100,
            token: tracker.track(to),
          });
        },
      });
      return { async start() {}, async stop() {} };
    },
  }) as never,
);

describe('elasticsearch output in a pipeline', () => {
  it('a replay after SIGKILL (same source positions sent again) creates no second copy', async () => {
    const cfg = (url: string) => ({
      pipeline: {
        inputs: [{ type: 'es_replay_source', id: 'src' }],
        outputs: [{ type: 'elasticsearch', url, retry: FAST_RETRY, batch: { max_wait: '20ms' } }],
      },
    });
    // Run 1: 600 records reach Elasticsearch, then the process "dies" before the checkpoint is
    // written (we never stop the store, so nothing is committed to disk for run 2).
    const h1 = await startPipeline(cfg(es.url));
    await replaySources.get('src')!.emit(0, 600);
    await es.waitForCount(600);
    await h1.pipeline.stop(Date.now() + 1000);
    // Run 2: the input restarts from offset 0 (no checkpoint) and reads 1,000 records.
    const h2 = await startPipeline(cfg(es.url), { dataDir: tempDir() });
    await replaySources.get('src')!.emit(0, 1000);
    await es.waitForCount(1000);
    await h2.pipeline.idle();
    await h2.stop();
    expect(es.count()).toBe(1000);
    expect(es.stats.created).toBe(1000);
    expect(es.stats.conflicts).toBe(600);
    const seqs = new Set(es.docs().map((d) => d.seq));
    expect(seqs.size).toBe(1000);
  });

  it('200k demo records (no sourceIds: fallback ids) with 5% item 429s: zero loss, zero duplicates', async () => {
    es.reject429Fraction = 0.05;
    const total = 200_000;
    const started = performance.now();
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'demo', rate: 0, count: total, batch_size: 2000 }],
        outputs: [
          {
            type: 'elasticsearch',
            url: es.url,
            retry: FAST_RETRY,
            batch: { max_wait: '50ms', max_bytes: '2MiB' },
          },
        ],
      },
    });
    await h.pipeline.drained();
    await es.waitForCount(total, 90_000);
    await h.pipeline.idle();
    await h.stop();
    const seconds = (performance.now() - started) / 1000;
    expect(es.count()).toBe(total);
    const seqs = new Set<unknown>();
    for (const d of es.docs()) seqs.add((d.context as { seq: number }).seq);
    expect(seqs.size).toBe(total);
    expect(es.stats.item429).toBeGreaterThan(total * 0.04);
    expect(es.stats.conflicts).toBe(0);
    expect(existsSync(path.join(h.dataDir, 'dead_letter', 'elasticsearch_0.ndjson'))).toBe(false);
    console.log(
      `200k with 5% item 429: ${seconds.toFixed(1)}s, ${es.stats.bulkRequests} bulks, ${es.stats.item429} item 429s`,
    );
  }, 120_000);
});

async function startOn(port: number): Promise<EsReceiver> {
  // Listen again on the output's fixed port after a simulated outage.
  return EsReceiver.start({ port });
}

describe.skipIf(!process.env.SHIPLOG_LONG_TESTS)('elasticsearch output: soak', () => {
  it('1,000,000 records with 5% item 429s: zero loss, zero duplicates', async () => {
    es.reject429Fraction = 0.05;
    const total = 1_000_000;
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'demo', rate: 0, count: total, batch_size: 4096 }],
        outputs: [{ type: 'elasticsearch', url: es.url, retry: FAST_RETRY }],
      },
    });
    await h.pipeline.drained();
    await es.waitForCount(total, 600_000);
    await h.pipeline.idle();
    await h.stop();
    const seqs = new Set<unknown>();
    for (const d of es.docs()) seqs.add((d.context as { seq: number }).seq);
    expect(es.count()).toBe(total);
    expect(seqs.size).toBe(total);
    expect(es.stats.conflicts).toBe(0);
    expect(es.stats.item429).toBeGreaterThan(total * 0.04);
  }, 900_000);
});
