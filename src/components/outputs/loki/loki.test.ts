// The loki output against the protocol-faithful receiver (test/receivers/loki.ts): every result
// path, checkpoints after acks, and a larger run with a 429 period.

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import snappy from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SourceTracker } from '../../../core/acks.js';
import { defineInput, type InputContext } from '../../../core/component.js';
import type { LogRecord } from '../../../core/record.js';
import { register } from '../../registry.js';
import { source, startPipeline, type Harness } from '../../../../test/helpers/harness.js';
import { LokiReceiver } from '../../../../test/receivers/loki.js';
import { encodePushRequest } from './logproto.js';

const open: Array<{ stop(): Promise<void> } | { close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) {
    if ('stop' in x) await x.stop();
    else await x.close();
  }
});

async function receiver(
  opts: Parameters<typeof LokiReceiver.start>[0] = {},
): Promise<LokiReceiver> {
  const r = await LokiReceiver.start(opts);
  open.push(r);
  return r;
}

// A test input that emits the records a test gives it, with distinct timestamps.
let feedCtx: InputContext | undefined;
let feedTracker: SourceTracker | undefined;
register(
  defineInput({
    kind: 'input',
    type: 'loki_test_feed',
    description: 'Test input: emits given records.',
    options: z.object({}),
    create(_config, ctx) {
      feedCtx = ctx;
      feedTracker = ctx.source('k');
      return { async start() {}, async stop() {} };
    },
  }),
);
function feed(lines: string[], position: number): void {
  const ctx = feedCtx!;
  const t = Date.now();
  const records: LogRecord[] = lines.map((message, i) => ({
    fields: { message },
    timeMs: t,
    timeNs: i * 1000,
  }));
  void ctx.emit({ tag: 'feed', records, bytes: 1000, token: feedTracker!.track(position) });
}

const FAST_RETRY = { initial: '20ms', max: '100ms' };

async function pipeline(url: string, loki: Record<string, unknown> = {}): Promise<Harness> {
  const h = await startPipeline({
    pipeline: {
      inputs: [{ type: 'test_source', id: 'src' }],
      outputs: [
        {
          type: 'loki',
          id: 'loki',
          url,
          labels: { job: 'test' },
          batch: { max_wait: '20ms' },
          retry: FAST_RETRY,
          // Most tests here check that a checkpoint waits for delivery; the disk queue has its own.
          buffer: { type: 'memory' },
          ...loki,
        },
      ],
    },
  });
  open.push(h);
  return h;
}

