// The `loki` output: one push per chunk (per tenant) over an undici keep-alive pool, and the
// classification of Loki's answer. Batching, workers, retries, dead letters and acks are the
// core Sender's; this file makes ONE attempt and says what it achieved:
//
//   2xx ─────────────────────────▶ delivered
//   429 / 5xx / 408 / timeout /
//   connection error ────────────▶ retry the push (Retry-After honoured)
//   400 ─────────────────────────▶ never resent: Loki stored the valid entries and listed the
//                                  others; those are dead-lettered with Loki's reason
//   413 ─────────────────────────▶ the push is halved until it fits; one entry too large
//                                  for the server is permanent, logged with the fix
//   401 / 403 / other 4xx ───────▶ permanent, logged with the fix (tenant, auth, url)
//
// Before sending: entries older than reject_older_than and label sets over max_streams are
// dead-lettered; lines over max_line_bytes are truncated and counted.

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Counter } from 'prom-client';
import snappy, { loadSnappy } from './snappy.js';
import type { OutputContext, RetryConfig } from '../../../core/component.js';
import { invalidConfig as invalid } from '../../../core/errors.js';
import { counter } from '../../_shared/metrics/index.js';
import { HttpEndpoint } from '../_shared/endpoint.js';
import { excerpt } from '../_shared/excerpt.js';
import { checkTrusted } from '../_shared/trusted.js';
import { compileTemplate } from '../../../core/template.js';
import type { LogRecord, OutputBatch } from '../../../core/record.js';
import { Sender, type Chunk, type SendResult } from '../../../core/sender.js';
import { LOKI_AUTH_TYPES, type LokiOptions } from './config.js';
import { encodeJson, encodeProtobufView } from './body.js';
import { LokiEncoder } from './encoder.js';
import type { Prepared, Push } from './push.js';
import { attributeRejections } from './rejections.js';
import { TenantError } from './tenant.js';
import { Arena } from '../_shared/arena.js';
import { LokiSealer, SealedChunk, lokiCodec } from './seal.js';
import { senderRateLimit } from '../_shared/rate-limit.js';

const gzipAsync = promisify(gzip);
export const PUSH_PATH = '/loki/api/v1/push';

/** The `loki` endpoint of `config` (throws a ConfigError for bad auth, tls or url). */
export function lokiEndpoint(config: LokiOptions, log: OutputContext['log']): HttpEndpoint {
  return new HttpEndpoint(
    config,
    { name: 'loki', request: 'push', requests: 'pushes', authTypes: LOKI_AUTH_TYPES },
    log,
  );
}

/** The push path under the url's prefix (a url that already ends in the push path is taken as is). */
export function pushPath(http: HttpEndpoint): string {
  return http.prefix.replace(/\/loki\/api\/v1\/push$/, '') + PUSH_PATH + http.search;
}

export interface LokiOutputConfig extends LokiOptions {
  id: string;
  retry: RetryConfig;
}

/** One push to make: a prepared push, or a sealed one (body ready, lines decoded on demand). */
interface PushTarget {
  tenant: string | undefined;
  body(): Buffer | Promise<Buffer>;
  /** Chunk positions of its entries. */
  indexes(): number[];
  /** The push with its lines, to attribute a 400 (Loki names entries by stream, time, length). */
  lines(): Push;
}

/** Outcome of one HTTP push, in chunk indexes. */
interface PushOutcome {
  status: string;
  rejected?: Array<{ index: number; reason: string }>;
  retry?: { indexes: number[]; reason: string; delayMs?: number };
}

export class LokiOutput {
  readonly encoder: LokiEncoder;
  private readonly sender: Sender;
  private readonly http: HttpEndpoint;
  private readonly pushPath: string;
  private readonly truncatedTotal: Counter<'component'>;
  private readonly refusedTotal: Counter<'component' | 'label'>;
  /** Smallest body the server refused with 413 (minus one): for logging the split once. */
  private pushLimit = Infinity;
  /** Where the filling chunk is encoded (protobuf), reused chunk after chunk. */
  private readonly arena = new Arena();

