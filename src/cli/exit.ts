// Exit codes, and leaving the process on an error (the commands share them): 0 ok, 1 runtime
// failure, 2 usage error, 3 records lost or dead-lettered (backfill, replay) or not ready
// (status), 78 invalid config (EX_CONFIG), 130 interrupted.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';

export const EXIT = { OK: 0, RUNTIME: 1, USAGE: 2, LOST: 3, CONFIG: 78 } as const;

/** A wrong command line (exit 2, not 78: the config is fine). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function defaultConfig(): string {
  return process.env.SHIPLOG_CONFIG || '/etc/shiplog/shiplog.yaml';
}

/** Exit on an error: one JSON line through `log` (the daemon), else text (validate, backfill). */
export function fail(e: unknown, log?: Logger): never {
  if (e instanceof UsageError) {
    process.stderr.write(`shiplog: ${e.message}\n`);
    process.exit(EXIT.USAGE);
  }
  if (log) {
    const config = e instanceof ConfigError;
    log.error(config ? 'invalid config' : 'start failed', {
      error: (e as Error).message,
      code: (e as NodeJS.ErrnoException).code,
    });
    process.exit(config ? EXIT.CONFIG : EXIT.RUNTIME);
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`shiplog: invalid config\n${e.message}\n`);
    process.exit(EXIT.CONFIG);
  }
  process.stderr.write(`shiplog: ${(e as Error).message}\n`);
  process.exit(EXIT.RUNTIME);
}
