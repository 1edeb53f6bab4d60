// The HTTP output kit (issue #19): what loki and elasticsearch do the same way around their
// requests. One `HttpEndpoint` per output:
//   - the url (credentials in it refused; origin, path prefix and query kept apart),
//   - `auth` and `tls` resolved once (http-options.ts: one option shape; auth.ts; http.ts),
//     deprecated spellings warned about once at start, naming the new key,
//   - the guarded keep-alive pool (guarded-pool.ts: a request cannot hang its output),
//   - one exchange = one request, classified (status.ts): ok, retry (Retry-After), too large,
//     permanent; a malformed request (undici "invalid argument") is permanent, other network
//     errors retry,
//   - health: stuck (the watchdog fired) or failing (3 failed attempts in a row), status only.
// The output keeps what is its own: what it sends, and what a 2xx / 400 / 413 body means.

import type { Dispatcher } from 'undici';
import type { Logger } from '../../../telemetry/logger.js';
import { invalidConfig as invalid } from '../../../core/errors.js';
import { parseRetryAfter } from '../../../core/retry.js';
import { resolveAuth, type ResolvedAuth } from './auth.js';
import { excerpt } from './excerpt.js';
import type { GuardedPool } from './guarded-pool.js';
import type { AuthOptions, AuthType, TlsOptions } from './http-options.js';
import {
  checkHeaders,
  createGuardedPool,
  plainHttpWarning,
  resolveTls,
  tlsConnect,
  type ResolvedTls,
} from './http.js';
import { classifyStatus, type Verdict } from './status.js';

export interface EndpointOptions {
  url: string;
  auth: AuthOptions;
  tls: TlsOptions;
  /** Connections in the pool (one per worker). */
  workers: number;
  /** Per-request timeout (headers, then body), ms. */
  timeout: number;
}

export interface EndpointSpec {
  /** The backend's name in messages: "loki". */
  name: string;
  /** What one request is called in messages: "push", "bulk request"; and several: "pushes". */
  request: string;
  requests: string;
  /** Auth schemes the backend knows. */
  authTypes: readonly AuthType[];
}

/** The server answered. */
export interface Answer {
  kind: 'answer';
  code: number;
  /** For output_requests_total: the code as text. */
  status: string;
  verdict: Verdict;
  headers: Record<string, string | string[] | undefined>;
  /** The body; only its first HEAD_BYTES when the exchange's `skip` accepted them (a 2xx). */
  text: string;
  /** Retry-After, ms (retry verdicts). */
  delayMs?: number;
}

/** No answer: `permanent` when the request itself is malformed (resending cannot help, #17.1). */
export interface Failure {
  kind: 'failure';
  status: string;
  permanent: boolean;
  reason: string;
}

export class HttpEndpoint {
  readonly origin: string;
  /** The url's path without trailing slashes ('' for none). */
  readonly prefix: string;
  /** The url's query string ('' or '?…'). */
  readonly search: string;
  readonly auth: ResolvedAuth;
  readonly tls: ResolvedTls;
  /** Headers of every request (set by start: the caller's plus authorization). */
  headers: Record<string, string> = {};
  private pool: GuardedPool | undefined;
  private warned = false;
  private consecutiveFailures = 0;
  private lastFailure = '';

  constructor(
    private readonly o: EndpointOptions,
    private readonly spec: EndpointSpec,
    private readonly log: Logger,
  ) {
    const url = new URL(o.url);
    if (url.username || url.password)
      throw invalid('url', 'credentials do not belong in the url: use auth.user/auth.password');
    this.origin = url.origin;
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.search = url.search;
    this.auth = resolveAuth(o.auth, spec.authTypes);
    this.tls = resolveTls(o.tls);
  }

  /** Warnings once, secrets and TLS files read, the pool made. `headers`: the output's own. */
  start(headers: Record<string, string>): void {
    if (!this.warned) {
      this.warned = true;
      for (const d of [...this.auth.deprecations, ...this.tls.deprecations])
        this.log.warn(`${d} (the old spelling works until the next release)`, { url: this.origin });
      if (!this.tls.verify)
        this.log.warn('tls.verify is off: the server certificate is not checked', {
          url: this.origin,
        });
    }
    const all = { ...headers };
    const authorization = this.auth.header();
    if (authorization) all.authorization = authorization;
    checkHeaders(headers); // the authorization value was checked by auth.ts
    const plain = plainHttpWarning(this.o.url, all);
    if (plain) this.log.warn(plain, { url: this.origin });
    this.headers = all;
    this.pool ??= createGuardedPool(
      this.origin,
      {
        connections: this.o.workers,
        timeoutMs: this.o.timeout,
        connect: tlsConnect(this.tls.files, this.tls.verify),
      },
      (why) => this.log.error(`${this.spec.name} connection pool replaced`, { reason: why }),
    );
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await pool.close();
  }

