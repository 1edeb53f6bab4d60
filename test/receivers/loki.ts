// A protocol-faithful Loki push receiver for tests and benchmarks, on 127.0.0.1:0.
//
// What it does like Loki 2.9/3.x (`POST /loki/api/v1/push`):
// - Content-Type: missing ⇒ 400 `mime: no media type`; `application/json` ⇒ the JSON API
//   (timestamps must be strings of ns; optional structured metadata object), anything else ⇒
//   protobuf `logproto.PushRequest` in snappy *block* format. `Content-Encoding: gzip` is undone
//   first.
// - Tenant: `X-Scope-OrgID`; when `requireTenant` and missing ⇒ 401 `no org id`.
// - Validation as the distributor does it, per stream then per entry: label syntax (Prometheus
//   names, duplicate names), at most 15 label names, line size (256 KB), age (7 d), too far in the
//   future (10 min grace); then as the ingester: out of order beyond 1 h behind the stream's newest
//   entry. Valid entries are STORED and the rest reported in one 400 body with Loki's messages
//   (a partial success). All valid ⇒ 204.
// - Faults on demand: a queue of one-shot faults (`fail`), a fault for a period (`failFor`), a
//   persistent mode (`setMode`): any status (429 with Retry-After, 500, 413, …) or `hang` (never
//   answer); `rejectWhere` refuses chosen entries with a 400 while storing the rest.
// `countOnly` (benchmarks): count entries and store nothing — protobuf is decompressed and
// skimmed, JSON (what Fluent Bit's loki output sends) is scanned for its `values` entries without
// being parsed, so the receiver costs the tool under test about the same CPU for either encoding.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import snappy from 'snappy';
import { decodePushRequest } from '../../src/components/outputs/loki/logproto.js';

export interface ReceivedEntry {
  tenant: string;
  /** Canonical selector text: `{a="x", b="y"}` (sorted). */
  stream: string;
  labels: Record<string, string>;
  /** Nanoseconds since the epoch. */
  ts: bigint;
  line: string;
  metadata: Record<string, string>;
}

export type Fault =
  { status: number; retryAfter?: number | string; body?: string } | { hang: true };

export interface LokiReceiverOptions {
  /** Benchmarks: count entries without storing or validating them. */
  countOnly?: boolean;
  /** Answer 401 when X-Scope-OrgID is missing (multi-tenant Loki, auth_enabled: true). */
  requireTenant?: boolean;
  /** Expected Authorization header; anything else answers 401. */
  authorization?: string;
  maxLineBytes?: number;
  maxLabelNames?: number;
  /** reject_old_samples_max_age; 0 disables. */
  rejectOldSamplesMaxAgeMs?: number;
  creationGracePeriodMs?: number;
  /** Out-of-order acceptance window behind the newest entry of a stream. */
  outOfOrderWindowMs?: number;
  /** The clock (ms) validation uses. */
  now?: () => number;
  /** Listen on this port instead of an ephemeral one (to come back after a simulated outage). */
  port?: number;
  /**
   * Answer 413 to bodies larger than this (as sent, compressed): Loki's
   * grpc_server_max_recv_msg_size, or a gateway's client_max_body_size in front of it.
   */
  maxBodyBytes?: number;
}

