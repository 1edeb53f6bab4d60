// `shiplog validate --healthcheck` for an `elasticsearch` output, on a client of its own:
// 1. `GET /` (the url, prefix kept): reachable, TLS trusted, credentials accepted;
// 2. `POST /_security/user/_has_privileges` for the privilege shiplog's action needs on the
//    target index pattern (templates become `*`). A cluster without security (404, or a 400/500
//    saying security is disabled) has no privileges to check: that is a pass.

import { excerpt } from '../_shared/excerpt.js';
import { checkRequest, silentLog, statusHint } from '../_shared/healthcheck.js';
import { dataStreamIndex } from './encode.js';
import { esEndpoint, type EsOutputConfig } from './output.js';

/** The index (pattern) the output writes to, with strftime and {field} parts as `*`. */
export function indexPattern(config: EsOutputConfig): string {
  const name = config.data_stream ? dataStreamIndex(config.data_stream) : config.index;
  return name
    .replaceAll('%%', '\u0000')
    .replace(/%[A-Za-z]/g, '*')
    .replace(/\{[^}]*\}/g, '*')
    .replaceAll('\u0000', '%')
    .replace(/\*+/g, '*');
}

/** Resolves with what was checked; throws with what to fix. */
export async function healthcheck(config: EsOutputConfig): Promise<string> {
  const http = esEndpoint(config, silentLog);
  const url = { origin: http.origin };
  const prefix = http.prefix;
  const headers: Record<string, string> = { 'user-agent': 'shiplog', accept: 'application/json' };
  const authorization = http.auth.header();
  if (authorization) headers.authorization = authorization;
  const call = (path: string, method: 'GET' | 'POST', body?: string) =>
    checkRequest(http.origin, http.tls.files, http.tls.verify, config.timeout, {
      path,
      method,
      headers: body ? { ...headers, 'content-type': 'application/json' } : headers,
      body,
    });

  const root = await call(prefix || '/', 'GET');
  if (root.status < 200 || root.status >= 300) {
    throw new Error(
      `GET ${url.origin}${prefix || '/'} answered ${root.status}${statusHint(root.status)}: ${excerpt(root.body)}`,
    );
  }
  let version = '';
  try {
    version = (JSON.parse(root.body) as { version?: { number?: string } }).version?.number ?? '';
  } catch {
    throw new Error(
      `GET ${url.origin}${prefix || '/'} did not answer JSON: is the url an Elasticsearch endpoint?`,
    );
  }

  const pattern = indexPattern(config);
  const privilege = config.data_stream || config.action === 'create' ? 'create_doc' : 'index';
  const path = `${prefix}/_security/user/_has_privileges`;
  const res = await call(
    path,
    'POST',
    JSON.stringify({ index: [{ names: [pattern], privileges: [privilege] }] }),
  );
  const disabled =
    res.status === 404 ||
    res.status === 410 ||
    ((res.status === 400 || res.status === 500) &&
      /security.*(not enabled|disabled)/i.test(res.body));
  const what = `elasticsearch ${version || '(version unknown)'} at ${url.origin}`;
  if (disabled) return `${what}; security disabled, no privileges to check`;
  if (res.status < 200 || res.status >= 300) {
    throw new Error(
      `POST ${url.origin}${path} answered ${res.status}${statusHint(res.status)}: ${excerpt(res.body)}`,
    );
  }
  const body = JSON.parse(res.body) as {
    username?: string;
    has_all_requested?: boolean;
  };
  if (body.has_all_requested === false) {
    throw new Error(
      `user ${body.username ?? '?'} lacks the ${privilege} privilege on ${pattern} (grant it in a role, or use credentials that have it)`,
    );
  }
  return `${what}; user ${body.username ?? '?'} has ${privilege} on ${pattern}`;
}
