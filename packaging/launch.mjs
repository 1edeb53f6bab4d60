// How shiplog's node is started (issue #22, docs/deployment.md "Memory"): the settings a process
// cannot change once it runs, in ONE place for both artefacts.
//
// - GLIBC_TUNABLES (kept if already set): fixed malloc trim threshold (glibc otherwise raises it
//   after large frees and keeps the memory) and two malloc arenas instead of one per thread.
// - --max-semi-space-size (unless NODE_OPTIONS or node's own arguments set it): V8 sizes the
//   young generation when the isolate is created; by default it grows to 2 x 16 MiB while the
//   modules load and never shrinks.
//
// bin/shiplog.js (dist) re-executes itself once with them (process.execve: same pid, same stdio,
// so systemd, signals and the tests' pids are unchanged; Node >= 22.15, otherwise it runs as it
// was started); the bundle's sh launcher line (packaging/bundle.mjs) sets them before `exec node`.
// SHIPLOG_V8_DEFAULTS=0 turns both off. Plain JavaScript, no dependency: bin/shiplog.js imports it
// before anything else.

/** The glibc malloc settings, when GLIBC_TUNABLES is not already set. */
export const GLIBC_TUNABLES = 'glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=2';
/**
 * The V8 young-generation ceiling, MiB per semi-space (docs/deployment.md, Memory; Node 24.22):
 * W5 RSS 16 (V8's default) -> 8: -4 MB, -> 4: -8 MB; W2 CPU per line 8: +2.6 % (median, within
 * the noise), 4: +7 % (more survivors promoted to the old generation). 8 is the trade-off.
 */
export const SEMI_SPACE_MB = 8;
export const SEMI_SPACE_FLAG = `--max-semi-space-size=${SEMI_SPACE_MB}`;

const SETS_SEMI_SPACE = /(^|\s)--max[-_]semi[-_]space[-_]size\b/;

/**
 * What node needs besides how it was started: `{ env, args }` (env: the variables to add; args:
 * node options to put before the script), or undefined when nothing is missing (already
 * launched, or SHIPLOG_V8_DEFAULTS=0).
 */
export function launchSettings(env = process.env, execArgv = process.execArgv) {
  if (env.SHIPLOG_V8_DEFAULTS === '0') return undefined;
  const add = {};
  const args = [];
  if (env.GLIBC_TUNABLES === undefined) add.GLIBC_TUNABLES = GLIBC_TUNABLES;
  if (
    !SETS_SEMI_SPACE.test(env.NODE_OPTIONS ?? '') &&
    !execArgv.some((a) => SETS_SEMI_SPACE.test(a))
  )
    args.push(SEMI_SPACE_FLAG);
  if (Object.keys(add).length === 0 && args.length === 0) return undefined;
  return { env: add, args };
}

/**
 * Re-execute this process with the launch settings, once (the re-executed process finds them
 * set). Returns only when it does not re-execute: settings already there, turned off, or
 * process.execve unavailable (Node < 22.15, Windows, a worker thread).
 */
export function relaunch() {
  const s = launchSettings();
  if (!s || typeof process.execve !== 'function') return;
  const env = { ...process.env, ...s.env };
  const argv = [process.execPath, ...s.args, ...process.execArgv, ...process.argv.slice(1)];
  try {
    process.execve(process.execPath, argv, env);
  } catch {
    // execve refused (e.g. a seccomp profile): run as started.
  }
}

/**
 * The bundle's second line, run by sh when the bundle is started as a program: `exec node "$0"`
 * with the same settings (a shell cannot read node's own arguments; NODE_OPTIONS is checked).
 */
export function shLauncher() {
  return [
    '[ "$SHIPLOG_V8_DEFAULTS" = 0 ] && exec node "$0" "$@";',
    `export GLIBC_TUNABLES="\${GLIBC_TUNABLES-${GLIBC_TUNABLES}}";`,
    `case " $NODE_OPTIONS " in *" --max-semi-space-size"*|*" --max_semi_space_size"*) exec node "$0" "$@";; esac;`,
    `exec node ${SEMI_SPACE_FLAG} "$0" "$@"`,
  ].join(' ');
}
