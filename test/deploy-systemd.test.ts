// systemd/shiplog.service: hardened, validates before start and reload (its ExecStartPre and
// ExecReload commands work with the bundle), passes `systemd-analyze verify`, gives
// shutdown_timeout and memory room for every node-side config; shiplog.sysusers.

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { ROOT } from './helpers/proc.js';
import {
  bytes,
  EXAMPLES_DIR,
  install,
  installBundle,
  loadConfig,
  ms,
  parseUnit,
  run,
  shiplog,
  systemdSize,
  UNIT,
  which,
  EXAMPLES,
} from './helpers/deploy.js';

beforeAll(() => installBundle({ rebuild: false }), 150_000);

describe('systemd/shiplog.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  const unit = parseUnit(text);
  const svc = unit.Service;
  const one = (k: string): string => {
    expect(svc[k], k).toHaveLength(1);
    return svc[k][0];
  };

  it('runs as the shiplog user, validates before start and reload, and is hardened', () => {
    expect(one('Type')).toBe('simple');
    expect(one('User')).toBe('shiplog');
    expect(one('SupplementaryGroups').split(/\s+/)).toEqual(
      expect.arrayContaining(['adm', 'systemd-journal']),
    );
    const validate = '/usr/bin/shiplog validate -q -c /etc/shiplog/shiplog.yaml';
    expect(one('ExecStartPre')).toBe(validate);
    expect(one('ExecStart')).toBe('/usr/bin/shiplog run -c /etc/shiplog/shiplog.yaml');
    expect(svc.ExecReload).toEqual([validate, '/bin/kill -HUP $MAINPID']);
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('78');
    expect(one('StateDirectory')).toBe('shiplog');
    expect(one('EnvironmentFile')).toBe('-/etc/default/shiplog');
    expect(one('KillSignal')).toBe('SIGTERM');
    for (const [k, v] of Object.entries({
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      NoNewPrivileges: 'yes',
      PrivateTmp: 'yes',
      CapabilityBoundingSet: '',
    }))
      expect(one(k), k).toBe(v);
    expect(one('ReadOnlyPaths').split(/\s+/)).toContain('/var/log');
    // V8 needs writable+executable pages for its JIT: this setting makes node abort at start.
    expect(svc.MemoryDenyWriteExecute ?? []).not.toContain('yes');
    expect(unit.Install.WantedBy).toEqual(['multi-user.target']);
  });

  it('gives shutdown_timeout room and memory headroom for every node-side config', () => {
    const configs = [
      path.join(ROOT, 'conf', 'shiplog.yaml'),
      ...EXAMPLES.map((f) => path.join(EXAMPLES_DIR, f)),
    ];
    const stop = ms(one('TimeoutStopSec'), '90s');
    const max = systemdSize(one('MemoryMax'));
    for (const f of configs) {
      const s = loadConfig(f).service ?? {};
      // The schema default is 30s / 256MiB.
      const shutdown = ms(s.shutdown_timeout as string | undefined, '30s');
      expect(stop, f).toBeGreaterThanOrEqual(shutdown + 5_000);
      expect(max, f).toBeGreaterThanOrEqual(
        2 * bytes(s.memory_limit as string | undefined, '256MiB'),
      );
    }
  });

  const analyze = which('systemd-analyze');

  /** The unit in a temp dir with /usr/bin/shiplog pointing at the real (bundled) shiplog. */
  function stagedUnit(extra = ''): string {
    const dir = tempDir('shiplog-unit-');
    const file = path.join(dir, 'shiplog.service');
    writeFileSync(file, text.replaceAll('/usr/bin/shiplog', install.bin) + extra);
    return file;
  }

  it('passes systemd-analyze verify (and the check catches a bad key)', (ctx) => {
    if (!analyze)
      ctx.skip('systemd-analyze not installed (Debian: apt-get install systemd; .ci/run does)');
    const ok = run(analyze!, ['verify', '--man=no', stagedUnit()]);
    expect(ok.stderr.split('\n').filter((l) => l.includes('shiplog'))).toEqual([]);
    expect(ok.status).toBe(0);
    const bad = run(analyze!, ['verify', '--man=no', stagedUnit('Bogus=1\n')]);
    expect(bad.stderr).toMatch(/Unknown key.*Bogus/i);
  });

  it('has a low systemd-analyze security exposure', (ctx) => {
    if (!analyze) ctx.skip('systemd-analyze not installed');
    const r = run(analyze!, ['security', '--offline=true', stagedUnit()]);
    if (/unrecognized option/.test(r.stderr))
      ctx.skip('systemd-analyze security --offline needs systemd ≥ 250');
    const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2.5);
  });

  it('ExecStartPre/ExecReload validation accepts a good config and exits 78 on a bad one', () => {
    const dir = tempDir();
    const good = path.join(dir, 'good.yaml');
    copyFileSync(path.join(ROOT, 'conf', 'shiplog.yaml'), good);
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'service: { shutdown_timeout: soon }\npipeline: { inputs: [], outputs: [] }\n',
    );
    const argv = (cfg: string): string[] =>
      one('ExecStartPre').replace('/etc/shiplog/shiplog.yaml', cfg).split(' ').slice(1);
    const r = shiplog(argv(good));
    expect(r.stdout + r.stderr).toBe(''); // -q: nothing in the journal when fine
    expect(r.status).toBe(0);
    expect(shiplog(argv(bad)).status).toBe(78);
  });

  it('systemd/shiplog.sysusers creates the user and its groups', (ctx) => {
    const sysusers = which('systemd-sysusers');
    if (!sysusers) ctx.skip('systemd-sysusers not installed');
    const root = tempDir('shiplog-root-');
    mkdirSync(path.join(root, 'etc'));
    const r = run(sysusers!, [`--root=${root}`, path.join(ROOT, 'systemd', 'shiplog.sysusers')]);
    expect(r.status, r.stderr).toBe(0);
    const passwd = readFileSync(path.join(root, 'etc', 'passwd'), 'utf8');
    expect(passwd).toMatch(/^shiplog:x:\d+:\d+:[^:]*:\/var\/lib\/shiplog:\/usr\/sbin\/nologin$/m);
    const group = readFileSync(path.join(root, 'etc', 'group'), 'utf8');
    expect(group).toMatch(/^adm:x:\d+:.*\bshiplog\b/m);
    expect(group).toMatch(/^systemd-journal:x:\d+:.*\bshiplog\b/m);
  });
});