  /** The raw request (probes, health checks): throws on network errors. */
  request(opts: Omit<Dispatcher.RequestOptions, 'origin'>): Promise<Dispatcher.ResponseData> {
    if (!this.pool) return Promise.reject(new Error(`${this.spec.name} output not started`));
    return this.pool.request(opts);
  }

  /** One request, its answer classified. Rethrows only when `signal` aborted it. */
  async exchange(req: {
    path: string;
    method?: 'POST' | 'PUT';
    headers?: Record<string, string>;
    body: Buffer | string;
    signal: AbortSignal;
    /**
     * Called on the first HEAD_BYTES of a 2xx body (all of it when shorter): true when they tell
     * all the caller needs (`_bulk`: `{"errors":false,…`). The rest is then read and dropped,
     * not decoded.
     */
    skip?: (head: string) => boolean;
  }): Promise<Answer | Failure> {
    try {
      const res = await this.request({
        path: req.path,
        method: req.method ?? 'POST',
        headers: req.headers ?? this.headers,
        body: req.body,
        signal: req.signal,
      });
      const verdict = classifyStatus(res.statusCode);
      const text =
        req.skip !== undefined && verdict === 'ok'
          ? await readUnlessSkipped(res.body, req.skip)
          : await res.body.text();
      const answer: Answer = {
        kind: 'answer',
        code: res.statusCode,
        status: String(res.statusCode),
        verdict,
        headers: res.headers,
        text,
      };
      if (verdict === 'retry') answer.delayMs = parseRetryAfter(res.headers['retry-after']);
      return answer;
    } catch (e) {
      if (req.signal.aborted) throw e;
      const err = e as Error & { code?: string };
      if (err.code === 'UND_ERR_INVALID_ARG')
        return {
          kind: 'failure',
          status: 'invalid_argument',
          permanent: true,
          reason: `${this.spec.request} refused by the HTTP client (invalid argument): ${excerpt(err.message)}`,
        };
      return {
        kind: 'failure',
        status: err.code?.toLowerCase() ?? 'error',
        permanent: false,
        reason: `${this.spec.request} failed: ${err.message}`,
      };
    }
  }

  /** An attempt succeeded (or failed only for its records): the output is healthy. */
  succeeded(): void {
    this.consecutiveFailures = 0;
  }

  /** An attempt failed as a whole. */
  failed(status: string): void {
    this.consecutiveFailures++;
    this.lastFailure = status;
  }

  health(): { ok: boolean; reason?: string; stuck?: boolean } {
    // Stuck (a request outlived its watchdog): shiplog is broken, not the backend down.
    const stuck = this.pool?.stuck;
    if (stuck !== undefined)
      return {
        ok: false,
        stuck: true,
        reason: `stuck: a ${this.spec.request} did not settle within ${this.pool!.watchdogMs} ms (since ${new Date(stuck).toISOString()}; connection pool replaced)`,
      };
    // Status only: response bodies never reach /readyz (#17.12).
    return this.consecutiveFailures >= 3
      ? { ok: false, reason: `${this.spec.requests} failing (last: ${this.lastFailure})` }
      : { ok: true };
  }
}

/** The bytes `skip` sees of a 2xx body. */
export const HEAD_BYTES = 64;

/**
 * The text of `body` as undici's `text()` makes it (UTF-8, a BOM dropped), or only its first
 * HEAD_BYTES when `skip` accepts them: the rest is read (the connection stays reusable) and
 * dropped. A `_bulk` answer without errors has an item per document (~30 bytes each): decoding
 * it cost W4 0.06-0.09 s of its main thread per 500k lines (#22).
 */
async function readUnlessSkipped(
  body: AsyncIterable<Buffer>,
  skip: (head: string) => boolean,
): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  let head: string | undefined;
  let skipped = false;
  for await (const chunk of body) {
    if (skipped) continue;
    chunks.push(chunk);
    n += chunk.length;
    if (head === undefined && n >= HEAD_BYTES) {
      head = Buffer.concat(chunks, n).toString('utf8', 0, HEAD_BYTES);
      if (skip(head)) {
        skipped = true;
        chunks.length = 0;
      }
    }
  }
  if (skipped) return head!;
  const all = Buffer.concat(chunks, n);
  const start = n >= 3 && all[0] === 0xef && all[1] === 0xbb && all[2] === 0xbf ? 3 : 0;
  return all.toString('utf8', start);
}
