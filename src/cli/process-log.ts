// Imported by main.ts right after v8-flags.ts, before any dependency is loaded: from here on,
// what the process itself would print to stderr as text comes out as JSON lines through a
// bootstrap logger — Node's and dependencies' warnings, console.warn/error, and an error thrown
// before the daemon's logger exists (a dependency failing to load, a bug at start-up), which
// would otherwise be Node's multi-line stack trace. `run` hands over to the daemon's logger and
// handlers once the daemon exists.

import { captureProcessOutput, createLogger } from '../telemetry/logger.js';

export const bootLog = createLogger();
captureProcessOutput(bootLog);

function fatal(what: string, e: unknown): void {
  bootLog.error(what, {
    error: e instanceof Error ? e.message : String(e),
    ...(e instanceof Error && { stack: e.stack }),
  });
  process.exit(1);
}

const onException = (e: unknown): void => fatal('uncaught exception; exiting', e);
const onRejection = (e: unknown): void => fatal('unhandled rejection; exiting', e);
process.on('uncaughtException', onException);
process.on('unhandledRejection', onRejection);

/** The daemon installs its own handlers (stop, deliver, checkpoint): remove these. */
export function releaseFatalHandlers(): void {
  process.off('uncaughtException', onException);
  process.off('unhandledRejection', onRejection);
}
