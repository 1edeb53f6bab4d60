// How shiplog's node is started (packaging/launch.mjs, issue #22): the malloc tunables, set by
// bin/shiplog.js re-executing itself (same pid) and by the bundle's sh launcher line; the lean
// dependencies (packaging/lean.mjs) both artefacts resolve.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runShiplog } from '../helpers/proc.js';
// @ts-expect-error plain JavaScript module without types
import * as launch from '../../packaging/launch.mjs';
// @ts-expect-error plain JavaScript module without types
import * as lean from '../../packaging/lean.mjs';

const { GLIBC_TUNABLES, V8_FLAGS, launchEnv, launchFlags, shLauncher } = launch as {
  GLIBC_TUNABLES: string;
  V8_FLAGS: string[];
  launchEnv: (env: Record<string, string | undefined>) => Record<string, string> | undefined;
  launchFlags: (execArgv: string[], env: Record<string, string | undefined>) => string[];
  shLauncher: () => string;
};
const { LEAN, STAND_INS, leanNamesMissing } = lean as {
  LEAN: Record<string, { file: string; names: string[] }>;
  STAND_INS: Array<[string, string, string]>;
  leanNamesMissing: (text: string) => string[];
};

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'shiplog-launch-'));
  dirs.push(d);
  return d;
}

describe('launchFlags', () => {
  it('adds the V8 flags the operator did not give (command line or NODE_OPTIONS); none with SHIPLOG_V8_DEFAULTS=0', () => {
    expect(V8_FLAGS).toEqual(['--max-semi-space-size=4', '--heap-growing-percent=50']);
    expect(launchFlags([], {})).toEqual(V8_FLAGS);
    expect(launchFlags(['--max_semi_space_size=16'], {})).toEqual(['--heap-growing-percent=50']);
    expect(
      launchFlags(['--heap_growing_percent=0'], {
        NODE_OPTIONS: '--trace-gc  --max-semi-space-size=2',
      }),
    ).toEqual([]);
    expect(launchFlags(['--cpu-prof'], { NODE_OPTIONS: '--trace-gc' })).toEqual(V8_FLAGS);
    expect(launchFlags([], { SHIPLOG_V8_DEFAULTS: '0' })).toEqual([]);
  });
});

