// #17.8: the telemetry server caps connections, so idle clients cannot exhaust descriptors.

import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';
import { TELEMETRY_LIMITS, TelemetryServer, exposedHost } from './http.js';

const open: Socket[] = [];
let server: TelemetryServer | undefined;
afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  await server?.close();
  server = undefined;
});

describe('telemetry server limits (#17.8)', () => {
  it('400 idle connections: at most maxConnections stay open, and it still answers after', async () => {
    server = new TelemetryServer(new Metrics({ defaultMetrics: false }), () => ({
      problems: () => [],
    }));
    const addr = await server.listen('127.0.0.1:0');
    let closed = 0;
    for (let i = 0; i < 400; i++) {
      const s = connect(addr.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closed++);
      open.push(s);
    }
    const end = Date.now() + 5000;
    while (400 - closed > TELEMETRY_LIMITS.maxConnections && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    expect(400 - closed).toBeLessThanOrEqual(TELEMETRY_LIMITS.maxConnections);
    for (const s of open.splice(0)) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`http://127.0.0.1:${addr.port}/healthz`);
    expect(res.status).toBe(200);
  });

  it('knows a non-loopback bind', () => {
    expect(exposedHost('127.0.0.1')).toBe(false);
    expect(exposedHost('::1')).toBe(false);
    expect(exposedHost('localhost')).toBe(false);
    expect(exposedHost('0.0.0.0')).toBe(true);
    expect(exposedHost('::')).toBe(true);
    expect(exposedHost('10.0.0.5')).toBe(true);
  });
});
