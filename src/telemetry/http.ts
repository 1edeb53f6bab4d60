// Telemetry server: GET /metrics (Prometheus text), /healthz (liveness), /readyz (shiplog itself:
// started, checkpoints and queues being written; not its backends), /health/outputs (each
// output's delivery: JSON, 503 while one is failing). Binds loopback by default.

import type * as Http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

// node:http through require(): an ESM import of it builds its namespace, whose WebSocket getters
// load Node's own copy of undici (~15 MB resident, Node 24.22; issue #22).
const { createServer } = createRequire(import.meta.url)('node:http') as typeof Http;

/**
 * Limits of the telemetry server (#17.8): 400 idle connections once exhausted the process's
 * descriptors (the file input then failed with EMFILE). Probes and a Prometheus scraper need a
 * handful; slow or idle clients are cut.
 */
export const TELEMETRY_LIMITS = {
  maxConnections: 32,
  /** Whole request headers within this. */
  headersTimeoutMs: 5_000,
  /** Whole request within this. */
  requestTimeoutMs: 10_000,
  /** Idle keep-alive sockets closed after this. */
  keepAliveTimeoutMs: 5_000,
  /** Any socket idle this long is destroyed. */
  idleTimeoutMs: 30_000,
} as const;

/** True when `host` is not a loopback address (the endpoints are then reachable from outside). */
export function exposedHost(host: string): boolean {
  const h = host.toLowerCase();
  return !(h === 'localhost' || h === '::1' || /^127\./.test(h) || h === '::ffff:127.0.0.1');
}

export interface HealthSource {
  /** Empty when ready; otherwise the reasons, one per line in the /readyz body. */
  problems(): string[];
  /** Each output's delivery health (GET /health/outputs). */
  outputs?(): Array<{ id: string; type: string; ok: boolean; reason?: string }>;
}

/** An extra GET route (/status, /tap), given by the daemon. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export class TelemetryServer {
  private server: Server | undefined;
  /** The bound address is not loopback (set by listen). */
  exposed = false;

  constructor(
    private readonly metrics: Metrics,
    private readonly health: () => HealthSource | undefined,
    private readonly routes: ReadonlyMap<string, RouteHandler> = new Map(),
  ) {}

  async listen(listen: string): Promise<AddressInfo> {
    const i = listen.lastIndexOf(':');
    const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(listen.slice(i + 1));
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (url === '/metrics') {
        this.metrics.registry
          .metrics()
          .then((body) =>
            res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body),
          )
          .catch((e: Error) => res.writeHead(500).end(e.message));
      } else if (url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (url === '/readyz') {
        const src = this.health();
        const problems = src ? src.problems() : ['starting'];
        if (problems.length === 0)
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else res.writeHead(503, { 'content-type': 'text/plain' }).end(problems.join('\n') + '\n');
      } else if (url === '/health/outputs') {
        // Backends, apart from readiness: a Loki outage must not mark every pod NotReady.
        const outputs = this.health()?.outputs?.();
        const body = outputs
          ? { ok: outputs.every((o) => o.ok), outputs }
          : { ok: false, outputs: [], reason: 'starting' };
        res
          .writeHead(body.ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify(body) + '\n');
      } else if (this.routes.has(url)) {
        this.routes.get(url)!(req, res);
      } else {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: try /metrics, /healthz, /readyz, /health/outputs\n');
      }
    });
    server.maxConnections = TELEMETRY_LIMITS.maxConnections;
    server.headersTimeout = TELEMETRY_LIMITS.headersTimeoutMs;
    server.requestTimeout = TELEMETRY_LIMITS.requestTimeoutMs;
    server.keepAliveTimeout = TELEMETRY_LIMITS.keepAliveTimeoutMs;
    server.setTimeout(TELEMETRY_LIMITS.idleTimeoutMs, (socket) => socket.destroy());
    this.exposed = exposedHost(host);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