  constructor(
    private readonly config: LokiOutputConfig,
    private readonly ctx: OutputContext,
  ) {
    this.http = lokiEndpoint(config, ctx.log);
    this.pushPath = pushPath(this.http);
    if (config.tenant !== undefined) {
      let fields: string[] = [];
      try {
        fields = compileTemplate(config.tenant).fields;
      } catch {
        // the encoder below reports a malformed template
      }
      checkTrusted('tenant', fields, config.trusted_fields);
    }
    try {
      this.encoder = new LokiEncoder({
        labels: config.labels,
        structuredMetadata: config.structured_metadata,
        lineFormat: config.line_format,
        messageField: config.message_field,
        timeField: config.time_field,
        tenant: config.tenant,
        maxLineBytes: config.max_line_bytes,
        rejectOlderThanMs: config.reject_older_than,
        maxStreams: config.max_streams,
        streamQuota: config.stream_quota,
      });
    } catch (e) {
      throw invalid(e instanceof TenantError ? 'tenant' : 'labels', (e as Error).message);
    }
    const reg = ctx.metrics.registry;
    this.truncatedTotal = counter(
      reg,
      'shiplog_loki_lines_truncated_total',
      'Lines cut at max_line_bytes before sending to Loki.',
      ['component'],
    );
    this.refusedTotal = counter(
      reg,
      'shiplog_loki_streams_refused_total',
      'Records refused by the max_streams cardinality guard, by the label with the most values.',
      ['component', 'label'],
    );
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
      measure: measure,
      signal: ctx.signal,
      send: (chunk, signal) => this.send(chunk, signal),
      // protobuf: encode each chunk while it fills, compress it when it is cut (seal.ts).
      seal:
        config.encoding === 'protobuf'
          ? () => new LokiSealer(this.encoder, (prep) => void this.report(prep), this.arena)
          : undefined,
      // buffer.type: disk — sealed pushes are queued compressed and resent as they are.
      queue: ctx.queue,
      codec: lokiCodec(this.encoder),
      probe: (signal) => this.probe(signal),
    });
  }

  async start(): Promise<void> {
    if (this.config.encoding === 'protobuf') loadSnappy(); // the addon, or what is missing
    const headers: Record<string, string> = { 'user-agent': 'shiplog' };
    for (const [k, v] of Object.entries(this.config.headers)) headers[k.toLowerCase()] = v;
    if (this.config.encoding === 'protobuf') {
      headers['content-type'] = 'application/x-protobuf';
    } else {
      headers['content-type'] = 'application/json';
      if (this.config.compression === 'gzip') headers['content-encoding'] = 'gzip';
    }
    this.http.start(headers);
    // Last: the queue's workers may send at once (a backlog from the last run).
    await this.sender.start();
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

  /** Log what preparing a chunk found; returns the records refused before sending. */
  private report(prep: Prepared): Array<{ index: number; reason: string }> {
    const { id, log } = this.ctx;
    if (prep.truncated > 0) {
      this.truncatedTotal.inc({ component: id }, prep.truncated);
      log.warn('lines longer than max_line_bytes truncated', {
        count: prep.truncated,
        max_line_bytes: this.config.max_line_bytes,
      });
    }
    if (prep.labelsDropped > 0) {
      log.warn(`streams with more than 15 labels: extra labels dropped (Loki's limit)`, {
        count: prep.labelsDropped,
      });
    }
    if (prep.badTimes > 0) {
      log.warn('time_field not parseable; record time used', {
        field: this.config.time_field,
        count: prep.badTimes,
      });
    }
    const rejected = prep.rejected.slice();
    const refused = rejected.length - countTooOld(rejected);
    if (refused > 0) {
      const label = prep.explodingLabel?.name ?? 'unknown';
      this.refusedTotal.inc({ component: id, label }, refused);
      log.warn(
        `max_streams or stream_quota reached: new label sets refused (dead-lettered). Label "${label}" has the most values: remove it from labels, cap it with the label filter, or use structured_metadata`,
        { max_streams: this.config.max_streams, values: prep.explodingLabel?.values, refused },
      );
    }
    return rejected;
  }

  /** One attempt for a chunk: one push per tenant. */
  async send(chunk: Chunk, signal: AbortSignal): Promise<SendResult> {
    if (chunk.sealed instanceof SealedChunk) return this.sendSealed(chunk, chunk.sealed, signal);
    const prep = this.encoder.prepare(chunk.records);
    const rejected = this.report(prep);
    const outcomes: PushOutcome[] = [];
    for (const push of prep.pushes) outcomes.push(await this.push(this.target(push), signal));
    return this.result(rejected, outcomes, undefined);
  }

  private async sendSealed(
    chunk: Chunk,
    sealed: SealedChunk,
    signal: AbortSignal,
  ): Promise<SendResult> {
    // After a partial retry the attempt covers some pushes: map chunk positions to attempt ones.
    let at: Map<number, number> | undefined;
    if (chunk.live) {
      at = new Map();
      for (let i = 0; i < chunk.live.length; i++) at.set(chunk.live[i], i);
    }
    const rejected = at === undefined ? sealed.pre.slice() : [];
    const outcomes: PushOutcome[] = [];
    for (const sp of sealed.pushes) {
      // A push is retried whole (a partial 400 is never resent): its first entry says.
      const first = sp.streams[0]?.index[0];
      if (first === undefined || (at !== undefined && !at.has(first))) continue;
      outcomes.push(
        await this.push(
          {
            tenant: sp.tenant,
            body: () => sp.body,
            indexes: () => SealedChunk.indexes(sp),
            lines: () => sealed.hydrate(sp),
          },
          signal,
        ),
      );
    }
    return this.result(rejected, outcomes, at);
  }

  /** Merge the push outcomes of one attempt (indexes are chunk positions; `at` maps them). */
  private result(
    rejected: Array<{ index: number; reason: string }>,
    outcomes: PushOutcome[],
    at: Map<number, number> | undefined,
  ): SendResult {
    const pos = (i: number): number => (at === undefined ? i : (at.get(i) ?? -1));
    const all = fold(outcomes, outcomes.at(-1)?.status ?? 'not_sent');
    for (const r of all.rejected ?? []) rejected.push({ index: pos(r.index), reason: r.reason });
    const res: SendResult = { status: all.status };
    if (rejected.length > 0) res.rejected = rejected;
    if (all.retry) {
      res.retry = { ...all.retry, indexes: all.retry.indexes.map(pos) };
      this.http.failed(all.status);
    } else this.http.succeeded();
    return res;
  }

  /** A prepared push as a push to make (its body encoded when sent). */
  private target(push: Push): PushTarget {
    return {
      tenant: push.tenant,
      body: () => this.encodeBody(push),
      indexes: () => {
        const out: number[] = [];
        for (const st of push.streams) for (const e of st.entries) out.push(e.index);
        return out;
      },
      lines: () => push,
    };
  }

  private async encodeBody(push: Push): Promise<Buffer> {
    if (this.config.encoding === 'protobuf') {
      // The view is a reused buffer: compressed synchronously before anything else encodes.
      return snappy.compressSync(encodeProtobufView(push), { copyOutputData: true });
    }
    const text = encodeJson(push);
    return this.config.compression === 'gzip'
      ? await gzipAsync(text, { level: 1 })
      : Buffer.from(text);
  }

  /** Push the two halves of a push one after the other (after a 413); outcomes merged. */
  private async split(push: Push, signal: AbortSignal): Promise<PushOutcome> {
    const outs: PushOutcome[] = [];
    for (const half of halve(push)) outs.push(await this.push(this.target(half), signal));
    // The status of the last half that failed, else of the first.
    const failed = outs.filter((o) => !/^2/.test(o.status)).at(-1);
    return fold(outs, (failed ?? outs[0]).status);
  }

  /**
   * Is Loki back? An empty push (no streams): 2xx once the distributor accepts pushes again. A
   * templated tenant is not known here: the static one, if any, is sent.
   */
  private async probe(signal: AbortSignal): Promise<boolean> {
    const protobuf = this.config.encoding === 'protobuf';
    const headers: Record<string, string> = { ...this.http.headers };
    delete headers['content-encoding'];
    if (!protobuf) headers['content-type'] = 'application/json';
    const tenant = this.config.tenant;
    if (tenant && !tenant.includes('{')) headers['x-scope-orgid'] = tenant;
    try {
      const res = await this.http.request({
        path: this.pushPath,
        method: 'POST',
        headers,
        body: protobuf ? snappy.compressSync(Buffer.alloc(0)) : '{"streams":[]}',
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.config.timeout)]),
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300;
    } catch {
      return false;
    }
  }

  /** One HTTP push, classified in chunk positions. */
  private async push(target: PushTarget, signal: AbortSignal): Promise<PushOutcome> {
    const indexes = target.indexes;
    const body = await target.body();
    let headers = this.http.headers;
    if (target.tenant) headers = { ...headers, 'x-scope-orgid': target.tenant };
    const res = await this.http.exchange({ path: this.pushPath, headers, body, signal });
    if (res.kind === 'failure') {
      if (!res.permanent)
        return { status: res.status, retry: { indexes: indexes(), reason: res.reason } };
      this.ctx.log.error('push refused; records dead-lettered', { reason: res.reason });
      return {
        status: res.status,
        rejected: indexes().map((index) => ({ index, reason: res.reason })),
      };
    }
    const { status, code: statusCode, text } = res;
    if (res.verdict === 'ok') return { status };

    const detail = excerpt(text);
    if (res.verdict === 'retry') {
      return {
        status,
        retry: {
          indexes: indexes(),
          reason: `push answered ${statusCode}: ${detail}`,
          delayMs: res.delayMs,
        },
      };
    }
    if (statusCode === 400) {
      // Loki stored every valid entry of this push; the body lists the ones it refused. Resending
      // would duplicate the stored part, so nothing here is ever retried.
      const push = target.lines();
      const named = attributeRejections(text, push);
      if (named) {
        this.ctx.log.warn('loki rejected part of a push (400); the rest was stored', {
          rejected: named.size,
          entries: push.count,
          reason: detail,
        });
        return {
          status,
          rejected: [...named].map(([index, reason]) => ({ index, reason })),
        };
      }
      const reason = `loki 400 (some entries of this push may have been stored): ${detail}`;
      this.ctx.log.error('loki rejected a push (400); entries dead-lettered', { reason });
      return { status, rejected: indexes().map((index) => ({ index, reason })) };
    }
    if (res.verdict === 'too_large') {
      // Too large for Loki or a proxy in front of it: halve until it fits (one entry that does
      // not fit is dead-lettered below).
      const full = target.lines();
      if (full.count > 1) {
        if (body.length - 1 < this.pushLimit) {
          this.pushLimit = body.length - 1;
          this.ctx.log.warn(
            'push too large for the server (413); splitting it. Lower batch.max_bytes below the limit of Loki (grpc_server_max_recv_msg_size) or of the proxy in front of it',
            { bytes: body.length, batch_max_bytes: this.config.batch.max_bytes },
          );
        }
        return this.split(full, signal);
      }
    }
    const reason = `loki answered ${statusCode}${fixFor(statusCode)}: ${detail}`;
    this.ctx.log.error('push rejected; records dead-lettered', { reason });
    return { status, rejected: indexes().map((index) => ({ index, reason })) };
  }
}