describe('launchEnv', () => {
  it("adds the malloc tunables; keeps the operator's; nothing with SHIPLOG_V8_DEFAULTS=0", () => {
    expect(launchEnv({})).toEqual({ GLIBC_TUNABLES });
    // Set (by the operator, or by the first exec): no second re-exec.
    expect(launchEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' })).toBeUndefined();
    expect(launchEnv({ GLIBC_TUNABLES })).toBeUndefined();
    expect(launchEnv({ SHIPLOG_V8_DEFAULTS: '0' })).toBeUndefined();
  });
});

/** /proc/<pid>: the command line and environment of a running process. */
function procOf(pid: number): { argv: string[]; env: Record<string, string> } {
  const split = (f: string): string[] =>
    readFileSync(`/proc/${pid}/${f}`, 'utf8').split('\0').filter(Boolean);
  return {
    argv: split('cmdline'),
    env: Object.fromEntries(
      split('environ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    ),
  };
}

describe.skipIf(process.platform !== 'linux')('bin/shiplog.js re-executes itself once', () => {
  const demo = (): string => {
    const d = tmp();
    const cfg = path.join(d, 'shiplog.yaml');
    writeFileSync(
      cfg,
      `service:\n  data_dir: ${d}/data\npipeline:\n  inputs:\n    - type: demo\n      rate: 1\n  outputs:\n    - type: stdout\n`,
    );
    return cfg;
  };

  it('with the settings, keeping its pid, arguments and signals', async () => {
    const p = runShiplog(['run', '-c', demo()], { env: { GLIBC_TUNABLES: undefined } });
    await p.waitForLog('shiplog started');
    const { argv, env } = procOf(p.child.pid!);
    expect(argv.slice(1)).toEqual([
      ...V8_FLAGS,
      path.join(ROOT, 'bin', 'shiplog.js'),
      'run',
      '-c',
      argv.at(-1),
    ]);
    // glibc (2.36) parses the variable in place: /proc shows it cut at the first ':'.
    expect([GLIBC_TUNABLES, GLIBC_TUNABLES.split(':')[0]]).toContain(env.GLIBC_TUNABLES);
    // Once: the pid the parent spawned is the daemon, and SIGTERM stops it cleanly.
    p.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
  });

  it("not with SHIPLOG_V8_DEFAULTS=0; the operator's GLIBC_TUNABLES and V8 flags kept", async () => {
    const bin = path.join(ROOT, 'bin', 'shiplog.js');
    for (const [env, args] of [
      [{ SHIPLOG_V8_DEFAULTS: '0', GLIBC_TUNABLES: undefined }, [bin]],
      [{ GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' }, [...V8_FLAGS, bin]],
      [
        { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1', NODE_OPTIONS: '--max-semi-space-size=2' },
        ['--heap-growing-percent=50', bin],
      ],
    ] as const) {
      const p = runShiplog(['run', '-c', demo()], { env });
      await p.waitForLog('shiplog started');
      const seen = procOf(p.child.pid!);
      expect(seen.argv.slice(1, args.length + 1)).toEqual(args);
      expect(seen.env.GLIBC_TUNABLES).toBe(env.GLIBC_TUNABLES); // (no ':' in these)
      p.kill('SIGTERM');
      expect((await p.exited).code).toBe(0);
    }
  });
});

describe('the bundle launcher line (sh)', () => {
  /** Run the launcher with a fake `node` that prints its arguments and GLIBC_TUNABLES. */
  function launchWith(env: Record<string, string>): string {
    const d = tmp();
    const fake = path.join(d, 'node');
    writeFileSync(fake, '#!/bin/sh\necho "args=$*"\necho "glibc=${GLIBC_TUNABLES-unset}"\n');
    chmodSync(fake, 0o755);
    const script = path.join(d, 'shiplog');
    writeFileSync(script, `#!/bin/sh\n${shLauncher()}\n`);
    chmodSync(script, 0o755);
    return execFileSync(script, ['run', '-c', 'a b.yaml'], {
      env: { PATH: `${d}:/usr/bin:/bin`, ...env },
      encoding: 'utf8',
    });
  }

  it('execs node with the settings and the arguments as given', () => {
    const out = launchWith({});
    expect(out).toMatch(
      /^args=--max-semi-space-size=4 --heap-growing-percent=50 \S*shiplog run -c a b\.yaml\n/,
    );
    expect(out).toContain(`glibc=${GLIBC_TUNABLES}\n`);
  });

  it('keeps GLIBC_TUNABLES; SHIPLOG_V8_DEFAULTS=0 is plain node', () => {
    const kept = launchWith({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' });
    expect(kept).toContain('glibc=glibc.malloc.arena_max=1\n');
    // The operator's semi-space flag (NODE_OPTIONS, read by node itself): none added.
    const own = launchWith({ NODE_OPTIONS: '--max-semi-space-size=16' });
    expect(own).toMatch(/^args=--heap-growing-percent=50 \S*shiplog run -c a b\.yaml\n/);
    const plain = launchWith({ SHIPLOG_V8_DEFAULTS: '0' });
    expect(plain).toMatch(/^args=\S*shiplog run -c a b\.yaml\n/);
    expect(plain).toContain('glibc=unset\n');
  });

  it('is the one packaging/bundle.mjs writes', () => {
    expect(readFileSync(path.join(ROOT, 'packaging', 'bundle.mjs'), 'utf8')).toContain(
      '${shLauncher()}',
    );
  });
});

describe('lean dependencies (packaging/lean.mjs)', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? sources(path.join(dir, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
          ? [path.join(dir, e.name)]
          : [],
    );

  it('src/ imports only the names the lean modules export', () => {
    const missing = sources(path.join(ROOT, 'src')).flatMap((f) =>
      leanNamesMissing(readFileSync(f, 'utf8')).map((m) => `${path.relative(ROOT, f)}: ${m}`),
    );
    expect(missing).toEqual([]);
    expect(leanNamesMissing("import { fetch } from 'undici';")).toEqual(['undici: fetch']);
    expect(leanNamesMissing("import client from 'prom-client';")).toEqual([
      'prom-client: default or namespace import',
    ]);
  });

  it('each lean module exports exactly its names, the package’s own objects', async () => {
    for (const [pkg, { file, names }] of Object.entries(LEAN)) {
      const mod = (await import(path.join(ROOT, 'packaging', file))) as Record<string, unknown>;
      expect(Object.keys(mod).sort(), pkg).toEqual([...names].sort());
      const full = (await import(pkg)) as Record<string, unknown>;
      for (const n of names) if (n !== 'request') expect(mod[n], `${pkg}.${n}`).toBe(full[n]);
    }
  });

  it('each stand-in replaces an import its parent module still makes', () => {
    for (const [parent, spec, file] of STAND_INS) {
      const text = readFileSync(path.join(ROOT, parent), 'utf8');
      expect(text.includes(`'${spec}'`) || text.includes(`"${spec}"`), `${parent}: ${spec}`).toBe(
        true,
      );
      expect(readFileSync(path.join(ROOT, 'packaging', file), 'utf8').length).toBeGreaterThan(0);
    }
  });
});
