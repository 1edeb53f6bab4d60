// What the HTTP outputs (loki, elasticsearch) share: secrets from a value or a file, TLS connect
// options read from files, and one undici keep-alive pool per output.

import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { GuardedPool } from './guarded-pool.js';

/** A secret given inline (from `${ENV}` interpolation) or as a file; a trailing newline is not part of it. */
export function readSecret(value: string | undefined, file: string | undefined): string {
  if (value !== undefined) return value;
  return readFileSync(file!, 'utf8').replace(/\r?\n$/, '');
}

export interface TlsFiles {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
}

/** Node TLS connect options; `verify` false is the only way to skip certificate checks. */
export function tlsConnect(tls: TlsFiles, verify: boolean) {
  return {
    rejectUnauthorized: verify,
    ca: tls.ca_file ? readFileSync(tls.ca_file) : undefined,
    cert: tls.cert_file ? readFileSync(tls.cert_file) : undefined,
    key: tls.key_file ? readFileSync(tls.key_file) : undefined,
  };
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
