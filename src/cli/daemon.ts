// The running process: config → checkpoint store → pipeline → telemetry server, with signal
// handling. SIGTERM/SIGINT stop reading, deliver what is buffered within shutdown_timeout and
// persist checkpoints; SIGHUP reloads (validate first; on error keep the running pipeline).

import * as path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CheckpointStore } from '../core/checkpoint-store.js';
import { DataDirLock, ensureDataDir } from '../core/data-dir.js';
import { Pipeline } from '../core/pipeline.js';
import type { ShiplogConfig } from '../config/schema.js';
import { loadConfigFile, pipelineComponents } from '../config/load.js';
import { createLogger, type Level, type Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { TelemetryServer, type RouteHandler } from '../telemetry/http.js';
import { Ledger } from '../telemetry/ledger.js';
import { buildStatus } from './status.js';
import { isLoopback, TapHub, TAP_DEFAULT_RATE, TAP_MAX_RATE } from '../telemetry/tap.js';
import { compileMatch } from '../core/glob.js';

export interface DaemonOptions {
  configFile: string;
  log?: Logger & { setLevel(l: Level): void };
  oneShot?: boolean;
  /** Checkpoint file name under data_dir (backfill uses its own). */
  checkpointFile?: string;
}

export class Daemon {
  readonly log: Logger & { setLevel(l: Level): void };
  readonly metrics = new Metrics();
  /** The loss ledger behind /status; survives reloads. */
  readonly ledger = new Ledger();
  /** /tap readers; survives reloads. */
  readonly tap = new TapHub();
  readonly startedAt = Date.now();
  pipeline: Pipeline | undefined;
  store: CheckpointStore | undefined;
  /** The data_dir lock (the daemon only; backfill keeps its own checkpoints). */
  private lock: DataDirLock | undefined;
  private server: TelemetryServer | undefined;
  private listenAddr: string | undefined;
  private reloading: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private config: ShiplogConfig,
    private readonly opts: DaemonOptions,
  ) {
    this.log = opts.log ?? createLogger({ level: config.service.log_level });
  }

  private newStore(config: ShiplogConfig): CheckpointStore {
    const file = path.join(config.service.data_dir, this.opts.checkpointFile ?? 'checkpoints.json');
    const store = new CheckpointStore(
      file,
      this.log.child({ component: 'checkpoints' }),
      config.service.checkpoint_interval,
    );
    store.onWriteFailure = () => this.metrics.checkpointWriteFailures.inc();
    store.onDirRecreated = () => this.lock?.restore();
    return store;
  }

  /** Build everything and start. Throws ConfigError/other errors before anything runs. */
  async start(): Promise<void> {
    if (!this.opts.oneShot) {
      // 0700, ours, then locked: a second process on this data_dir exits 78 naming the holder.
      ensureDataDir(this.config.service.data_dir);
      const lock = new DataDirLock(this.config.service.data_dir);
      lock.acquire();
      this.lock = lock;
    }
    const store = this.newStore(this.config);
    await store.load();
    const pipeline = new Pipeline(this.config, {
      components: pipelineComponents(),
      log: this.log,
      metrics: this.metrics,
      checkpoints: store,
      oneShot: this.opts.oneShot,
      ledger: this.ledger,
      tap: this.tap,
    });
    this.store = store;
    this.pipeline = pipeline;
    await this.startServer(this.config);
    await pipeline.start();
    store.start();
    this.log.info('shiplog started', {
      config: this.opts.configFile,
      inputs: this.config.pipeline.inputs.map((i) => `${i.id}(${i.type})`),
      outputs: this.config.pipeline.outputs.map((o) => `${o.id}(${o.type})`),
      http: this.listenAddr,
    });
  }

  private async startServer(config: ShiplogConfig): Promise<void> {
    const listen = config.service.http?.listen;
    if (listen === this.listenAddr) return;
    await this.server?.close();
    this.server = undefined;
    this.listenAddr = undefined;
    if (!listen) return;
    const server = new TelemetryServer(
      this.metrics,
      () =>
        this.pipeline && {
          problems: () => this.problems(),
          outputs: () => this.pipeline!.outputHealth(),
        },
      this.routes(),
    );
    const addr = await server.listen(listen);
    if (server.exposed)
      this.log.warn(
        'telemetry server listens on a non-loopback address: /metrics and /readyz are reachable from the network (restrict it with a NetworkPolicy or firewall)',
        { listen },
      );
    this.server = server;
    this.listenAddr = `${addr.address}:${addr.port}`;
  }

  /** Routes beside /metrics, /healthz and /readyz. */
  private routes(): Map<string, RouteHandler> {
    const routes = new Map<string, RouteHandler>();
    routes.set('/status', (_req, res) => {
      buildStatus(this).then(
        (body) =>
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify(body) + '\n'),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(e.message + '\n'),
      );
    });
    routes.set('/tap', (req, res) => this.serveTap(req, res));
    return routes;
  }

  /** GET /tap?component=ID&match=GLOB&rate=N: NDJSON samples until the client goes away. */
  private serveTap(req: IncomingMessage, res: ServerResponse): void {
    const http = this.config.service.http;
    const text = { 'content-type': 'text/plain' };
    if (!http?.tap) {
      res.writeHead(404, text).end('tap is off: set service.http.tap: true\n');
      return;
    }
    if (!http.tap_remote && !isLoopback(req.socket.remoteAddress)) {
      res.writeHead(403, text).end('tap serves loopback clients only (service.http.tap_remote)\n');
      return;
    }
    const q = new URL(req.url ?? '/', 'http://tap').searchParams;
    const rate = q.has('rate') ? Number(q.get('rate')) : TAP_DEFAULT_RATE;
    if (!(rate >= 1 && rate <= TAP_MAX_RATE)) {
      res.writeHead(400, text).end(`rate: 1..${TAP_MAX_RATE} records/s\n`);
      return;
    }
    const p = this.config.pipeline;
    const component = q.get('component') ?? undefined;
    let inComponent:
      ((input: string, tag: string, outputs: readonly string[]) => boolean) | undefined;
    if (component !== undefined) {
      const filter = p.filters.find((f) => f.id === component);
      if (filter) {
        const m = compileMatch(filter.match);
        inComponent = (_i, tag) => m(tag);
      } else if (p.inputs.some((i) => i.id === component))
        inComponent = (input) => input === component;
      else if (p.outputs.some((o) => o.id === component))
        inComponent = (_i, _t, outputs) => outputs.includes(component);
      else {
        res
          .writeHead(400, text)
          .end(`component ${component}: no input, filter or output with this id\n`);
        return;
      }
    }
    const matchTag = q.has('match') ? compileMatch(q.get('match')!) : undefined;
    const remove = this.tap.add({
      rate,
      accept: (input, tag, outputs) =>
        (matchTag === undefined || matchTag(tag)) &&
        (inComponent === undefined || inComponent(input, tag, outputs)),
      write: (line) => {
        res.write(line);
        return res.writableLength;
      },
    });
    if (!remove) {
      res.writeHead(503, text).end('too many tap readers\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    req.socket.setTimeout(0);
    res.once('close', remove);
  }

  get configFile(): string {
    return this.opts.configFile;
  }

  problems(): string[] {
    if (!this.pipeline) return ['starting'];
    if (this.reloading) return ['reloading'];
    return this.pipeline.problems();
  }

  get address(): string | undefined {
    return this.listenAddr;
  }

  /** SIGHUP: validate the new config, then swap pipelines. On error keep the old one. */
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      let next: ShiplogConfig;
      try {
        next = loadConfigFile(this.opts.configFile);
        // Build (validate) before touching the running pipeline.
        new Pipeline(next, {
          components: pipelineComponents(),
          log: this.log,
          metrics: this.metrics,
          checkpoints: this.newStore(next),
        });
      } catch (e) {
        this.log.error('reload rejected: config invalid; keeping the running pipeline', {
          error: (e as Error).message,
        });
        return;
      }
      this.log.info('reloading config', { config: this.opts.configFile });
      const deadline = Date.now() + this.config.service.shutdown_timeout;
      await this.pipeline?.stop(deadline);
      await this.store?.stop();
      this.config = next;
      this.log.setLevel(next.service.log_level);
      const store = this.newStore(next);
      await store.load();
      const pipeline = new Pipeline(next, {
        components: pipelineComponents(),
        log: this.log,
        metrics: this.metrics,
        checkpoints: store,
        ledger: this.ledger,
        tap: this.tap,
      });
      this.store = store;
      this.pipeline = pipeline;
      await this.startServer(next).catch((e: Error) =>
        this.log.error('telemetry server failed to rebind', { error: e.message }),
      );
      await pipeline.start();
      store.start();
      this.log.info('reloaded');
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** Stop reading, deliver within shutdown_timeout, persist checkpoints. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.reloading) await this.reloading;
      const deadline = Date.now() + this.config.service.shutdown_timeout;
      this.log.info('stopping: delivering buffered records', {
        timeout_ms: this.config.service.shutdown_timeout,
      });
      await this.pipeline?.stop(deadline);
      await this.store?.stop();
      await this.server?.close();
      this.lock?.release();
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}
