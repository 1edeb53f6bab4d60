// A protocol-faithful Elasticsearch `_bulk` receiver for tests, on 127.0.0.1:0.
//
// What it does like Elasticsearch 8:
// - `POST [/prefix]/_bulk[?pipeline=&filter_path=]`: NDJSON (optionally `Content-Encoding: gzip`)
//   that must end in "\n"; Content-Type must be application/json or application/x-ndjson
//   (406 otherwise, as ES answers); action lines `create` / `index` with `_index` and optional
//   `_id` (generated when absent); invalid (upper-case) index names and non-`create` writes to a
//   data stream (`logs-*-*`, `metrics-*-*`, `traces-*-*`) fail per item with 400.
// - The response shape: `{took, errors, items:[{create:{_index,_id,_version,result,_shards,
//   _seq_no,_primary_term,status}}]}`; failed items carry `error:{type,reason,…}`; `filter_path`
//   is honoured.
// - `create` of an existing id: 409 `version_conflict_engine_exception`; `index` overwrites (200).
// - `GET /`: cluster info. Optional auth check (401 `security_exception`).
// Faults on demand: item-level 429 (a fraction, specific ids, or a hook), mapping errors for
// chosen documents, whole-request statuses (413/429/500/…) from a queue, a body size limit (413),
// and dropping the response after storing (a lost ack). `countOnly` skips parsing for benchmarks.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

export interface ItemFault {
  status: number;
  type: string;
  reason: string;
}

export interface ItemContext {
  index: string;
  id: string;
  action: string;
  /** Parsed source document. */
  doc: Record<string, unknown>;
  /** Position of the item in its request. */
  position: number;
  /** Sequence number of the bulk request (1-based). */
  request: number;
}

export interface EsReceiverOptions {
  /** Benchmarks: count documents without parsing or storing them (all succeed). */
  countOnly?: boolean;
  /** Bodies larger than this (after decompression) answer 413. Default 100 MB, as ES. */
  maxContentLength?: number;
  /** Expected `Authorization` header value; anything else answers 401. */
  authorization?: string;
  /** Listen on this port (default 0: any free port). */
  port?: number;
}

export interface BulkLog {
  status: number;
  /** `_id` of each item (empty in countOnly mode). */
  ids: string[];
  itemStatuses: number[];
  gzip: boolean;
  bytes: number;
  query: Record<string, string>;
}

const DATA_STREAM = /^(logs|metrics|traces|synthetics)-[^-]+-.+$/;

export class EsReceiver {
  readonly server: http.Server;
  url = '';
  /** index → id → document. */
  readonly indices = new Map<string, Map<string, Record<string, unknown>>>();
  /** Every `_bulk` request, in arrival order (not kept in countOnly mode). */
  readonly bulks: BulkLog[] = [];
  readonly stats = {
    requests: 0,
    bulkRequests: 0,
    items: 0,
    created: 0,
    updated: 0,
    conflicts: 0,
    item429: 0,
    itemErrors: 0,
    requestErrors: 0,
    bytes: 0,
    counted: 0,
  };

  // ---- fault knobs (set them between requests) ----
  /** Statuses to answer the next bulk requests with, one per request, before looking at them. */
  readonly failNext: number[] = [];
  /** Reject this fraction of items with 429 (independently per item and attempt). */
  reject429Fraction = 0;
  /** Reject these ids with 429, each as many times as its value (decremented). */
  readonly reject429Ids = new Map<string, number>();
  /** Documents for which this returns true fail with a 400 document_parsing_exception. */
  mappingError: ((doc: Record<string, unknown>, id: string) => boolean) | undefined;
  /** General hook: return a fault for an item (checked first). */
  itemFault: ((item: ItemContext) => ItemFault | undefined) | undefined;
  /** Store the documents of the next N bulk requests, then destroy the socket without answering. */
  dropResponses = 0;
  /** Delay every bulk response by this many ms. */
  delayMs = 0;

  private readonly opts: {
    countOnly: boolean;
    maxContentLength: number;
    authorization?: string;
  };
  private seqNo = 0;
  private rng = 0x2545f491;

