// shiplog's own logs: JSON lines on stderr, rate-limited per message text so a failure that
// repeats per record or per request can never flood the log. Never pass credentials here.

import { format } from 'node:util';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: Level;
  /** Messages with the same text may be logged this many times per window. */
  burst?: number;
  windowMs?: number;
  write?: (line: string) => void;
}

interface Bucket {
  windowStart: number;
  count: number;
  suppressed: number;
}

class Shared {
  buckets = new Map<string, Bucket>();
  constructor(
    public level: Level,
    readonly burst: number,
    readonly windowMs: number,
    readonly write: (line: string) => void,
  ) {}
}

class JsonLogger implements Logger {
  constructor(
    private readonly shared: Shared,
    private readonly bindings: Record<string, unknown>,
  ) {}

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new JsonLogger(this.shared, { ...this.bindings, ...bindings });
  }

  private log(level: Level, msg: string, fields?: Record<string, unknown>): void {
    const s = this.shared;
    if (ORDER[level] < ORDER[s.level]) return;
    const key = `${level}\u0000${String(this.bindings.component ?? '')}\u0000${msg}`;
    const now = Date.now();
    let b = s.buckets.get(key);
    if (!b) {
      if (s.buckets.size > 5000) s.buckets.clear();
      b = { windowStart: now, count: 0, suppressed: 0 };
      s.buckets.set(key, b);
    }
    let suppressedBefore = 0;
    if (now - b.windowStart >= s.windowMs) {
      suppressedBefore = b.suppressed;
      b.windowStart = now;
      b.count = 0;
      b.suppressed = 0;
    }
    if (b.count >= s.burst) {
      b.suppressed++;
      return;
    }
    b.count++;
    const entry: Record<string, unknown> = {
      time: new Date(now).toISOString(),
      level,
      msg,
      ...this.bindings,
      ...fields,
    };
    if (suppressedBefore > 0) entry.suppressed = suppressedBefore;
    let line: string;
    try {
      line = JSON.stringify(entry, errorReplacer);
    } catch {
      line = JSON.stringify({ time: entry.time, level, msg });
    }
    s.write(line + '\n');
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error)
    return {
      name: value.name,
      message: value.message,
      code: (value as NodeJS.ErrnoException).code,
    };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function createLogger(opts: LoggerOptions = {}): Logger & { setLevel(level: Level): void } {
  const shared = new Shared(
    opts.level ?? 'info',
    opts.burst ?? 5,
    opts.windowMs ?? 60_000,
    opts.write ?? ((line) => process.stderr.write(line)),
  );
  const root = new JsonLogger(shared, {});
  return Object.assign(root, {
    setLevel(level: Level) {
      shared.level = level;
    },
  });
}

/** A logger that discards everything (tests, `schema`). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
};

let processLog: Logger | undefined;

/**
 * Route what the process would otherwise print to stderr as text through `log`, as JSON lines:
 * Node's warnings (`process.emitWarning`, by Node or a dependency, such as the AWS SDK's
 * multi-line Node version notice; Node's own printer is replaced) and dependencies'
 * `console.warn` / `console.error`. Called first by the CLI with a bootstrap logger, then again
 * with the daemon's (its level and rate limits). With `--no-warnings` (NODE_NO_WARNINGS=1) Node
 * installs no printer and warnings stay silent, as they would without shiplog.
 */
export function captureProcessOutput(log: Logger): void {
  const first = processLog === undefined;
  processLog = log;
  if (!first) return;
  const printers = process.listeners('warning');
  if (printers.length > 0) {
    for (const l of printers) process.off('warning', l);
    process.on('warning', (w: Error & { code?: string; detail?: string }) => {
      processLog!.warn(w.message, {
        source: 'node-warning',
        warning: w.name,
        ...(w.code !== undefined && { code: w.code }),
        ...(w.detail !== undefined && { detail: w.detail }),
      });
    });
  }
  console.warn = (...args: unknown[]) => processLog!.warn(format(...args), { source: 'console' });
  console.error = (...args: unknown[]) => processLog!.error(format(...args), { source: 'console' });
}
