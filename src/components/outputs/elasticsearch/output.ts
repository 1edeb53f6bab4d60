// The `elasticsearch` output: one `_bulk` request per chunk over an undici keep-alive pool, and a
// per-document classification of the response. Fluent Bit marks a whole bulk delivered when any
// document succeeded and retries mapping errors forever; here every item gets its own outcome:
//
//   2xx ─────────────────────────────▶ delivered
//   409 on create (our id exists) ───▶ delivered (a replay or a retry after a lost response)
//   429 / 5xx item ──────────────────▶ retried alone, with the shared backoff
//   other 4xx item (mapping, …) ─────▶ dead-lettered with error type and reason
//
// Whole-request 429/5xx/network errors retry the chunk; 413 splits it (and remembers the limit);
// other 4xx are permanent and logged with the fix.

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { OutputContext } from '../../../core/component.js';
import { invalidConfig as invalid } from '../../../core/errors.js';
import { HEAD_BYTES, HttpEndpoint } from '../_shared/endpoint.js';
import { excerpt } from '../_shared/excerpt.js';
import { checkTrusted } from '../_shared/trusted.js';
import { compileTemplate } from '../../../core/template.js';
import type { LogRecord, OutputBatch } from '../../../core/record.js';
import { Result, Sender, type Chunk, type SendResult } from '../../../core/sender.js';
import type { RetryConfig } from '../../../core/component.js';
import { ES_AUTH_TYPES, type EsOptions } from './config.js';
import { Arena } from '../_shared/arena.js';
import { BufferPool } from '../_shared/buffer-pool.js';
import { BulkSealer, SealedBulk, bulkCodec } from './seal.js';
import {
  compileId,
  autoId,
  compileIndex,
  createBulkEncoder,
  dataStreamIndex,
  type BulkEncoder,
} from './encode.js';
import { senderRateLimit } from '../_shared/rate-limit.js';

const gzipAsync = promisify(gzip);

/** The `elasticsearch` endpoint of `config` (throws a ConfigError for bad auth, tls or url). */
export function esEndpoint(config: EsOptions, log: OutputContext['log']): HttpEndpoint {
  return new HttpEndpoint(
    config,
    {
      name: 'elasticsearch',
      request: 'bulk request',
      requests: 'bulk requests',
      authTypes: ES_AUTH_TYPES,
    },
    log,
  );
}

/**
 * Only what we classify on: keeps the response of a 10k-document bulk at ~200 KB instead of
 * several MB (the full item has _index, _id, _version, result, _shards, _seq_no, …).
 */
const FILTER_PATH = 'errors,items.*.status,items.*.error.type,items.*.error.reason';

export interface EsOutputConfig extends EsOptions {
  id: string;
  retry: RetryConfig;
}

/** The documents of one attempt, by attempt index; `body(from, to)` encodes (or slices) them. */
interface Items {
  body(from: number, to: number): Buffer;
  /** An attempt ended without a complete 2xx answer (the HTTP client may still hold the body). */
  incomplete?(): void;
}

interface BulkItem {
  status?: number;
  error?: { type?: string; reason?: string } | string;
}

export class ElasticsearchOutput {
  private readonly sender: Sender;
  private readonly encoder: BulkEncoder;
  private readonly action: 'create' | 'index';
  private readonly idempotentConflicts: boolean;
  private readonly http: HttpEndpoint;
  private readonly bulkPath: string;
  private readonly rootPath: string;
  /** Bytes a body must stay under after the cluster answered 413 (http.max_content_length). */
  private bodyLimit = Number.POSITIVE_INFINITY;
  /** Documents whose `create` met an existing id (counted delivered). */
  conflicts = 0;
  /** Where the filling chunk is encoded, reused chunk after chunk. */
  private readonly arena = new Arena();
  /** Buffers finished chunks give back, for the arena (seal.ts). */
  private readonly pool = new BufferPool();

