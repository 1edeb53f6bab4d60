// The running process: config → checkpoint store → pipeline → telemetry server, with signal
// handling. SIGTERM/SIGINT stop reading, deliver what is buffered within shutdown_timeout and
// persist checkpoints; SIGHUP reloads (validate first; on error keep the running pipeline).

import * as path from 'node:path';
import { CheckpointStore } from '../core/checkpoint-store.js';
import { Pipeline } from '../core/pipeline.js';
import type { ShiplogConfig } from '../config/schema.js';
import { loadConfigFile, pipelineComponents } from '../config/load.js';
import { createLogger, type Level, type Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { TelemetryServer } from '../telemetry/http.js';

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
  pipeline: Pipeline | undefined;
  store: CheckpointStore | undefined;
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
    return store;
  }

  /** Build everything and start. Throws ConfigError/other errors before anything runs. */
  async start(): Promise<void> {
    const store = this.newStore(this.config);
    await store.load();
    const pipeline = new Pipeline(this.config, {
      components: pipelineComponents(),
      log: this.log,
      metrics: this.metrics,
      checkpoints: store,
      oneShot: this.opts.oneShot,
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
    );
    const addr = await server.listen(listen);
    this.server = server;
    this.listenAddr = `${addr.address}:${addr.port}`;
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
      this.log.info('stopped');
    })();
    return this.stopping;
  }
}
