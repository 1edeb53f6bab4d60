// The tools under test and how to launch one run of each: shiplog (this repo, `node bin/shiplog.js
// run`) and Fluent Bit (the binary in $FLUENT_BIT with the configs in bench/fluent-bit/; W2 uses
// the anchor's own fluent-bit-w2.conf when it sits beside the binary).

import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, waitForStderr } from './proc.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// SHIPLOG_BIN: measure another build (e.g. a worktree of another commit) with this harness.
const BIN = path.resolve(process.env.SHIPLOG_BIN ?? path.join(ROOT, 'bin', 'shiplog.js'));
// SHIPLOG_NODE: the Node.js that runs shiplog (default: the one running the harness).
const NODE = process.env.SHIPLOG_NODE ?? process.execPath;
const FB_CONF_DIR = path.join(ROOT, 'bench', 'fluent-bit');

export const shiplog = {
  name: 'shiplog',
  /** `<commit>[+dirty] <bin> on node <version>` of the build measured. */
  version() {
    const cwd = path.dirname(path.dirname(BIN));
    const git = (...a) =>
      execFileSync('git', a, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const node = `on node ${execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()}`;
    try {
      const dirty = git('status', '--porcelain', '--', 'src').length > 0 ? '+dirty' : '';
      return `${git('rev-parse', '--short', 'HEAD')}${dirty} ${BIN} ${node}`;
    } catch {
      return `${BIN} ${node}`;
    }
  },
  /** Spawn shiplog on `run.shiplog` (YAML); resolves once it logged "shiplog started". */
  async launch(run, ctx) {
    const cfg = path.join(ctx.runDir, 'shiplog.yaml');
    writeFileSync(cfg, run.shiplog);
    const nodeArgs = ctx.profDir ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profDir}`] : [];
    const proc = startProcess(NODE, [...nodeArgs, BIN, 'run', '-c', cfg], {
      stdout: run.stdout ?? 'ignore',
    });
    run.onSpawn?.(proc.child);
    try {
      const http = await waitForStderr(proc, /"msg":"shiplog started".*?"http":"([^"]+)"/);
      ctx.metricsBase = `http://${http}`;
    } catch (e) {
      proc.child.kill('SIGKILL');
      throw e;
    }
    return { proc, startup_s: +((performance.now() - proc.t0) / 1000).toFixed(2) };
  },
};

/** Fluent Bit from $FLUENT_BIT, or undefined when it is not set. */
export function fluentBit(bin = process.env.FLUENT_BIT) {
  if (!bin) return undefined;
  const anchorDir = path.dirname(path.resolve(bin));
  const confFor = (name) =>
    name === 'w2.conf' && existsSync(path.join(anchorDir, 'fluent-bit-w2.conf'))
      ? { conf: path.join(anchorDir, 'fluent-bit-w2.conf'), dir: anchorDir }
      : { conf: path.join(FB_CONF_DIR, name), dir: FB_CONF_DIR };
  return {
    name: 'fluent-bit',
    version: () => execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0].trim(),
    confFor,
    /** Spawn Fluent Bit on `run.fluentbit.conf`; it reads at once, there is no start-up to await. */
    async launch(run) {
      const { conf, dir } = confFor(run.fluentbit.conf);
      const file = run.fluentbit.env.IN_PATH;
      const proc = startProcess(bin, ['-c', conf], {
        env: { FB_DIR: dir, W2_FILE: file, ...run.fluentbit.env },
        stdout: run.stdout ?? 'ignore',
      });
      run.onSpawn?.(proc.child);
      return { proc, conf: path.relative(ROOT, conf) };
    },
  };
}
