// `shiplog validate --healthcheck` for a `loki` output: a push of zero streams (JSON, so no snappy
// is needed) with the output's headers, tenant and credentials, on a client of its own. 2xx means
// the distributor is up and accepts these credentials and this tenant; 204 is what Loki answers.

import { checkRequest, statusHint } from '../_shared/healthcheck.js';
import { authHeader, type LokiOutputConfig } from './output.js';

const PUSH_PATH = '/loki/api/v1/push';

/** Resolves with what was checked; throws with what to fix. */
export async function healthcheck(config: LokiOutputConfig): Promise<string> {
  const url = new URL(config.url);
  const prefix = url.pathname.replace(/\/+$/, '').replace(/\/loki\/api\/v1\/push$/, '');
  const path = prefix + PUSH_PATH + url.search;
  const headers: Record<string, string> = { 'user-agent': 'shiplog' };
  for (const [k, v] of Object.entries(config.headers)) headers[k.toLowerCase()] = v;
  headers['content-type'] = 'application/json';
  const authorization = authHeader(config.auth);
  if (authorization) headers.authorization = authorization;
  const tenant = config.tenant;
  if (tenant && !tenant.includes('{')) headers['x-scope-orgid'] = tenant;
  const res = await checkRequest(
    url.origin,
    config.tls,
    !config.tls.insecure_skip_verify,
    config.timeout,
    { path, method: 'POST', headers, body: '{"streams":[]}' },
  );
  if (res.status < 200 || res.status >= 300) {
    const orgHint =
      res.status === 401 && /org ?id/i.test(res.body) ? ' (multi-tenant Loki: set tenant)' : '';
    throw new Error(
      `POST ${url.origin}${path} (empty push) answered ${res.status}${orgHint || statusHint(res.status)}: ${res.body.trim().slice(0, 200)}`,
    );
  }
  return `push accepted by ${url.origin}${path} (${res.status})`;
}