export interface RequestLog {
  status: number;
  tenant: string | undefined;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  authorization: string | undefined;
  headers: http.IncomingHttpHeaders;
  entries: number;
  bytes: number;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NS_PER_MS = 1_000_000n;

export class LokiReceiver {
  readonly server: http.Server;
  url = '';
  readonly entries: ReceivedEntry[] = [];
  /** Every request (not kept in countOnly mode), in arrival order. */
  readonly requests: RequestLog[] = [];
  readonly stats = {
    requests: 0,
    /** Entries stored (countOnly: counted). */
    accepted: 0,
    /** Entries refused by validation or rejectWhere. */
    rejected: 0,
    bytes: 0,
    byStatus: {} as Record<string, number>,
  };
  private readonly o: Required<Omit<LokiReceiverOptions, 'authorization' | 'maxBodyBytes'>> & {
    authorization?: string;
    maxBodyBytes?: number;
  };
  private readonly faults: Fault[] = [];
  private mode: Fault | undefined;
  private modeUntil = 0;
  private rejector: ((e: ReceivedEntry) => boolean) | undefined;
  /** tenant + stream → newest accepted timestamp. */
  private readonly newest = new Map<string, bigint>();
  private readonly hung = new Set<http.ServerResponse>();
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  private constructor(opts: LokiReceiverOptions) {
    this.o = {
      countOnly: false,
      requireTenant: false,
      maxLineBytes: 256_000,
      maxLabelNames: 15,
      rejectOldSamplesMaxAgeMs: 7 * 86_400_000,
      creationGracePeriodMs: 10 * 60_000,
      outOfOrderWindowMs: 3_600_000,
      now: Date.now,
      port: 0,
      ...opts,
    };
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(opts: LokiReceiverOptions = {}): Promise<LokiReceiver> {
    const r = new LokiReceiver(opts);
    await new Promise<void>((resolve) => r.server.listen(r.o.port, '127.0.0.1', resolve));
    const { port } = r.server.address() as AddressInfo;
    r.url = `http://127.0.0.1:${port}`;
    return r;
  }

  /** Answer the next `times` pushes with `fault`. */
  fail(fault: Fault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  /** Answer every push with `fault` for `ms` milliseconds. */
  failFor(ms: number, fault: Fault): void {
    this.mode = fault;
    this.modeUntil = Date.now() + ms;
  }

  /** Answer every push with `fault` until setMode(undefined). */
  setMode(fault: Fault | undefined): void {
    this.mode = fault;
    this.modeUntil = Number.POSITIVE_INFINITY;
  }

  /**
   * Refuse entries for which `fn` returns true (a partial 400, reported as Loki's ingester reports
   * an out-of-order entry: timestamp with ns precision, grouped per stream); the rest are stored.
   */
  rejectWhere(fn: ((e: ReceivedEntry) => boolean) | undefined): void {
    this.rejector = fn;
  }

  /** Resolves when at least `n` entries were accepted. */
  waitFor(n: number, timeoutMs = 30_000): Promise<void> {
    if (this.stats.accepted >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timeout: ${this.stats.accepted}/${n} entries accepted`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      this.waiters.push({ n, resolve: done });
    });
  }

  /** Lines accepted, in arrival order. */
  lines(): string[] {
    return this.entries.map((e) => e.line);
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private nextFault(): Fault | undefined {
    if (this.faults.length > 0) return this.faults.shift();
    if (this.mode && Date.now() < this.modeUntil) return this.mode;
    this.mode = undefined;
    return undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let status: number;
      let entries = 0;
      try {
        [status, entries] = this.push(req, res, body);
      } catch (e) {
        status = 500;
        reply(res, 500, `internal: ${(e as Error).message}`);
      }
      this.stats.requests++;
      this.stats.bytes += body.length;
      this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
      if (!this.o.countOnly) {
        this.requests.push({
          status,
          tenant: header(req, 'x-scope-orgid'),
          contentType: header(req, 'content-type'),
          contentEncoding: header(req, 'content-encoding'),
          authorization: header(req, 'authorization'),
          headers: req.headers,
          entries,
          bytes: body.length,
        });
      }
      if (this.waiters.length > 0) {
        const still = [];
        for (const w of this.waiters) {
          if (this.stats.accepted >= w.n) w.resolve();
          else still.push(w);
        }
        this.waiters = still;
      }
    });
  }

  /** Returns [status, entries in the request]. */
  private push(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer,
  ): [number, number] {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/ready') return [reply(res, 200, 'ready'), 0];
    if (url.pathname !== '/loki/api/v1/push') return [reply(res, 404, '404 page not found'), 0];
    if (req.method !== 'POST') return [reply(res, 405, 'method not allowed'), 0];
    if (this.o.authorization !== undefined && req.headers.authorization !== this.o.authorization)
      return [reply(res, 401, 'Unauthorized'), 0];
    const tenant = header(req, 'x-scope-orgid');
    if (this.o.requireTenant && !tenant) return [reply(res, 401, 'no org id'), 0];
    if (this.o.maxBodyBytes !== undefined && body.length > this.o.maxBodyBytes)
      return [reply(res, 413, '413 Request Entity Too Large'), 0];

    const fault = this.nextFault();
    if (fault && 'hang' in fault) {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return [0, 0];
    }
    if (fault) {
      if (fault.retryAfter !== undefined) res.setHeader('retry-after', String(fault.retryAfter));
      return [reply(res, fault.status, fault.body ?? defaultBody(fault.status)), 0];
    }

    const ctype = header(req, 'content-type');
    if (!ctype) return [reply(res, 400, 'mime: no media type'), 0];
    const mediaType = ctype.split(';')[0].trim().toLowerCase();
    let raw = body;
    if (header(req, 'content-encoding') === 'gzip') {
      try {
        raw = gunzipSync(body);
      } catch (e) {
        return [reply(res, 400, `gzip: ${(e as Error).message}`), 0];
      }
    }

    if (this.o.countOnly) {
      let n: number;
      try {
        n =
          mediaType === 'application/json'
            ? countJsonEntries(raw)
            : countProtobufEntries(
                snappy.uncompressSync(raw, { asBuffer: true, copyOutputData: true }) as Buffer,
              );
      } catch (e) {
        return [reply(res, 400, `snappy/proto: ${(e as Error).message}`), 0];
      }
      this.stats.accepted += n;
      return [reply(res, 204, ''), n];
    }

    let streams: Array<{ labels: string | Record<string, string>; entries: ParsedEntry[] }>;
    try {
      streams = mediaType === 'application/json' ? parseJson(raw) : parseProtobuf(raw);
    } catch (e) {
      return [reply(res, 400, (e as Error).message), 0];
    }
    let total = 0;
    for (const s of streams) total += s.entries.length;

    const now = BigInt(this.o.now()) * NS_PER_MS;
    const oldest =
      this.o.rejectOldSamplesMaxAgeMs > 0
        ? now - BigInt(this.o.rejectOldSamplesMaxAgeMs) * NS_PER_MS
        : -1n << 62n;
    const newestAllowed = now + BigInt(this.o.creationGracePeriodMs) * NS_PER_MS;
    const window = BigInt(this.o.outOfOrderWindowMs) * NS_PER_MS;
    const errors: string[] = [];
    let accepted = 0;
    for (const s of streams) {
      let labels: Record<string, string>;
      let text: string;
      try {
        labels = typeof s.labels === 'string' ? parseSelector(s.labels) : s.labels;
        text = canonical(labels);
      } catch (e) {
        errors.push(
          `Error parsing labels '${String(s.labels)}' with error: ${(e as Error).message}`,
        );
        this.stats.rejected += s.entries.length;
        continue;
      }
      if (Object.keys(labels).length === 0) {
        errors.push('error at least one label pair is required per stream');
        this.stats.rejected += s.entries.length;
        continue;
      }
      const names = Object.keys(labels).length;
      if (names > this.o.maxLabelNames) {
        errors.push(
          `entry for stream '${text}' has ${names} label names; limit ${this.o.maxLabelNames}`,
        );
        this.stats.rejected += s.entries.length;
        continue;
      }
      const key = `${tenant ?? ''}\u0000${text}`;
      const ingesterErrors: string[] = [];
      for (const pe of s.entries) {
        const e: ReceivedEntry = {
          tenant: tenant ?? '',
          stream: text,
          labels,
          ts: pe.ts,
          line: pe.line,
          metadata: pe.metadata,
        };
        if (pe.ts < oldest) {
          errors.push(
            `entry for stream '${text}' has timestamp too old: ${rfc3339(pe.ts)}, oldest acceptable timestamp is: ${rfc3339(oldest)}`,
          );
        } else if (pe.ts > newestAllowed) {
          errors.push(`entry for stream '${text}' has timestamp too new: ${rfc3339(pe.ts)}`);
        } else if (this.o.maxLineBytes > 0 && Buffer.byteLength(pe.line) > this.o.maxLineBytes) {
          errors.push(
            `Max entry size '${this.o.maxLineBytes}' bytes exceeded for stream '${text}' while adding an entry with length '${Buffer.byteLength(pe.line)}' bytes`,
          );
        } else {
          const custom = this.rejector?.(e);
          const newest = this.newest.get(key);
          if (custom === true) {
            ingesterErrors.push(
              `entry with timestamp ${goTime(pe.ts)} ignored, reason: 'entry out of order',`,
            );
          } else if (newest !== undefined && pe.ts < newest - window) {
            ingesterErrors.push(
              `entry with timestamp ${goTime(pe.ts)} ignored, reason: 'entry too far behind, entry timestamp is: ${rfc3339(pe.ts)}, oldest acceptable timestamp is: ${rfc3339(newest - window)}',`,
            );
          } else {
            if (newest === undefined || pe.ts > newest) this.newest.set(key, pe.ts);
            this.entries.push(e);
            accepted++;
            continue;
          }
        }
        this.stats.rejected++;
      }
      if (ingesterErrors.length > 0) {
        errors.push(
          ...ingesterErrors,
          `user '${tenant ?? 'fake'}', total ignored: ${ingesterErrors.length} out of ${s.entries.length} for stream: ${text}`,
        );
      }
    }
    this.stats.accepted += accepted;
    if (errors.length > 0) return [reply(res, 400, errors.join('\n') + '\n'), total];
    return [reply(res, 204, ''), total];
  }
}

interface ParsedEntry {
  ts: bigint;
  line: string;
  metadata: Record<string, string>;
}

function parseProtobuf(raw: Buffer): Array<{ labels: string; entries: ParsedEntry[] }> {
  let plain: Buffer;
  try {
    plain = snappy.uncompressSync(raw, { asBuffer: true, copyOutputData: true }) as Buffer;
  } catch (e) {
    throw new Error(`snappy: corrupt input (${(e as Error).message})`, { cause: e });
  }
  const req = decodePushRequest(plain);
  return req.streams.map((s) => ({
    labels: s.labels,
    entries: s.entries.map((e) => {
      const md: Record<string, string> = {};
      for (const p of e.structuredMetadata ?? []) md[p.name] = p.value;
      return {
        ts: BigInt(e.timestamp?.seconds ?? 0) * 1_000_000_000n + BigInt(e.timestamp?.nanos ?? 0),
        line: e.line,
        metadata: md,
      };
    }),
  }));
}

function parseJson(raw: Buffer): Array<{ labels: Record<string, string>; entries: ParsedEntry[] }> {
  const doc = JSON.parse(raw.toString('utf8')) as {
    streams?: Array<{ stream?: Record<string, unknown>; values?: unknown[][] }>;
  };
  if (!Array.isArray(doc.streams)) throw new Error('loghttp: "streams" is not an array');
  return doc.streams.map((s) => {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.stream ?? {})) {
      if (typeof v !== 'string') throw new Error(`loghttp: label ${k} is not a string`);
      labels[k] = v;
    }
    const entries = (s.values ?? []).map((v) => {
      if (!Array.isArray(v) || (v.length !== 2 && v.length !== 3))
        throw new Error('loghttp: a value must be [ts, line] or [ts, line, metadata]');
      if (typeof v[0] !== 'string' || !/^-?\d+$/.test(v[0]))
        throw new Error(
          `loghttp: timestamp must be a string of nanoseconds, got ${JSON.stringify(v[0])}`,
        );
      if (typeof v[1] !== 'string') throw new Error('loghttp: line must be a string');
      const md: Record<string, string> = {};
      if (v.length === 3) {
        for (const [k, mv] of Object.entries((v[2] ?? {}) as Record<string, unknown>)) {
          if (typeof mv !== 'string')
            throw new Error(`loghttp: structured metadata ${k} is not a string`);
          md[k] = mv;
        }
      }
      return { ts: BigInt(v[0]), line: v[1], metadata: md };
    });
    return { labels, entries };
  });
}

/** Count entries in a PushRequest without materialising them (countOnly mode). */
function countProtobufEntries(buf: Buffer): number {
  const r = protobuf.Reader.create(buf);
  let n = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const end = r.uint32() + r.pos;
    while (r.pos < end) {
      const t = r.uint32();
      if (t >>> 3 === 2 && (t & 7) === 2) n++;
      r.skipType(t & 7);
    }
  }
  return n;
}

/**
 * Count the `values` entries of a JSON push without parsing it (countOnly mode). An entry
 * `["<ns>", "<line>"…]` is the only place in a push where `[` is followed (after optional
 * whitespace) by `"` and a digit or `-`: inside a string every `"` is escaped, so a `[` in a line
 * can only be followed by the string's closing quote, and after a closing quote valid JSON has
 * `,` `:` `]` `}` or whitespace, never a digit. Labels and structured metadata are objects.
 */
export function countJsonEntries(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x5b); i !== -1; i = buf.indexOf(0x5b, i + 1)) {
    let j = i + 1;
    while (buf[j] === 0x20 || buf[j] === 0x0a || buf[j] === 0x0d || buf[j] === 0x09) j++;
    if (buf[j] !== 0x22) continue;
    const c = buf[j + 1];
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) n++;
  }
  return n;
}

/** Parse `{a="x", b="y"}` (LogQL stream selector with = matchers only). */
export function parseSelector(text: string): Record<string, string> {
  const s = text.trim();
  if (!s.startsWith('{') || !s.endsWith('}')) throw new Error('1:1: parse error: unexpected input');
  const out: Record<string, string> = {};
  const re = /\s*([^\s=,{}"]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  const inner = s.slice(1, -1);
  re.lastIndex = 0;
  while (re.lastIndex < inner.length) {
    const at = re.lastIndex;
    const m = re.exec(inner);
    if (!m) {
      if (/^\s*$/.test(inner.slice(at))) break;
      throw new Error(`1:${at + 2}: parse error: unexpected character inside braces`);
    }
    const name = m[1];
    if (!LABEL_NAME.test(name))
      throw new Error(`1:${at + 2}: parse error: invalid label name "${name}"`);
    if (name in out) throw new Error(`duplicate label name: '${name}'`);
    out[name] = JSON.parse(`"${m[2]}"`) as string;
  }
  return out;
}

function canonical(labels: Record<string, string>): string {
  const names = Object.keys(labels);
  for (const n of names) if (!LABEL_NAME.test(n)) throw new Error(`invalid label name "${n}"`);
  names.sort();
  return '{' + names.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(', ') + '}';
}

function rfc3339(ns: bigint): string {
  return new Date(Number(ns / NS_PER_MS)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Go's time.Time String() in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
function goTime(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19).replace('T', ' ');
  const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${f} +0000 UTC`;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function reply(res: http.ServerResponse, status: number, body: string): number {
  res.statusCode = status;
  if (body) res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(status === 204 ? undefined : body);
  return status;
}

function defaultBody(status: number): string {
  if (status === 429)
    return 'Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest lines, reduce log volume or contact your Loki administrator to see if the limit can be increased';
  if (status === 413) return 'request body too large';
  if (status >= 500)
    return 'rpc error: code = Unavailable desc = at least 2 live replicas required';
  return `status ${status}`;
}