  constructor(
    private readonly config: EsOutputConfig,
    private readonly ctx: OutputContext,
  ) {
    this.http = esEndpoint(config, ctx.log);
    const prefix = this.http.prefix;
    const q = new URLSearchParams({ filter_path: FILTER_PATH });
    if (config.pipeline) q.set('pipeline', config.pipeline);
    this.bulkPath = `${prefix}/_bulk?${q.toString()}`;
    this.rootPath = prefix || '/';

    this.action = config.data_stream ? 'create' : config.action;
    let idFn;
    let index;
    try {
      idFn = compileId(config.document_id);
    } catch (e) {
      throw invalid('document_id', (e as Error).message);
    }
    try {
      index = compileIndex(config.data_stream ? dataStreamIndex(config.data_stream) : config.index);
    } catch (e) {
      throw invalid(config.data_stream ? 'data_stream' : 'index', (e as Error).message);
    }
    // Routing templates only over trusted fields (#17.11).
    const refs = (t: string): string[] => compileTemplate(t).fields;
    if (config.data_stream)
      checkTrusted('data_stream', refs(dataStreamIndex(config.data_stream)), config.trusted_fields);
    else checkTrusted('index', refs(config.index), config.trusted_fields);
    if (idFn !== undefined && idFn !== autoId)
      checkTrusted('document_id', refs(config.document_id), config.trusted_fields);
    // A 409 on `create` means "this id exists": with an id we derived from the record that is our
    // own earlier copy. With `id: none` Elasticsearch makes fresh ids and never answers 409.
    this.idempotentConflicts = this.action === 'create' && idFn !== undefined;
    this.encoder = createBulkEncoder({
      index,
      action: this.action,
      id: idFn,
      timeKey: config.time_key,
    });
    this.sender = new Sender({
      id: ctx.id,
      log: ctx.log,
      metrics: ctx.metrics,
      deadLetter: ctx.deadLetter,
      retry: config.retry,
      maxBytes: config.batch.max_bytes,
      maxWaitMs: config.batch.max_wait,
      workers: config.workers,
      rateLimit: senderRateLimit(config.rate_limit),
      measure: this.encoder.measure,
      signal: ctx.signal,
      send: (chunk, signal) => this.send(chunk, signal),
      // Encode each chunk while it fills; attempts send its bytes (seal.ts).
      seal: () => new BulkSealer(this.encoder, this.arena, config.time_key, this.pool),
      // buffer.type: disk — the sealed `_bulk` bytes are what the queue stores and resends.
      queue: ctx.queue,
      codec: bulkCodec(config.time_key, this.pool),
      // Is the cluster back? `GET /` answering 2xx.
      probe: () =>
        this.healthcheck().then(
          () => true,
          () => false,
        ),
    });
  }

