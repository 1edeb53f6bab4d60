// Telemetry server: GET /metrics (Prometheus text), /healthz (liveness), /readyz (shiplog itself:
// started, checkpoints and queues being written; not its backends), /health/outputs (each
// output's delivery: JSON, 503 while one is failing). Binds loopback by default.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface HealthSource {
  /** Empty when ready; otherwise the reasons, one per line in the /readyz body. */
  problems(): string[];
  /** Each output's delivery health (GET /health/outputs). */
  outputs?(): Array<{ id: string; type: string; ok: boolean; reason?: string }>;
}

export class TelemetryServer {
  private server: Server | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly health: () => HealthSource | undefined,
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
      } else {
        res
          .writeHead(404, { 'content-type': 'text/plain' })
          .end('not found: try /metrics, /healthz, /readyz, /health/outputs\n');
      }
    });
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
