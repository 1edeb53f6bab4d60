// What the HTTP outputs (loki, elasticsearch) share below the endpoint (endpoint.ts): TLS connect
// options from the `tls` options, one undici keep-alive pool per output, and the plain-http warning.

import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { invalidConfig as invalid } from '../../../core/errors.js';
import { GuardedPool } from './guarded-pool.js';
import type { TlsOptions } from './http-options.js';

export interface TlsFiles {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  server_name?: string;
}

/** Node TLS connect options (files read now); `verify` false is the only way to skip certificate checks. */
export function tlsConnect(tls: TlsFiles, verify: boolean) {
  return {
    rejectUnauthorized: verify,
    ca: tls.ca_file ? readFileSync(tls.ca_file) : undefined,
    cert: tls.cert_file ? readFileSync(tls.cert_file) : undefined,
    key: tls.key_file ? readFileSync(tls.key_file) : undefined,
    servername: tls.server_name,
  };
}

export interface ResolvedTls {
  readonly verify: boolean;
  readonly files: TlsFiles;
  /** Deprecated spellings this config used, each a warning naming the new key. */
  readonly deprecations: readonly string[];
}

/** Check `tls` (throws a ConfigError naming the key) and fold the deprecated spelling in. */
export function resolveTls(t: TlsOptions): ResolvedTls {
  const deprecations: string[] = [];
  let verify = t.verify;
  if (t.insecure_skip_verify !== undefined) {
    verify = verify && !t.insecure_skip_verify;
    deprecations.push(
      `tls.insecure_skip_verify is deprecated: use tls.verify${t.insecure_skip_verify ? ': false' : ' (on by default)'}`,
    );
  }
  if ((t.cert_file === undefined) !== (t.key_file === undefined))
    throw invalid(
      t.cert_file === undefined ? 'tls.key_file' : 'tls.cert_file',
      'mutual TLS needs both tls.cert_file and tls.key_file',
    );
  const { ca_file, cert_file, key_file, server_name } = t;
  return { verify, files: { ca_file, cert_file, key_file, server_name }, deprecations };
}

/** A keep-alive pool with `connections` sockets (one per worker) and one timeout for headers and body. */
export function createPool(
  origin: string,
  o: { connections: number; timeoutMs: number; connect: ReturnType<typeof tlsConnect> },
): Pool {
  return new Pool(origin, {
    connections: o.connections,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    keepAliveTimeout: 30_000,
    connect: o.connect,
  });
}

/**
 * `createPool` behind a watchdog (guarded-pool.ts): a request that outlives three times the
 * timeout (headers, then body, then slack) is abandoned and the pool replaced.
 */
export function createGuardedPool(
  origin: string,
  o: { connections: number; timeoutMs: number; connect: ReturnType<typeof tlsConnect> },
  onReplace?: (why: string) => void,
): GuardedPool {
  return new GuardedPool(() => createPool(origin, o), 3 * o.timeoutMs, onReplace);
}

/** Credentials (or a tenant) sent over plain http (#17.13): said once at start. */
export function plainHttpWarning(url: string, headers: Record<string, string>): string | undefined {
  if (!url.startsWith('http:')) return undefined;
  const sent = Object.keys(headers).filter((k) =>
    /^(authorization|proxy-authorization|cookie|x-api-key|api-key|x-auth-token)$/i.test(k),
  );
  if (sent.length === 0) return undefined;
  return `credentials (${sent.join(', ')}) are sent over plain http: use https, or keep this to a trusted local network`;
}

/** Header values from the config, checked once: undici refuses CR, LF, NUL and non-Latin-1. */
export function checkHeaders(headers: Record<string, string>): void {
  for (const [k, v] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k))
      throw invalid(`headers.${k}`, 'invalid header name');
    // eslint-disable-next-line no-control-regex -- NUL is what is refused
    if (/[\u0000\r\n]|[^\u0000-\u00ff]/.test(v))
      throw invalid(`headers.${k}`, 'the value holds CR, LF, NUL or a character above U+00FF');
  }
}