  async start(): Promise<void> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-ndjson',
      accept: 'application/json',
      'user-agent': 'shiplog',
    };
    if (this.config.compression === 'gzip') headers['content-encoding'] = 'gzip';
    this.http.start(headers);
    if (this.config.healthcheck) await this.healthcheck();
    // Last: the queue's workers may send at once (a backlog from the last run).
    await this.sender.start();
  }

  /** `GET /`: throws unless the cluster answers 2xx (wrong URL, credentials or CA show up here). */
  async healthcheck(): Promise<void> {
    const auth = this.http.headers.authorization;
    const res = await this.http.request({
      path: this.rootPath,
      method: 'GET',
      headers: auth ? { authorization: auth } : {},
      signal: AbortSignal.timeout(this.config.timeout),
    });
    const text = await res.body.text();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw new Error(
        `elasticsearch health check: GET ${this.http.origin}${this.rootPath} answered ${res.statusCode}${fixFor(res.statusCode)}: ${excerpt(text)}`,
      );
    }
  }

  write(batch: OutputBatch): void {
    this.sender.write(batch);
  }

  async stop(): Promise<void> {
    await this.sender.stop();
    await this.http.close();
  }

  health(): { ok: boolean; reason?: string; stuck?: boolean } {
    return this.http.health();
  }

  /** One attempt for a chunk (split into several requests only when the cluster said 413). */
  private async send(chunk: Chunk, signal: AbortSignal): Promise<SendResult> {
    const res =
      chunk.sealed instanceof SealedBulk
        ? await this.sendSealed(chunk, chunk.sealed, signal)
        : await this.attempt(this.itemsOf(chunk.records), 0, chunk.records.length, signal);
    if (res.retry && res.retry.indexes !== 'all' && res.retry.indexes.length === 0) {
      res.retry = undefined;
    }
    if (res.retry?.indexes === 'all' || (res.rejected && res.rejected.length > 0 && !res.retry))
      this.http.failed(res.status ?? 'error');
    else if (!(res.rejected && !res.retry)) this.http.succeeded();
    return res;
  }

  private itemsOf(records: readonly LogRecord[]): Items {
    return {
      body: (from, to) =>
        this.encoder.encode(
          from === 0 && to === records.length ? records : records.slice(from, to),
        ),
    };
  }

  /** A sealed chunk: the documents of this attempt, minus those refused when encoding. */
  private async sendSealed(
    chunk: Chunk,
    sealed: SealedBulk,
    signal: AbortSignal,
  ): Promise<SendResult> {
    const positions: number[] = [];
    const attemptIdx: number[] = [];
    const rejected: Array<{ index: number; reason: string }> = [];
    for (let i = 0; i < chunk.size; i++) {
      const p = chunk.live ? chunk.live[i] : i;
      const why = sealed.pre.get(p);
      if (why !== undefined) rejected.push({ index: i, reason: why });
      else {
        positions.push(p);
        attemptIdx.push(i);
      }
    }
    if (positions.length === 0) return { status: 'not_sent', rejected };
    const items: Items = {
      body: (from, to) => sealed.bodyOf(positions, from, to),
      incomplete: () => (sealed.tainted = true),
    };
    const res = await this.attempt(items, 0, positions.length, signal);
    if (rejected.length === 0 && positions.length === chunk.size) return res;
    // Back to attempt indexes.
    const out: SendResult = { status: res.status };
    for (const r of res.rejected ?? [])
      rejected.push({ index: attemptIdx[r.index], reason: r.reason });
    if (rejected.length > 0) out.rejected = rejected;
    if (res.retry) {
      const idx =
        res.retry.indexes === 'all'
          ? attemptIdx.filter((_, k) => !(res.rejected ?? []).some((r) => r.index === k))
          : res.retry.indexes.map((k) => attemptIdx[k]);
      out.retry = { ...res.retry, indexes: idx };
    }
    return out;
  }

  private async attempt(
    items: Items,
    from: number,
    to: number,
    signal: AbortSignal,
  ): Promise<SendResult> {
    const n = to - from;
    let body = items.body(from, to);
    if (this.config.compression === 'gzip') body = await gzipAsync(body, { level: 1 });
    const size = body.length;
    if (size > this.bodyLimit && n > 1) return this.split(items, from, to, signal);

    let res;
    try {
      res = await this.http.exchange({ path: this.bulkPath, body, signal, skip: noErrors });
    } finally {
      if (res?.kind !== 'answer' || res.verdict !== 'ok') items.incomplete?.();
    }
    if (res.kind === 'failure')
      return res.permanent
        ? Result.permanent(res.reason, n, res.status)
        : Result.retry(res.reason, undefined, res.status);
    const { status, code: statusCode, text: response } = res;

    if (res.verdict === 'ok') return this.classify(response, n, status);

    if (res.verdict === 'too_large') {
      if (n === 1) {
        return Result.permanent(
          `413 document of ${size} bytes exceeds the cluster's http.max_content_length`,
          1,
          status,
        );
      }
      if (size - 1 < this.bodyLimit) {
        this.bodyLimit = size - 1;
        this.ctx.log.warn(
          'bulk request too large for the cluster (413); splitting. Lower batch.max_bytes below the http.max_content_length of the cluster',
          { bytes: size, batch_max_bytes: this.config.batch.max_bytes },
        );
      }
      return this.split(items, from, to, signal);
    }
    if (res.verdict === 'retry') {
      return Result.retry(
        `bulk request answered ${statusCode}: ${errorSummary(response)}`,
        res.delayMs,
        status,
      );
    }
    // Any other 4xx: the request itself is wrong and resending it cannot help.
    const reason = `bulk request answered ${statusCode}${fixFor(statusCode)}: ${errorSummary(response)}`;
    this.ctx.log.error('bulk request rejected; records dead-lettered', { reason });
    return Result.permanent(reason, n, status);
  }

  /** Send two halves one after the other and merge their outcomes. */
  private async split(
    items: Items,
    from: number,
    to: number,
    signal: AbortSignal,
  ): Promise<SendResult> {
    const mid = from + Math.ceil((to - from) / 2);
    const a = await this.attempt(items, from, mid, signal);
    const b = await this.attempt(items, mid, to, signal);
    return merge(a, mid - from, b, to - mid);
  }

  /** Classify a 2xx `_bulk` response item by item. */
  private classify(text: string, n: number, status: string): SendResult {
    // Fast path: the exchange kept only the head of such an answer.
    if (noErrors(text)) return { status };
    let parsed: { errors?: boolean; items?: Array<Record<string, BulkItem>> };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      return Result.retry(`unparseable _bulk response: ${excerpt(text, 120)}`, undefined, status);
    }
    if (parsed.errors === false) return { status };
    const items = parsed.items;
    if (!Array.isArray(items) || items.length !== n) {
      // Without one item per document we cannot tell which were indexed; deterministic ids make
      // resending the lot safe.
      return Result.retry(
        `_bulk response has ${Array.isArray(items) ? items.length : 'no'} items for ${n} documents`,
        undefined,
        status,
      );
    }
    const rejected: Array<{ index: number; reason: string }> = [];
    const retry: number[] = [];
    let retryReason = '';
    let conflicts = 0;
    for (let i = 0; i < n; i++) {
      let item: BulkItem | undefined;
      for (const k in items[i]) {
        item = items[i][k];
        break;
      }
      const s = item?.status ?? 0;
      if (s >= 200 && s < 300) continue;
      if (s === 409 && this.idempotentConflicts) {
        conflicts++;
        continue;
      }
      if (s === 429 || s >= 500 || s === 0) {
        retry.push(i);
        if (!retryReason) retryReason = `document answered ${s}: ${itemError(item)}`;
        continue;
      }
      rejected.push({ index: i, reason: `${s} ${itemError(item)}` });
    }
    if (conflicts > 0) {
      this.conflicts += conflicts;
      this.ctx.log.debug('documents already indexed (409 on create); counted as delivered', {
        count: conflicts,
      });
    }
    const out: SendResult = { status };
    if (rejected.length > 0) out.rejected = rejected;
    if (retry.length > 0) out.retry = { indexes: retry, reason: retryReason };
    return out;
  }
}

