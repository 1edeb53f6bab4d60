// `shiplog validate --healthcheck` for a `loki` output: a push of zero streams (JSON, so no snappy
// is needed) with the output's headers, tenant and credentials, on a client of its own. 2xx means
// the distributor is up and accepts these credentials and this tenant; 204 is what Loki answers.

import { excerpt } from '../_shared/excerpt.js';
import { checkRequest, silentLog, statusHint } from '../_shared/healthcheck.js';
import { lokiEndpoint, pushPath, type LokiOutputConfig } from './output.js';

/** Resolves with what was checked; throws with what to fix. */
export async function healthcheck(config: LokiOutputConfig): Promise<string> {
  const http = lokiEndpoint(config, silentLog);
  const path = pushPath(http);
  const headers: Record<string, string> = { 'user-agent': 'shiplog' };
  for (const [k, v] of Object.entries(config.headers)) headers[k.toLowerCase()] = v;
  headers['content-type'] = 'application/json';
  const authorization = http.auth.header();
  if (authorization) headers.authorization = authorization;
  const tenant = config.tenant;
  if (tenant && !tenant.includes('{')) headers['x-scope-orgid'] = tenant;
  const res = await checkRequest(http.origin, http.tls.files, http.tls.verify, config.timeout, {
    path,
    method: 'POST',
    headers,
    body: '{"streams":[]}',
  });
  if (res.status < 200 || res.status >= 300) {
    const orgHint =
      res.status === 401 && /org ?id/i.test(res.body) ? ' (multi-tenant Loki: set tenant)' : '';
    throw new Error(
      `POST ${http.origin}${path} (empty push) answered ${res.status}${orgHint || statusHint(res.status)}: ${excerpt(res.body)}`,
    );
  }
  return `push accepted by ${http.origin}${path} (${res.status})`;
}
