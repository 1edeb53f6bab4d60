// The s3 output against a real S3 protocol server (s3rver on 127.0.0.1:0): keys, content,
// rolling, multipart, outage and retry, dead letters, the buffer budget, credentials.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { createDeadLetterWriter } from '../../../core/dead-letter.js';
import type { OutputContext } from '../../../core/component.js';
import type { LogRecord, OutputBatch } from '../../../core/record.js';
import { componentSchema, getDef } from '../../registry.js';
import { createLogger, nullLogger } from '../../../telemetry/logger.js';
const testLog = process.env.S3_TEST_VERBOSE ? createLogger({ level: 'debug' }) : nullLogger;
import { Metrics } from '../../../telemetry/metrics.js';
import { startS3, type S3Receiver } from '../../../../test/receivers/s3.js';
import { startPipeline, tempDir } from '../../../../test/helpers/harness.js';
import { abortLeftoverUploads, S3Output, type SendsCommands } from './output.js';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_EC2_METADATA_DISABLED = 'true'; // never reach for instance metadata in tests

let s3: S3Receiver;
beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3?.close();
});

const outputs: Array<{ out: S3Output; abort: AbortController }> = [];
afterEach(async () => {
  for (const { out, abort } of outputs.splice(0)) {
    // A failed test may leave an upload retrying: give stop() a shutdown deadline.
    const t = setTimeout(() => abort.abort(new Error('test cleanup')), 3000);
    await out.stop();
    clearTimeout(t);
    out.client.destroy();
  }
});

interface Made {
  out: S3Output;
  ctx: OutputContext;
  abort: AbortController;
  metrics: Metrics;
  dataDir: string;
}

function parse(opts: Record<string, unknown>) {
  const schema = componentSchema(getDef('output', 's3'));
  return schema.parse({ type: 's3', id: 'archive', ...opts }) as never;
}

function make(
  opts: Record<string, unknown>,
  extra: { hostname?: string; bufferLimit?: number } = {},
): Made {
  const abort = new AbortController();
  const metrics = new Metrics({ defaultMetrics: false });
  const dataDir = tempDir('shiplog-s3-');
  const ctx: OutputContext = {
    bufferLimit: extra.bufferLimit ?? 256 * 1024 * 1024,
    id: 'archive',
    type: 's3',
    log: testLog,
    metrics,
    dataDir,
    signal: abort.signal,
    deadLetter: createDeadLetterWriter(dataDir, 'archive', nullLogger, metrics),
  };
  const config = parse({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    force_path_style: true,
    checksum: 'when_required',
    ...opts,
  });
  const out = new S3Output(config, ctx, {
    hostname: extra.hostname ?? 'node-1',
    bufferLimit: extra.bufferLimit,
  });
  outputs.push({ out, abort });
  return { out, ctx, abort, metrics, dataDir };
}

let seq = 0;
function records(n: number, timeMs = Date.UTC(2024, 0, 2, 3, 4, 5), pad = 0): LogRecord[] {
  const out: LogRecord[] = [];
  for (let i = 0; i < n; i++) {
    const fields = { seq: seq++, message: `line ${seq} é "quoted"` + 'x'.repeat(pad) };
    // Half the records carry their original JSON text (as parse_json leaves it): it must be reused.
    out.push(
      i % 2 === 0
        ? { fields, timeMs: timeMs + i, timeNs: 0, raw: JSON.stringify(fields) }
        : { fields, timeMs: timeMs + i, timeNs: 0 },
    );
  }
  return out;
}

function batch(tag: string, recs: LogRecord[]): OutputBatch & { acked: number } {
  const b = {
    tag,
    records: recs,
    bytes: recs.reduce((n, r) => n + JSON.stringify(r.fields).length + 64, 0),
    acked: 0,
    ack() {
      b.acked++;
    },
  };
  return b;
}

function expected(recs: LogRecord[]): string {
  return recs.map((r) => JSON.stringify(r.fields) + '\n').join('');
}