  private constructor(opts: EsReceiverOptions) {
    this.opts = {
      countOnly: opts.countOnly ?? false,
      maxContentLength: opts.maxContentLength ?? 100 * 1024 * 1024,
      authorization: opts.authorization,
    };
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(opts: EsReceiverOptions = {}): Promise<EsReceiver> {
    const r = new EsReceiver(opts);
    await new Promise<void>((resolve, reject) => {
      r.server.once('error', reject);
      r.server.listen(opts.port ?? 0, '127.0.0.1', resolve);
    });
    r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
    return r;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Documents stored, over all indices (countOnly: documents counted). */
  count(): number {
    if (this.opts.countOnly) return this.stats.counted;
    let n = 0;
    for (const m of this.indices.values()) n += m.size;
    return n;
  }

  docs(index?: string): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const [name, m] of this.indices) {
      if (index === undefined || name === index) for (const d of m.values()) out.push(d);
    }
    return out;
  }

  /** Resolves once `n` documents are stored; rejects after `timeoutMs`. */
  async waitForCount(n: number, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.count() < n) {
      if (Date.now() > until) throw new Error(`timeout: ${this.count()}/${n} documents`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private random(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 0x1_0000_0000;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.stats.requests++;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > this.opts.maxContentLength * 2) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        this.route(req, res, tooBig ? null : Buffer.concat(chunks, size), size);
      } catch (e) {
        send(res, 500, error('exception', (e as Error).message, 500));
      }
    });
  }

  private route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    raw: Buffer | null,
    wireBytes: number,
  ): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (
      this.opts.authorization !== undefined &&
      req.headers.authorization !== this.opts.authorization
    ) {
      res.setHeader('www-authenticate', 'Basic realm="security" charset="UTF-8"');
      return send(
        res,
        401,
        error(
          'security_exception',
          'missing authentication credentials for REST request [/_bulk]',
          401,
        ),
      );
    }
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname.endsWith('/'))) {
      return send(res, 200, {
        name: 'receiver',
        cluster_name: 'shiplog-test',
        cluster_uuid: 'test',
        version: { number: '8.15.0', build_flavor: 'default' },
        tagline: 'You Know, for Search',
      });
    }
    if (req.method !== 'POST' && req.method !== 'PUT') {
      return send(res, 405, error('method_not_allowed', `${req.method} not allowed`, 405));
    }
    // `/_bulk` or `/{target}/_bulk` (the target is the default `_index` of the items).
    const bulkPath = /^(?:\/([^/]+))?\/_bulk$/.exec(url.pathname);
    if (!bulkPath) {
      return send(
        res,
        404,
        error('no_handler', `no handler found for uri [${url.pathname}] and method [POST]`, 404),
      );
    }
    const defaultIndex = bulkPath[1] ? decodeURIComponent(bulkPath[1]) : '';
    this.stats.bulkRequests++;
    const request = this.stats.bulkRequests;
    const query = Object.fromEntries(url.searchParams);
    const gz = req.headers['content-encoding'] === 'gzip';
    this.stats.bytes += wireBytes;

    const forced = this.failNext.shift();
    if (forced !== undefined) {
      this.stats.requestErrors++;
      this.log({ status: forced, ids: [], itemStatuses: [], gzip: gz, bytes: wireBytes, query });
      if (forced === 413) return sendRaw(res, 413, '');
      if (forced === 429) {
        res.setHeader('retry-after', '0');
        return send(
          res,
          429,
          error(
            'es_rejected_execution_exception',
            'rejected execution of coordinating operation',
            429,
          ),
        );
      }
      return send(res, forced, error('internal_server_error', `injected ${forced}`, forced));
    }

    const ct = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim();
    if (!/^application\/(x-ndjson|json|vnd\.elasticsearch\+(x-ndjson|json))$/.test(ct)) {
      this.stats.requestErrors++;
      return send(res, 406, {
        error: `Content-Type header [${ct}] is not supported`,
        status: 406,
      });
    }
    if (raw === null || (!gz && raw.length > this.opts.maxContentLength)) {
      this.stats.requestErrors++;
      this.log({ status: 413, ids: [], itemStatuses: [], gzip: gz, bytes: wireBytes, query });
      return sendRaw(res, 413, '');
    }
    let body: Buffer;
    try {
      body = gz ? gunzipSync(raw) : raw;
    } catch (e) {
      return send(
        res,
        400,
        error('parse_exception', `bad gzip body: ${(e as Error).message}`, 400),
      );
    }
    if (body.length > this.opts.maxContentLength) {
      this.stats.requestErrors++;
      this.log({ status: 413, ids: [], itemStatuses: [], gzip: gz, bytes: wireBytes, query });
      return sendRaw(res, 413, '');
    }
    if (body.length === 0) {
      return send(
        res,
        400,
        error(
          'action_request_validation_exception',
          'Validation Failed: 1: no requests added;',
          400,
        ),
      );
    }
    if (body[body.length - 1] !== 10) {
      return send(
        res,
        400,
        error(
          'illegal_argument_exception',
          'The bulk request must be terminated by a newline [\\n]',
          400,
        ),
      );
    }
    if (this.opts.countOnly) return this.countOnly(res, body);

    const started = Date.now();
    const text = body.toString('utf8');
    const lines = text.split('\n');
    lines.pop(); // after the final "\n"
    if (lines.length % 2 !== 0) {
      return send(
        res,
        400,
        error(
          'illegal_argument_exception',
          'Malformed action/metadata line: source line missing',
          400,
        ),
      );
    }
    const items: Array<Record<string, Record<string, unknown>>> = [];
    const ids: string[] = [];
    const statuses: number[] = [];
    let errors = false;
    for (let i = 0, position = 0; i < lines.length; i += 2, position++) {
      let actionLine: Record<string, { _index?: string; _id?: string }>;
      try {
        actionLine = JSON.parse(lines[i]) as typeof actionLine;
      } catch {
        return send(
          res,
          400,
          error(
            'x_content_parse_exception',
            `[${i + 1}:1] Unexpected character in action line`,
            400,
          ),
        );
      }
      const action = Object.keys(actionLine)[0];
      if (action !== 'create' && action !== 'index') {
        return send(
          res,
          400,
          error(
            'illegal_argument_exception',
            `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${action}]`,
            400,
          ),
        );
      }
      const meta = actionLine[action] ?? {};
      const index = meta._index ?? defaultIndex;
      const id = meta._id ?? randomBytes(15).toString('base64url');
      ids.push(id);
      const result = this.item(action, index, id, lines[i + 1], position, request);
      statuses.push(result.status as number);
      if ((result.status as number) >= 300) errors = true;
      items.push({ [action]: result });
    }
    const response = { took: Date.now() - started, errors, items };
    this.log({ status: 200, ids, itemStatuses: statuses, gzip: gz, bytes: wireBytes, query });
    if (this.dropResponses > 0) {
      this.dropResponses--;
      req.socket.destroy();
      return;
    }
    const filtered = query.filter_path ? filterPath(response, query.filter_path) : response;
    const answer = (): void => send(res, 200, filtered ?? {});
    if (this.delayMs > 0) setTimeout(answer, this.delayMs);
    else answer();
  }

  private item(
    action: string,
    index: string,
    id: string,
    source: string,
    position: number,
    request: number,
  ): Record<string, unknown> {
    this.stats.items++;
    const fail = (f: ItemFault): Record<string, unknown> => {
      if (f.status === 429) this.stats.item429++;
      else this.stats.itemErrors++;
      return {
        _index: index,
        _id: id,
        status: f.status,
        error: { type: f.type, reason: f.reason, index_uuid: 'aAbBcCdD', index },
      };
    };
    if (
      index === '' ||
      index !== index.toLowerCase() ||
      /[\\/*?"<>| ,#]/.test(index) ||
      index.startsWith('_')
    ) {
      return fail({
        status: 400,
        type: 'invalid_index_name_exception',
        reason: `Invalid index name [${index}], must be lowercase`,
      });
    }
    if (DATA_STREAM.test(index) && action !== 'create') {
      return fail({
        status: 400,
        type: 'illegal_argument_exception',
        reason: `only write ops with an op_type of create are allowed in data streams`,
      });
    }
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(source) as Record<string, unknown>;
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
        throw new Error('not an object');
    } catch (e) {
      return fail({
        status: 400,
        type: 'document_parsing_exception',
        reason: `[1:1] failed to parse: ${(e as Error).message}`,
      });
    }
    const hooked = this.itemFault?.({ index, id, action, doc, position, request });
    if (hooked) return fail(hooked);
    const left = this.reject429Ids.get(id);
    if (left !== undefined && left > 0) {
      this.reject429Ids.set(id, left - 1);
      return fail(rejected429());
    }
    if (this.reject429Fraction > 0 && this.random() < this.reject429Fraction)
      return fail(rejected429());
    if (this.mappingError?.(doc, id)) {
      return fail({
        status: 400,
        type: 'document_parsing_exception',
        reason: `[1:15] failed to parse field [level] of type [long] in document with id '${id}'. Preview of field's value: '${String(doc.level)}'`,
      });
    }
    let idx = this.indices.get(index);
    if (!idx) this.indices.set(index, (idx = new Map()));
    const exists = idx.has(id);
    if (exists && action === 'create') {
      this.stats.conflicts++;
      return {
        _index: index,
        _id: id,
        status: 409,
        error: {
          type: 'version_conflict_engine_exception',
          reason: `[${id}]: version conflict, document already exists (current version [1])`,
          index_uuid: 'aAbBcCdD',
          shard: '0',
          index,
        },
      };
    }
    idx.set(id, doc);
    if (exists) this.stats.updated++;
    else this.stats.created++;
    return {
      _index: index,
      _id: id,
      _version: 1,
      result: exists ? 'updated' : 'created',
      _shards: { total: 2, successful: 1, failed: 0 },
      _seq_no: this.seqNo++,
      _primary_term: 1,
      status: exists ? 200 : 201,
    };
  }

  /** Count documents (one action line + one source line each) and answer success. */
  private countOnly(res: http.ServerResponse, body: Buffer): void {
    let lines = 0;
    for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) lines++;
    const n = lines >> 1;
    this.stats.items += n;
    this.stats.counted += n;
    this.stats.created += n;
    // What ES sends with filter_path=errors,items.*.status,…
    const item = '{"create":{"status":201}}';
    sendRaw(
      res,
      200,
      `{"errors":false,"items":[${n > 0 ? (item + ',').repeat(n - 1) + item : ''}]}`,
    );
  }

  private log(entry: BulkLog): void {
    if (!this.opts.countOnly) this.bulks.push(entry);
  }
}

function rejected429(): ItemFault {
  return {
    status: 429,
    type: 'es_rejected_execution_exception',
    reason:
      'rejected execution of primary operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=0, max_coordinating_and_primary_bytes=0]',
  };
}

function error(type: string, reason: string, status: number): Record<string, unknown> {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  sendRaw(res, status, JSON.stringify(body));
}

function sendRaw(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-elastic-product': 'Elasticsearch',
  });
  res.end(text);
}

/**
 * Elasticsearch `filter_path`: comma-separated dotted paths, `*` matching one key; arrays are
 * transparent. Objects left empty are removed.
 */
export function filterPath(value: unknown, spec: string): unknown {
  const patterns = spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => p.split('.'));
  return include(value, patterns);
}

function include(value: unknown, patterns: string[][]): unknown {
  if (patterns.some((p) => p.length === 0)) return value;
  if (Array.isArray(value)) {
    const out = value.map((v) => include(v, patterns)).filter((v) => v !== undefined);
    return out.length > 0 ? out : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(value)) {
    const sub = patterns.filter((p) => p[0] === '*' || p[0] === k).map((p) => p.slice(1));
    if (sub.length === 0) continue;
    const f = include(v, sub);
    if (f !== undefined) {
      out[k] = f;
      any = true;
    }
  }
  return any ? out : undefined;
}