function deadLetters(h: Harness): Array<{ reason: string; record: { message: string } }> {
  const f = path.join(h.dataDir, 'dead_letter', 'loki.ndjson');
  if (!existsSync(f)) return [];
  // Polled while the writer appends: only whole lines (a last one without "\n" is not done yet).
  const lines = readFileSync(f, 'utf8').split('\n');
  lines.pop();
  return lines.map((l) => JSON.parse(l) as { reason: string; record: { message: string } });
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the receiver validates like Loki', () => {
  const push = (streams: Parameters<typeof encodePushRequest>[0]): Buffer =>
    snappy.compressSync(encodePushRequest(streams));
  const ts = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

  it('missing Content-Type is 400, missing tenant is 401 when required', async () => {
    const r = await receiver({ requireTenant: true });
    const body = push([{ labels: '{a="b"}', entries: [{ timestamp: ts(Date.now()), line: 'x' }] }]);
    const url = `${r.url}/loki/api/v1/push`;
    const noTenant = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-protobuf' },
    });
    expect(noTenant.status).toBe(401);
    const noType = await fetch(url, { method: 'POST', body, headers: { 'x-scope-orgid': 't' } });
    expect(noType.status).toBe(400);
    expect(await noType.text()).toBe('mime: no media type');
    const ok = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-protobuf', 'x-scope-orgid': 't' },
    });
    expect(ok.status).toBe(204);
    expect(r.entries).toHaveLength(1);
  });

  it('stores the valid part and reports the rest: labels, 15 labels, size, age, order', async () => {
    const r = await receiver({ maxLineBytes: 10 });
    const now = Date.now();
    const many = '{' + Array.from({ length: 16 }, (_, i) => `l${i}="v"`).join(', ') + '}';
    const res = await fetch(`${r.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: push([
        { labels: '{1bad="x"}', entries: [{ timestamp: ts(now), line: 'a' }] },
        { labels: many, entries: [{ timestamp: ts(now), line: 'b' }] },
        {
          labels: '{job="x"}',
          entries: [
            { timestamp: ts(now), line: 'ok1' },
            { timestamp: ts(now), line: 'much too long' },
            { timestamp: ts(now - 8 * 86_400_000), line: 'old' },
            { timestamp: ts(now + 3_600_000), line: 'future' },
            { timestamp: ts(now - 2 * 3_600_000), line: 'behind' },
            { timestamp: ts(now - 30 * 60_000), line: 'ok2' },
          ],
        },
      ]),
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/Error parsing labels '\{1bad="x"\}'/);
    expect(text).toMatch(/has 16 label names; limit 15/);
    expect(text).toMatch(/Max entry size '10' bytes exceeded/);
    expect(text).toMatch(/has timestamp too old/);
    expect(text).toMatch(/has timestamp too new/);
    expect(text).toMatch(/ignored, reason: 'entry too far behind/);
    expect(text).toMatch(/total ignored: 1 out of 6 for stream: \{job="x"\}/);
    expect(r.lines()).toEqual(['ok1', 'ok2']);
  });
});

describe('loki output', () => {
  it('pushes snappy protobuf with labels, ns timestamps, metadata, tenant and auth', async () => {
    const r = await receiver({ requireTenant: true, authorization: 'Basic dTpwdw==' });
    const h = await pipeline(r.url, {
      labels: { job: 'test', missing: '{no_such_field}' }, // empty ⇒ dropped
      tenant: 'team-a',
      auth: { type: 'basic', user: 'u', password: 'pw' },
      headers: { 'X-Extra': 'yes' },
    });
    await source('src').emit(3, 3);
    await r.waitFor(3, 5000);
    const req = r.requests[0];
    expect(req.contentType).toBe('application/x-protobuf');
    expect(req.tenant).toBe('team-a');
    expect(req.headers['x-extra']).toBe('yes');
    expect(r.entries.map((e) => e.line)).toEqual(['line 0', 'line 1', 'line 2']);
    expect(r.entries[0].stream).toBe('{job="test"}');
    expect(r.entries[0].ts).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);
    await until(() => source('src').committed() === 3);
    expect(deadLetters(h)).toEqual([]);
  });

  it('the 0.1 spelling (auth.bearer_token, tls.insecure_skip_verify) still delivers', async () => {
    const r = await receiver({ authorization: 'Bearer tok' });
    await pipeline(r.url, {
      auth: { bearer_token: 'tok' },
      tls: { insecure_skip_verify: false },
    });
    await source('src').emit(2, 2);
    await r.waitFor(2, 5000);
    expect(r.requests[0].authorization).toBe('Bearer tok');
  });

  it('JSON + gzip encoding', async () => {
    const r = await receiver();
    await pipeline(r.url, { encoding: 'json', structured_metadata: ['message'] });
    await source('src').emit(2, 2);
    await r.waitFor(2, 5000);
    expect(r.requests[0].contentType).toBe('application/json');
    expect(r.requests[0].contentEncoding).toBe('gzip');
    expect(r.entries.map((e) => [e.line, e.metadata])).toEqual([
      ['line 0', { message: 'line 0' }],
      ['line 1', { message: 'line 1' }],
    ]);
  });

  it('429 with Retry-After: waits as told, then delivers once; checkpoint only after the ack', async () => {
    const r = await receiver();
    r.fail({ status: 429, retryAfter: 1 }, 2);
    await pipeline(r.url);
    const t0 = Date.now();
    await source('src').emit(5, 5);
    await new Promise((res) => setTimeout(res, 300));
    expect(source('src').committed()).toBeUndefined();
    await r.waitFor(5, 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(r.stats.byStatus['429']).toBe(2);
    expect(r.lines()).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    await until(() => source('src').committed() === 5);
  });

  it('500 and a hanging server (timeout) are retried', async () => {
    const r = await receiver();
    r.fail({ status: 500 });
    r.fail({ hang: true });
    await pipeline(r.url, { timeout: '300ms' });
    await source('src').emit(4, 4);
    await r.waitFor(4, 10_000);
    expect(r.stats.byStatus['500']).toBe(1);
    expect(r.lines()).toHaveLength(4);
    await until(() => source('src').committed() === 4);
  });

  it('connection refused is retried until Loki comes back', async () => {
    const first = await LokiReceiver.start();
    const port = Number(new URL(first.url).port);
    await first.close();
    const h = await pipeline(first.url);
    await source('src').emit(3, 3);
    await new Promise((res) => setTimeout(res, 400));
    expect(source('src').committed()).toBeUndefined();
    const r = await receiver({ port });
    await r.waitFor(3, 10_000);
    await until(() => source('src').committed() === 3);
    expect(deadLetters(h)).toEqual([]);
  });

  it('partial 400: the rejected entries are dead-lettered with the reason, the rest stored, nothing resent', async () => {
    const r = await receiver();
    r.rejectWhere((e) => e.line === 'b' || e.line === 'd');
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'loki_test_feed', id: 'feed' }],
        outputs: [{ type: 'loki', id: 'loki', url: r.url, batch: { max_wait: '20ms' } }],
      },
    });
    open.push(h);
    feed(['a', 'b', 'c', 'd', 'e'], 5);
    await until(() => deadLetters(h).length === 2);
    expect(r.lines()).toEqual(['a', 'c', 'e']);
    expect(r.stats.requests).toBe(1);
    const dl = deadLetters(h);
    expect(dl.map((d) => d.record.message).sort()).toEqual(['b', 'd']);
    expect(dl[0].reason).toMatch(
      /^loki 400: entry with timestamp .* ignored, reason: 'entry out of order'$/,
    );
    await until(() => feedTracker!.committed === 5);
  });

  it('partial 400 naming a timestamp several entries share: all of them are dead-lettered', async () => {
    const r = await receiver();
    r.rejectWhere((e) => e.line === 'line 1');
    const h = await pipeline(r.url);
    await source('src').emit(3, 3);
    await until(() => source('src').committed() === 3);
    // test_source stamps Date.now() on each record: usually one millisecond for all three, and
    // then Loki's message cannot tell them apart. Never fewer than the refused one.
    const dl = deadLetters(h).map((d) => d.record.message);
    expect(dl).toContain('line 1');
    expect(r.lines()).not.toContain('line 1');
    for (const m of dl) if (m !== 'line 1') expect(r.lines()).toContain(m);
    if (dl.length > 1) expect(deadLetters(h)[0].reason).toMatch(/entries share this timestamp/);
  });

  it('a 400 it cannot map dead-letters the whole push, once', async () => {
    const r = await receiver();
    r.fail({ status: 400, body: 'something odd' });
    const h = await pipeline(r.url);
    await source('src').emit(2, 2);
    await until(() => source('src').committed() === 2);
    expect(r.stats.requests).toBe(1);
    expect(deadLetters(h).map((d) => d.reason)).toEqual([
      'loki 400 (some entries of this push may have been stored): something odd',
      'loki 400 (some entries of this push may have been stored): something odd',
    ]);
  });

  it('401 (no tenant) and 413 are permanent with the fix in the reason', async () => {
    const r = await receiver({ requireTenant: true });
    const h = await pipeline(r.url);
    await source('src').emit(1, 1);
    await until(() => source('src').committed() === 1);
    expect(deadLetters(h)[0].reason).toMatch(/loki answered 401 \(no tenant.*set `tenant`/);

    r.fail({ status: 413 });
    const h2 = await pipeline(r.url, { tenant: 't' });
    await source('src').emit(1, 1);
    await until(() => deadLetters(h2).length === 1);
    expect(deadLetters(h2)[0].reason).toMatch(/413 .*lower batch.max_bytes/);
  });

  it('413: the push is halved until it fits; an entry that never fits is dead-lettered', async () => {
    // A proxy that takes bodies of at most ~1.5 KB (snappy of ~600-byte distinct lines).
    const r = await receiver({ maxBodyBytes: 1500 });
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'loki_test_feed', id: 'feed' }],
        outputs: [{ type: 'loki', id: 'loki', url: r.url, batch: { max_wait: '20ms' } }],
      },
    });
    open.push(h);
    const noise = (i: number): string =>
      Array.from({ length: 100 }, (_, k) => ((i * 7919 + k * 104729) % 1e6).toString(36)).join('');
    const lines = Array.from({ length: 8 }, (_, i) => `${i} ${noise(i)}`);
    const huge = Array.from({ length: 10 }, (_, k) => noise(100 + k)).join(' ');
    feed([...lines, huge], 9);
    await until(() => deadLetters(h).length === 1 && r.lines().length === 8);
    expect(r.lines().sort()).toEqual(lines.slice().sort());
    expect(deadLetters(h)[0].record.message).toBe(huge);
    expect(deadLetters(h)[0].reason).toMatch(/413 .*lower batch.max_bytes/);
    expect(r.stats.byStatus['413']).toBeGreaterThan(1);
    await until(() => feedTracker!.committed === 9);
  });

  it('too-old entries are dead-lettered without sending; long lines are truncated', async () => {
    const r = await receiver({ maxLineBytes: 1000 });
    const p = await pipeline(r.url, {
      reject_older_than: '1h',
      batch: { max_wait: '50ms' },
    });
    // Checked when the chunk is encoded (as records arrive): entries Loki would refuse.
    await source('src').emit(2, 2, Date.now() - 2 * 3_600_000);
    await until(() => source('src').committed() === 2);
    expect(r.stats.requests).toBe(0);
    expect(deadLetters(p)).toHaveLength(2);
    expect(deadLetters(p)[0].reason).toMatch(/older than reject_older_than/);

    const p2 = await pipeline(r.url, { max_line_bytes: 4 });
    await source('src').emit(1, 1);
    await r.waitFor(1, 5000);
    expect(r.lines()).toEqual(['line']);
    expect(p2.metrics.registry.getSingleMetric('shiplog_loki_lines_truncated_total')).toBeDefined();
  });
});

describe('volume', () => {
  it('200k demo records with a 429 period in the middle: zero loss, zero duplicates', async () => {
    const N = 200_000;
    const r = await receiver();
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'demo', id: 'gen', rate: 0, count: N, format: 'line' }],
        outputs: [
          {
            type: 'loki',
            id: 'loki',
            url: r.url,
            labels: { job: 'demo' },
            retry: { initial: '50ms', max: '500ms' },
          },
        ],
      },
    });
    open.push(h);
    await r.waitFor(N / 4, 30_000);
    r.failFor(1500, { status: 429, retryAfter: 1 });
    await r.waitFor(N, 60_000);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.stats.byStatus['429']).toBeGreaterThan(0);
    expect(r.entries.length).toBe(N);
    const seqs = new Set<number>();
    for (const e of r.entries)
      seqs.add((JSON.parse(e.line) as { context: { seq: number } }).context.seq);
    expect(seqs.size).toBe(N);
    expect(deadLetters(h)).toEqual([]);
  });
});