/**
 * A `_bulk` answer starting `{"errors":false` (ES writes `errors` first, after `took` without
 * filter_path, and filter_path keeps the order): every document was indexed, the items need not
 * be read (endpoint.ts `skip`: not even decoded).
 */
function noErrors(text: string): boolean {
  return /^\s*\{\s*(?:"took"\s*:\s*\d+\s*,\s*)?"errors"\s*:\s*false/.test(
    text.slice(0, HEAD_BYTES),
  );
}

function merge(a: SendResult, na: number, b: SendResult, nb: number): SendResult {
  const out: SendResult = { status: a.status === b.status ? a.status : (b.status ?? a.status) };
  const rejected = [...(a.rejected ?? [])];
  for (const r of b.rejected ?? []) rejected.push({ index: r.index + na, reason: r.reason });
  if (rejected.length > 0) out.rejected = rejected;
  const idx: number[] = [];
  const expand = (r: SendResult, n: number, off: number): void => {
    if (!r.retry) return;
    const skip = new Set((r.rejected ?? []).map((x) => x.index));
    if (r.retry.indexes === 'all') {
      for (let i = 0; i < n; i++) if (!skip.has(i)) idx.push(i + off);
    } else for (const i of r.retry.indexes) idx.push(i + off);
  };
  expand(a, na, 0);
  expand(b, nb, na);
  if (idx.length > 0) {
    const delays = [a.retry?.delayMs, b.retry?.delayMs].filter((d): d is number => d !== undefined);
    out.retry = {
      indexes: idx,
      reason: a.retry?.reason ?? b.retry!.reason,
      delayMs: delays.length > 0 ? Math.max(...delays) : undefined,
    };
  }
  return out;
}

function itemError(item: BulkItem | undefined): string {
  const e = item?.error;
  if (e === undefined) return 'no error detail';
  if (typeof e === 'string') return excerpt(e);
  return excerpt(`${e.type ?? 'error'}: ${e.reason ?? ''}`);
}

/** `type: reason` of an Elasticsearch error body, or the start of the text. */
function errorSummary(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { type?: string; reason?: string } | string };
    if (typeof j.error === 'string') return excerpt(j.error);
    if (j.error) return excerpt(`${j.error.type ?? 'error'}: ${j.error.reason ?? ''}`);
  } catch {
    // not JSON: fall through
  }
  return excerpt(text);
}

function fixFor(status: number): string {
  switch (status) {
    case 400:
      return ' (check index/data_stream names — lowercase, no spaces — and the ingest pipeline)';
    case 401:
      return ' (check auth: credentials missing or wrong)';
    case 403:
      return ' (the credentials lack the create_doc/index privilege on the target index)';
    case 404:
      return ' (check url: path prefix, or the ingest pipeline does not exist)';
    case 406:
      return ' (the server rejected Content-Type application/x-ndjson: is the url an Elasticsearch endpoint?)';
    default:
      return '';
  }
}
