// What the healthchecks of the HTTP outputs share (`shiplog validate --healthcheck`): one request
// over a short-lived undici pool built from the output's config, and messages that say what to fix.

import type { Logger } from '../../../telemetry/logger.js';
import { createPool, tlsConnect, type TlsFiles } from './http.js';

/** For the endpoint a check builds: the check reports what it found, start-up warnings are not wanted. */
export const silentLog: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLog,
};

export interface CheckResponse {
  status: number;
  body: string;
}

/** One request to `origin + path` on a pool of its own, closed afterwards. Network errors say where. */
export async function checkRequest(
  origin: string,
  tls: TlsFiles,
  verify: boolean,
  timeoutMs: number,
  req: { path: string; method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
): Promise<CheckResponse> {
  const pool = createPool(origin, {
    connections: 1,
    timeoutMs,
    connect: tlsConnect(tls, verify),
  });
  try {
    const res = await pool.request({ ...req, signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.body.text();
    return { status: res.statusCode, body };
  } catch (e) {
    throw new Error(`cannot reach ${origin}${req.path}: ${networkReason(e)}`, { cause: e });
  } finally {
    await pool.close().catch(() => undefined);
  }
}

/** A network error in words, with the fix when there is a likely one. */
export function networkReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err.code ?? err.cause?.code ?? err.name;
  const hint: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is the server running, is the port right?)',
    ENOTFOUND: 'host not found (check the hostname in url)',
    EAI_AGAIN: 'DNS lookup failed (check the hostname in url, or DNS)',
    ETIMEDOUT: 'connection timed out (firewall, or wrong host?)',
    TimeoutError: 'no answer within the timeout',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out (firewall, or wrong host?)',
    UND_ERR_HEADERS_TIMEOUT: 'no answer within the timeout',
    DEPTH_ZERO_SELF_SIGNED_CERT:
      'self-signed certificate (set tls.ca_file to the CA that signed it)',
    SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in chain (set tls.ca_file)',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate not trusted (set tls.ca_file)',
    ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name this host (check url)',
  };
  return (code && hint[code]) ?? `${code ? `${code}: ` : ''}${err.message}`;
}

/** The fix for an HTTP status, for messages. */
export function statusHint(status: number): string {
  if (status === 401) return ' (credentials missing or wrong: check auth)';
  if (status === 403) return ' (the credentials are not allowed: check auth and tenant)';
  if (status === 404) return ' (nothing at this path: check url, including any path prefix)';
  if (status === 407) return ' (a proxy wants credentials)';
  if (status >= 500) return ' (the server is failing)';
  return '';
}
