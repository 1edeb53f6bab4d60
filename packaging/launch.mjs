// How shiplog's node is started (issue #22, docs/deployment.md "Memory"): what a process cannot
// change once it runs, in ONE place for both artefacts.
//
// - GLIBC_TUNABLES (kept if already set): fixed malloc trim threshold (glibc otherwise raises it
//   after large frees and keeps the memory) and two malloc arenas instead of one per thread.
// - V8_FLAGS (each unless the operator gave the same flag, on node's command line or in
//   NODE_OPTIONS):
//   --max-semi-space-size=4. V8's young generation grows to 2 x 16 MiB while the modules load and
//   never shrinks at a steady rate (W5); at 4 MiB, W5 RSS 118-119 -> 100-102 MB (W5-like probe,
//   Node 24.22, measured with the file input's coalesced reads). Its price at W2 (more survivors
//   promoted): see docs/deployment.md.
//   --heap-growing-percent=50: the old generation's next limit is 1.5 x what survived the last
//   full GC (V8 otherwise picks up to 4x on a large host). During a burst (W2) most of what is
//   promoted is garbage, above all the snappy-compressed push bodies (copied into ArrayBuffers,
//   freed only by a full GC): W2 peak RSS 164-168 -> 124-135 MB; its price is the GC helper
//   threads' CPU, W2 +5-7 % CPU per line (docs/deployment.md). Node refuses this one in
//   NODE_OPTIONS: `node --heap-growing-percent=0 bin/shiplog.js` or SHIPLOG_V8_DEFAULTS=0.
//
// bin/shiplog.js (dist) re-executes itself once with them (process.execve: same pid, same stdio,
// so systemd, signals and the tests' pids are unchanged; Node >= 22.15, otherwise it runs as it
// was started); the bundle's sh launcher line (packaging/bundle.mjs) sets them before `exec node`.
// SHIPLOG_V8_DEFAULTS=0 turns both off. Plain JavaScript, no dependency: bin/shiplog.js imports it
// before anything else.
//
// Measured and not set (Node 24.22): --single-threaded-gc (W5 CPU unchanged within noise; W2
// peak RSS 160 -> 407 MB and -25 % lines/s: no concurrent marking, the old generation grows
// before it is collected), also with --max-semi-space-size=4 (431 MB).

/** The glibc malloc settings, when GLIBC_TUNABLES is not already set. */
export const GLIBC_TUNABLES = 'glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2';

/**
 * V8 flags node is started with (each unless the operator gave one of the same name on the
 * command line or in NODE_OPTIONS).
 */
export const V8_FLAGS = ['--max-semi-space-size=4', '--heap-growing-percent=50'];

/** The flag's name: `--max-semi-space-size=4` → `--max-semi-space-size` (`_` as `-`). */
const flagName = (f) => f.split('=')[0].replaceAll('_', '-');

/** The V8_FLAGS missing from `execArgv` and NODE_OPTIONS. */
export function launchFlags(execArgv = process.execArgv, env = process.env) {
  if (env.SHIPLOG_V8_DEFAULTS === '0') return [];
  const given = new Set(
    [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].filter(Boolean).map(flagName),
  );
  return V8_FLAGS.filter((f) => !given.has(flagName(f)));
}

/**
 * What the environment needs besides what it has (the variables to add), or undefined when
 * nothing is missing (already launched, or SHIPLOG_V8_DEFAULTS=0).
 */
export function launchEnv(env = process.env) {
  if (env.SHIPLOG_V8_DEFAULTS === '0' || env.GLIBC_TUNABLES !== undefined) return undefined;
  return { GLIBC_TUNABLES };
}

/**
 * Re-execute this process with the launch environment and flags, once (the re-executed process
 * finds them set). Returns only when it does not re-execute: nothing missing, turned off, or
 * process.execve unavailable (Node < 22.15, Windows, a worker thread).
 */
export function relaunch() {
  const add = launchEnv();
  const flags = launchFlags();
  if ((!add && flags.length === 0) || typeof process.execve !== 'function') return;
  const argv = [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)];
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
    // Each flag unless NODE_OPTIONS has one of its name (`_` spellings are not matched here).
    'f=;',
    ...V8_FLAGS.map(
      (f) => `case " $NODE_OPTIONS " in *" ${flagName(f)}"*) ;; *) f="$f ${f}";; esac;`,
    ),
    'exec node $f "$0" "$@"',
  ].join(' ');
}
