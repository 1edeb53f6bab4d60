// `shiplog run`: the daemon, from its config to its signals. SIGTERM/SIGINT stop it (a second
// signal exits at once), SIGHUP reloads the config; with only stdin inputs it stops itself at the
// end of input once everything is acknowledged.

import { writeFileSync } from 'node:fs';
import { loadConfigFile } from '../config/load.js';
import type { ShiplogConfig } from '../config/schema.js';
import { checkHost } from '../config/host.js';
import { configWarnings } from '../config/warnings.js';
import { loadComponents } from '../components/registry.js';
import { ConfigError } from '../core/errors.js';
import { captureProcessOutput } from '../telemetry/logger.js';
import { Daemon } from './daemon.js';
import { EXIT, fail } from './exit.js';
import { bootLog, releaseFatalHandlers } from './process-log.js';

/**
 * SHIPLOG_DEBUG_MODULES=<file>: when the process exits, write there what it loaded (JSON:
 * `builtins`, Node's process.moduleLoadList; `modules`, the URLs bin/shiplog.js's resolve hook saw,
 * empty in the bundle). test/memory/loaded-modules.test.ts checks that a file → parse_json → loki
 * daemon loads no more than it uses.
 */
function debugModules(file: string | undefined): void {
  if (!file) return;
  process.on('exit', () => {
    const seen = (globalThis as { [k: symbol]: Set<string> | undefined })[
      Symbol.for('shiplog.resolvedModules')
    ];
    const builtins = (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
    writeFileSync(file, JSON.stringify({ builtins, modules: [...(seen ?? [])] }));
  });
}

export async function run(configFile: string): Promise<void> {
  debugModules(process.env.SHIPLOG_DEBUG_MODULES);
  let daemon: Daemon;
  let config: ShiplogConfig;
  try {
    config = loadConfigFile(configFile);
    // Files, journalctl and data_dir the config names: a missing one is the config's fault (78).
    checkHost(config);
    // Import what the config uses (and only that) before the pipeline is built on it.
    await loadComponents(config);
    daemon = new Daemon(config, { configFile });
  } catch (e) {
    fail(e, bootLog);
  }
  // Warnings and dependencies' console output from now on at the daemon's level and limits.
  captureProcessOutput(daemon.log);
  for (const w of await configWarnings(config)) daemon.log.warn('config warning', { warning: w });
  // Handlers go in before start-up: a signal that arrives while starting must not take the
  // default action (SIGHUP would kill the process).
  const startup: { p?: Promise<void> } = {};
  let signals = 0;
  const shutdown = (sig: string): void => {
    if (++signals > 1) {
      daemon.log.warn('second signal: exiting now; unacknowledged records will be read again', {
        signal: sig,
      });
      process.exit(EXIT.RUNTIME);
    }
    if (sig.startsWith('SIG')) daemon.log.info('signal received', { signal: sig });
    void (async () => {
      await startup.p?.catch(() => undefined);
      await daemon.stop();
    })().then(
      () => process.exit(EXIT.OK),
      (e: Error) => {
        daemon.log.error('shutdown failed', { error: e.message });
        process.exit(EXIT.RUNTIME);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    void (async () => {
      await startup.p;
      // A component type the new config adds is imported before the daemon builds (validates)
      // the new pipeline; a config that does not load is left to reload() to report.
      await (async () => loadComponents(loadConfigFile(configFile)))().catch(() => undefined);
      if (signals === 0) await daemon.reload();
    })();
  });
  process.on('uncaughtException', (e) => {
    daemon.log.error('uncaught exception; stopping', { error: e.message, stack: e.stack });
    void daemon.stop().finally(() => process.exit(EXIT.RUNTIME));
  });
  process.on('unhandledRejection', (e) => {
    daemon.log.error('unhandled rejection', { error: e instanceof Error ? e.message : String(e) });
  });
  releaseFatalHandlers();
  // A daemon runs until signalled, even when no input keeps the event loop busy (demo with a
  // count, an idle stdin): exiting on its own would look like a crash to systemd.
  setInterval(() => undefined, 1 << 30);
  startup.p = daemon.start();
  try {
    await startup.p;
    // `cat file | shiplog run` with only stdin inputs: at end of input, deliver and exit 0.
    if (config.pipeline.inputs.every((i) => i.type === 'stdin')) {
      const pipeline = daemon.pipeline!;
      void pipeline.drained().then(async () => {
        if (daemon.pipeline !== pipeline) return;
        await pipeline.idle();
        daemon.log.info('end of input: everything acknowledged, stopping');
        shutdown('end of input');
      });
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL')
      fail(
        new ConfigError([
          {
            code: 'SHIPLOG_CONFIG_INVALID',
            path: 'service.http.listen',
            message: `cannot listen on ${config.service.http?.listen ?? '?'}: ${code === 'EADDRINUSE' ? 'address in use (pick another port, or stop what holds it)' : 'no such local address'}`,
          },
        ]),
        daemon.log,
      );
    fail(e, daemon.log);
  }
}