async function objectsUnder(
  prefix: string,
): Promise<Array<{ key: string; text: string; encoding?: string }>> {
  const keys = (await s3.keys()).filter((k) => k.startsWith(prefix));
  const out = [];
  for (const key of keys) {
    const o = await s3.get(key);
    const text = (o.contentEncoding === 'gzip' ? gunzipSync(o.body) : o.body).toString('utf8');
    out.push({ key, text, encoding: o.contentEncoding });
  }
  return out;
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sequence numbers of NDJSON text, in order. */
function seqs(text: string): number[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
}

describe('s3 output', () => {
  it('writes gzip NDJSON objects per tag under the templated key; acks only after upload', async () => {
    const { out } = make({});
    await out.start();
    const a1 = batch('app.web', records(3));
    const b1 = batch('app.db', records(2, Date.UTC(2024, 5, 7, 8, 9, 10)));
    const a2 = batch('app.web', records(4, Date.UTC(2024, 0, 2, 5, 0, 0)));
    out.write(a1);
    out.write(b1);
    out.write(a2);
    await new Promise((r) => setTimeout(r, 200));
    expect([a1.acked, b1.acked, a2.acked]).toEqual([0, 0, 0]); // still accumulating
    await out.stop();
    expect([a1.acked, b1.acked, a2.acked]).toEqual([1, 1, 1]);

    const objs = await objectsUnder('shiplog/app.');
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;
    expect(objs.map((o) => o.key.replace(uuid, 'UUID'))).toEqual([
      'shiplog/app.db/2024/06/07/080910-UUID.ndjson.gz',
      'shiplog/app.web/2024/01/02/030405-UUID.ndjson.gz', // first record's time, not the last
    ]);
    expect(objs[0].encoding).toBe('gzip');
    expect(objs[0].text).toBe(expected(b1.records));
    expect(objs[1].text).toBe(expected([...a1.records, ...a2.records]));
  });

  it('{tag[0]}, {hostname} and compression none (plain NDJSON, no .gz)', async () => {
    const { out } = make(
      { key: 'plain/{hostname}/{tag[0]}/%Y%m%d/{uuid}.ndjson.gz', compression: 'none' },
      { hostname: 'node-9' },
    );
    await out.start();
    const b = batch('kube.prod.api', records(5));
    out.write(b);
    await out.stop();
    const objs = await objectsUnder('plain/');
    expect(objs).toHaveLength(1);
    expect(objs[0].key).toMatch(/^plain\/node-9\/kube\/20240102\/[0-9a-f-]{36}\.ndjson$/);
    expect(objs[0].encoding).toBeUndefined();
    expect(objs[0].text).toBe(expected(b.records));
    expect(b.acked).toBe(1);
  });

  it('rolls by size: every object stays under batch.max_bytes and nothing is lost or reordered', async () => {
    const { out } = make({
      key: 'size/{tag}/{uuid}.gz',
      batch: { max_bytes: '16KiB', max_wait: '5m' },
    });
    await out.start();
    const all: LogRecord[] = [];
    const batches: Array<OutputBatch & { acked: number }> = [];
    for (let i = 0; i < 60; i++) {
      const recs = records(10, Date.UTC(2024, 0, 2) + i * 1000, 40); // ~1 KiB per batch
      all.push(...recs);
      const b = batch('t', recs);
      batches.push(b);
      out.write(b);
    }
    // Objects roll while writing, before stop: 60 KiB of NDJSON in 16 KiB objects.
    await until(() => batches.filter((b) => b.acked === 1).length >= 45);
    await out.stop();
    expect(batches.every((b) => b.acked === 1)).toBe(true);
    const objs = await objectsUnder('size/');
    expect(objs.length).toBeGreaterThanOrEqual(4);
    for (const o of objs) expect(Buffer.byteLength(o.text)).toBeLessThanOrEqual(16 * 1024 + 64);
    const got = objs.flatMap((o) => seqs(o.text)).sort((x, y) => x - y);
    expect(got).toEqual(all.map((r) => r.fields.seq));
  });

  it('rolls by time: an object is uploaded and acknowledged max_wait after its first record', async () => {
    const { out } = make({ key: 'time/{tag}/{uuid}.gz', batch: { max_wait: '400ms' } });
    await out.start();
    const b = batch('t', records(3));
    const t0 = Date.now();
    out.write(b);
    await until(() => b.acked === 1, 10_000);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(5_000);
    expect((await objectsUnder('time/'))[0].text).toBe(expected(b.records));
    // A second object after the first rolled: the timer is per object.
    const b2 = batch('t', records(2));
    out.write(b2);
    await until(() => b2.acked === 1, 10_000);
    expect(await objectsUnder('time/')).toHaveLength(2);
  });

  it('uploads an object over 20 MiB as a multipart upload in 8 MiB parts', async () => {
    const { out } = make({ key: 'big/{uuid}.ndjson', compression: 'none' });
    await out.start();
    const before = s3.requests.length;
    const all: LogRecord[] = [];
    const batches: Array<OutputBatch & { acked: number }> = [];
    // 21 MiB+ of NDJSON in 22 batches of ~1 MiB.
    for (let i = 0; i < 22; i++) {
      const recs = records(1024, Date.UTC(2024, 0, 2), 1000);
      all.push(...recs);
      const b = batch('big', recs);
      batches.push(b);
      out.write(b);
    }
    await out.stop();
    expect(batches.every((b) => b.acked === 1)).toBe(true);
    const reqs = s3.requests.slice(before);
    expect(reqs.filter((r) => r.startsWith('POST') && r.includes('?uploads')).length).toBe(1);
    expect(reqs.filter((r) => r.startsWith('PUT') && r.includes('partNumber=')).length).toBe(3);
    expect(reqs.filter((r) => r.startsWith('POST') && r.includes('uploadId=')).length).toBe(1);
    const objs = await objectsUnder('big/');
    expect(objs).toHaveLength(1);
    expect(Buffer.byteLength(objs[0].text)).toBeGreaterThan(20 * 1024 * 1024);
    expect(objs[0].text).toBe(expected(all));
  });

  it('gzip objects above one part (incompressible data) are multipart too and gunzip exactly', async () => {
    const { out } = make({ key: 'gzbig/{uuid}.gz' });
    await out.start();
    const before = s3.requests.length;
    const recs: LogRecord[] = [];
    for (let i = 0; i < 90; i++)
      recs.push({
        fields: { seq: i, blob: randomBytes(75_000).toString('base64') },
        timeMs: Date.now(),
        timeNs: 0,
      });
    const b = batch('g', recs); // ~9 MiB of base64: ~7 MiB+ gzipped... make it two batches
    const recs2: LogRecord[] = [];
    for (let i = 0; i < 40; i++)
      recs2.push({
        fields: { seq: 90 + i, blob: randomBytes(75_000).toString('base64') },
        timeMs: Date.now(),
        timeNs: 0,
      });
    const b2 = batch('g', recs2);
    out.write(b);
    out.write(b2);
    await out.stop();
    expect([b.acked, b2.acked]).toEqual([1, 1]);
    const reqs = s3.requests.slice(before);
    expect(reqs.filter((r) => r.startsWith('PUT') && r.includes('partNumber=')).length).toBe(2);
    const objs = await objectsUnder('gzbig/');
    expect(objs[0].text).toBe(expected([...recs, ...recs2]));
  });

  it('server down for ~6 s mid-run: uploads are retried whole, nothing lost, all acknowledged', async () => {
    const { out, metrics, dataDir } = make({
      key: 'outage/{tag}/{uuid}.gz',
      batch: { max_bytes: '8KiB', max_wait: '300ms' },
      retry: { initial: '200ms', max: '1s' },
    });
    await out.start();
    const all: LogRecord[] = [];
    const batches: Array<OutputBatch & { acked: number }> = [];
    const writeSome = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const recs = records(20, Date.UTC(2024, 0, 2) + i, 20);
        all.push(...recs);
        const b = batch('o', recs);
        batches.push(b);
        out.write(b);
      }
    };
    writeSome(10);
    await until(() => batches.every((b) => b.acked === 1));
    await s3.stop();
    const downAt = Date.now();
    for (let s = 0; s < 6; s++) {
      writeSome(5);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const unacked = batches.filter((b) => b.acked === 0).length;
    expect(unacked).toBeGreaterThan(0); // nothing acknowledged while S3 was unreachable
    expect(out.health().ok).toBe(false);
    await s3.restart();
    const downFor = Date.now() - downAt;
    expect(downFor).toBeGreaterThanOrEqual(6000);
    await until(() => batches.every((b) => b.acked === 1), 30_000);
    await out.stop();
    expect(batches.every((b) => b.acked === 1)).toBe(true);
    const got = (await objectsUnder('outage/')).flatMap((o) => seqs(o.text)).sort((x, y) => x - y);
    expect(got).toEqual(all.map((r) => r.fields.seq)); // exactly once: retries reuse the key
    const failed = (
      await metrics.registry.getSingleMetric('shiplog_output_requests_total')!.get()
    ).values
      .filter((v) => v.labels.status !== 'ok')
      .reduce((n, v) => n + v.value, 0);
    expect(failed).toBeGreaterThan(0);
    expect(existsSync(path.join(dataDir, 'dead_letter', 'archive.ndjson'))).toBe(false);
    expect(out.health().ok).toBe(true);
  }, 60_000);

  it('retry.max_elapsed: records of an object that cannot be uploaded are dead-lettered, then acked', async () => {
    const { out, dataDir } = make({
      endpoint: 'http://127.0.0.1:9', // discard port: connection refused
      key: 'dl/{uuid}.gz',
      batch: { max_wait: '100ms' },
      retry: { initial: '100ms', max: '200ms', max_elapsed: '1500ms' },
    });
    await out.start();
    const b = batch('d', records(4));
    out.write(b);
    await until(() => b.acked === 1, 30_000);
    const lines = readFileSync(path.join(dataDir, 'dead_letter', 'archive.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; tag: string; record: { seq: number } });
    expect(lines.map((l) => l.record.seq)).toEqual(b.records.map((r) => r.fields.seq));
    expect(lines[0].reason).toMatch(/gave up after retry.max_elapsed/);
    expect(lines[0].tag).toBe('d');
  }, 40_000);

  it('shutdown deadline: an object that cannot be uploaded stays unacknowledged (re-read on restart)', async () => {
    const { out, abort } = make({
      endpoint: 'http://127.0.0.1:9',
      key: 'deadline/{uuid}.gz',
      retry: { initial: '100ms', max: '200ms' },
    });
    await out.start();
    const b = batch('d', records(2));
    out.write(b);
    const t = setTimeout(() => abort.abort(new Error('shutdown timeout')), 800);
    const t0 = Date.now();
    await out.stop();
    clearTimeout(t);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(b.acked).toBe(0);
  });

  it('a buffer budget below batch.max_bytes rolls at half the budget (inputs never wait for max_wait)', async () => {
    // demo input, 3000 records, a 256 KiB output buffer and the default 50 MiB / 5 min objects:
    // without rolling at the budget the pipeline would stall for 5 minutes.
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'demo', id: 'gen', tag: 'budget', rate: 0, count: 3000, batch_size: 50 }],
        outputs: [
          {
            type: 's3',
            id: 'archive',
            bucket: s3.bucket,
            endpoint: s3.endpoint,
            force_path_style: true,
            checksum: 'when_required',
            key: 'budget/{tag}/{uuid}.gz',
            buffer: { max_bytes: '256KiB' },
          },
        ],
      },
    });
    try {
      await h.pipeline.drained();
      const t0 = Date.now();
      await until(async () => {
        const objs = await objectsUnder('budget/');
        return objs.reduce((n, o) => n + seqsCount(o.text), 0) >= 3000;
      }, 30_000);
      expect(Date.now() - t0).toBeLessThan(30_000);
      const objs = await objectsUnder('budget/');
      expect(objs.length).toBeGreaterThan(3);
      expect(objs.reduce((n, o) => n + seqsCount(o.text), 0)).toBe(3000);
    } finally {
      await h.stop();
    }
  }, 60_000);

  it('stop() uploads what is buffered', async () => {
    const { out } = make({ key: 'stop/{uuid}.gz' });
    await out.start();
    const b = batch('s', records(7));
    out.write(b);
    expect(out.pending.open).toBe(1);
    await out.stop();
    await out.stop(); // idempotent
    expect(b.acked).toBe(1);
    expect((await objectsUnder('stop/'))[0].text).toBe(expected(b.records));
  });

  it('stop() without start() is safe', async () => {
    const { out } = make({ key: 'nostart/{uuid}.gz' });
    await out.stop();
    expect(await objectsUnder('nostart/')).toEqual([]);
  });

  it('s3rver lacks ListMultipartUploads: start-up cleanup failing is not fatal', async () => {
    await s3.client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: 'shiplog/x/left-behind' }),
    );
    const { out } = make({});
    await out.start();
    const b = batch('after', records(1));
    out.write(b);
    await out.stop();
    expect(b.acked).toBe(1);
  });
});

function seqsCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

describe('s3 start-up cleanup of incomplete multipart uploads', () => {
  function fakeClient(uploads: Array<{ Key: string; UploadId: string; Initiated: Date }>) {
    const aborted: string[] = [];
    const listed: Array<Record<string, unknown>> = [];
    const client: SendsCommands = {
      async send(cmd) {
        const input = cmd.input as unknown as Record<string, unknown>;
        if (cmd.constructor.name === 'ListMultipartUploadsCommand') {
          listed.push(input);
          // Two pages to exercise pagination.
          const page = input.KeyMarker ? uploads.slice(2) : uploads.slice(0, 2);
          return {
            Uploads: page,
            IsTruncated: !input.KeyMarker,
            NextKeyMarker: input.KeyMarker ? undefined : page[page.length - 1]?.Key,
            NextUploadIdMarker: input.KeyMarker ? undefined : page[page.length - 1]?.UploadId,
          };
        }
        aborted.push(`${input.Key as string}#${input.UploadId as string}`);
        return {};
      },
    };
    return { client, aborted, listed };
  }
  const now = Date.now();
  const ago = (ms: number): Date => new Date(now - ms);
  const uploads = [
    { Key: 'shiplog/a/old', UploadId: '1', Initiated: ago(2 * 3600_000) },
    { Key: 'shiplog/a/young', UploadId: '2', Initiated: ago(60_000) },
    { Key: 'shiplog/b/old2', UploadId: '3', Initiated: ago(90 * 60_000) },
    { Key: 'shiplog/b/after-start', UploadId: '4', Initiated: new Date(now + 1000) },
  ];

  it('shared prefix: aborts only uploads older than abort_incomplete_after', async () => {
    const f = fakeClient(uploads);
    const n = await abortLeftoverUploads(f.client, {
      bucket: 'b',
      prefix: 'shiplog/',
      before: now,
      minAgeMs: 3600_000,
      ownPrefix: false,
    });
    expect(n).toBe(2);
    expect(f.aborted).toEqual(['shiplog/a/old#1', 'shiplog/b/old2#3']);
    expect(f.listed[0]).toMatchObject({ Bucket: 'b', Prefix: 'shiplog/' });
    expect(f.listed).toHaveLength(2);
  });

  it('prefix with our hostname: aborts every upload started before this run', async () => {
    const f = fakeClient(uploads);
    const n = await abortLeftoverUploads(f.client, {
      bucket: 'b',
      prefix: 'shiplog/',
      before: now,
      minAgeMs: 3600_000,
      ownPrefix: true,
    });
    expect(n).toBe(3);
    expect(f.aborted).not.toContain('shiplog/b/after-start#4');
  });
});

