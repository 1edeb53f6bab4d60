// How shiplog's node is started (issue #22, docs/deployment.md "Memory"): what a process cannot
// change once it runs, in ONE place for both artefacts.
//
// - GLIBC_TUNABLES (kept if already set): fixed malloc trim threshold (glibc otherwise raises it
//   after large frees and keeps the memory) and two malloc arenas instead of one per thread.
//
// bin/shiplog.js (dist) re-executes itself once with it (process.execve: same pid, same stdio,
// so systemd, signals and the tests' pids are unchanged; Node >= 22.15, otherwise it runs as it
// was started); the bundle's sh launcher line (packaging/bundle.mjs) sets it before `exec node`.
// SHIPLOG_V8_DEFAULTS=0 turns both off. Plain JavaScript, no dependency: bin/shiplog.js imports it
// before anything else.
//
// Measured and not set (Node 24.22, docs/deployment.md): --max-semi-space-size. V8's young
// generation grows to 2 x 16 MiB while the modules load and never shrinks at W5's rate; capped at
// 8 MiB, W5 RSS -4 MB but W2 +3.1 % CPU per line (median of 7 alternating runs) and +7 MB peak
// RSS (more survivors promoted to the old generation); at 4, W5 -8 MB, W2 +7 % CPU.
// NODE_OPTIONS=--max-semi-space-size=N still applies for an operator who wants that trade.

/** The glibc malloc settings, when GLIBC_TUNABLES is not already set. */
export const GLIBC_TUNABLES = 'glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2';

/**
 * What the environment needs besides what it has (the variables to add), or undefined when
 * nothing is missing (already launched, or SHIPLOG_V8_DEFAULTS=0).
 */
export function launchEnv(env = process.env) {
  if (env.SHIPLOG_V8_DEFAULTS === '0' || env.GLIBC_TUNABLES !== undefined) return undefined;
  return { GLIBC_TUNABLES };
}

/**
 * Re-execute this process with the launch environment, once (the re-executed process finds it
 * set). Returns only when it does not re-execute: already set, turned off, or process.execve
 * unavailable (Node < 22.15, Windows, a worker thread).
 */
export function relaunch() {
  const add = launchEnv();
  if (!add || typeof process.execve !== 'function') return;
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
  try {
    process.execve(process.execPath, argv, { ...process.env, ...add });
  } catch {
    // execve refused (e.g. a seccomp profile): run as started.
  }
}

/** The bundle's second line, run by sh when the bundle is started as a program. */
export function shLauncher() {
  return [
    '[ "$SHIPLOG_V8_DEFAULTS" = 0 ] && exec node "$0" "$@";',
    `export GLIBC_TUNABLES="\${GLIBC_TUNABLES-${GLIBC_TUNABLES}}";`,
    'exec node "$0" "$@"',
  ].join(' ');
}