/** Several pushes' outcomes as one: rejections and retries together (the first retry reason, the
 * longest delay). */
function fold(outcomes: readonly PushOutcome[], status: string): PushOutcome {
  const out: PushOutcome = { status };
  for (const o of outcomes) {
    if (o.rejected) for (const r of o.rejected) (out.rejected ??= []).push(r);
    if (o.retry) {
      out.retry ??= { indexes: [], reason: o.retry.reason };
      for (const i of o.retry.indexes) out.retry.indexes.push(i);
      if (o.retry.delayMs !== undefined)
        out.retry.delayMs = Math.max(out.retry.delayMs ?? 0, o.retry.delayMs);
    }
  }
  return out;
}

/** A push as two pushes with half of its entries each (streams split where the half falls). */
function halve(push: Push): [Push, Push] {
  const half = Math.floor(push.count / 2);
  const a: Push = { tenant: push.tenant, streams: [], count: 0, bytes: 0 };
  const b: Push = { tenant: push.tenant, streams: [], count: 0, bytes: 0 };
  for (const st of push.streams) {
    const room = half - a.count;
    const head = room > 0 ? st.entries.slice(0, room) : [];
    const tail = room > 0 ? st.entries.slice(room) : st.entries;
    if (head.length > 0) {
      a.streams.push({ labels: st.labels, pairs: st.pairs, entries: head });
      a.count += head.length;
    }
    if (tail.length > 0) {
      b.streams.push({ labels: st.labels, pairs: st.pairs, entries: tail });
      b.count += tail.length;
    }
  }
  a.bytes = Math.round((push.bytes * a.count) / Math.max(1, push.count));
  b.bytes = push.bytes - a.bytes;
  return [a, b];
}

/** Approximate bytes a record adds to a push, for batch.max_bytes. */
function measure(r: LogRecord): number {
  if (r.raw !== undefined) return r.raw.length + 32;
  const m = r.fields.message;
  return (typeof m === 'string' ? m.length : 256) + 32;
}

function countTooOld(rejected: Array<{ reason: string }>): number {
  let n = 0;
  for (const r of rejected) if (r.reason.startsWith('entry too old')) n++;
  return n;
}

function fixFor(status: number): string {
  switch (status) {
    case 401:
      return ' (no tenant or bad credentials: set `tenant` for a multi-tenant Loki, check auth (type, user/password or token))';
    case 403:
      return ' (the credentials may not write to this tenant: check auth and `tenant`)';
    case 404:
      return ' (check url: it should point at Loki or its gateway; /loki/api/v1/push is appended)';
    case 413:
      return ' (push larger than the server or proxy allows: lower batch.max_bytes, or raise the limit, e.g. grpc_server_max_recv_msg_size / the proxy body size)';
    default:
      return '';
  }
}