describe('s3 credentials', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  const clean = (): void => {
    for (const k of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_SHARED_CREDENTIALS_FILE',
      'AWS_CONFIG_FILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    ])
      delete process.env[k];
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  };

  it('the default chain picks up environment credentials', async () => {
    clean();
    process.env.AWS_ACCESS_KEY_ID = 'AKIAENVEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'env-secret';
    process.env.AWS_SESSION_TOKEN = 'env-token';
    const { out } = make({});
    const c = await out.client.config.credentials();
    expect(c).toMatchObject({
      accessKeyId: 'AKIAENVEXAMPLE',
      secretAccessKey: 'env-secret',
      sessionToken: 'env-token',
    });
  });

  it('the default chain picks up a shared profile (credentials + config files, AWS_PROFILE)', async () => {
    clean();
    const dir = tempDir('shiplog-aws-');
    const credFile = path.join(dir, 'credentials');
    const confFile = path.join(dir, 'config');
    writeFileSync(
      credFile,
      '[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n\n' +
        '[archive]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n',
    );
    writeFileSync(confFile, '[profile archive]\nregion = eu-west-3\n');
    process.env.AWS_SHARED_CREDENTIALS_FILE = credFile;
    process.env.AWS_CONFIG_FILE = confFile;
    process.env.AWS_PROFILE = 'archive';
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    const { out } = make({ endpoint: undefined, force_path_style: false });
    const c = await out.client.config.credentials();
    expect(c).toMatchObject({ accessKeyId: 'AKIAPROFILE', secretAccessKey: 'profile-secret' });
    expect(await out.client.config.region()).toBe('eu-west-3');
  });

  it('explicit credentials are env/file references, read when the SDK asks', async () => {
    clean();
    const dir = tempDir('shiplog-aws-');
    const secretFile = path.join(dir, 'secret');
    // s3rver checks the access key id (S3RVER) but not the signature.
    writeFileSync(secretFile, 'S3RVER\n');
    process.env.MY_KEY_ID = 'S3RVER';
    const { out } = make({
      credentials: { access_key_id_env: 'MY_KEY_ID', secret_access_key_file: secretFile },
    });
    expect(await out.client.config.credentials()).toMatchObject({
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
    });
    // And they work against the server.
    await out.start();
    const b = batch('cred', records(1));
    out.write(b);
    await out.stop();
    expect(b.acked).toBe(1);
  });

  it('config errors: both env and file, missing secret, kms key without encryption, bad key', () => {
    expect(() =>
      make({
        credentials: {
          access_key_id_env: 'A',
          access_key_id_file: '/x',
          secret_access_key_env: 'B',
        },
      }),
    ).toThrow(/access_key_id_env or access_key_id_file, not both/);
    expect(() => make({ credentials: { access_key_id_env: 'A' } })).toThrow(
      /secret_access_key_env or secret_access_key_file is required/,
    );
    expect(() => make({ kms_key_id: 'arn:aws:kms:x' })).toThrow(/server_side_encryption/);
    expect(() => make({ key: 'logs/{tag}/%Y.gz' })).toThrow(/must contain \{uuid\}/);
    expect(() => parse({ bucket: 'b', credentials: { secret_access_key: 'literal' } })).toThrow();
  });
});
