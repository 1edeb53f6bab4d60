// packaging/Dockerfile (no engine here: invariants only; its HEALTHCHECK runs in
// deploy-bundle.test.ts): a pinned Node LTS slim base, the bundle, non-root, /healthz checked,
// only existing files copied.

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/proc.js';
import { dockerHealthcheck, dockerInstructions, loadConfig } from './helpers/deploy.js';

describe('packaging/Dockerfile', () => {
  const ins = dockerInstructions();

  it('builds FROM a pinned Node LTS slim tag, never latest', () => {
    const froms = ins.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(1);
    for (const f of froms) {
      const image = f.args.split(/\s+/)[0];
      expect(image).not.toMatch(/latest/);
      const m = /^node:(\d+)\.\d+\.\d+-(?:\w+-)?slim(@sha256:[0-9a-f]{64})?$/.exec(image);
      expect(m, image).not.toBeNull();
      expect(Number(m![1]) % 2, 'even major = LTS line').toBe(0);
    }
  });

  it('ships the bundle, runs as non-root, health-checks /healthz, and copies only what exists', () => {
    const text = ins.map((i) => `${i.op} ${i.args}`).join('\n');
    expect(text).toMatch(/RUN npm run bundle/);
    expect(text).toMatch(/dist\/shiplog\.mjs/);
    const users = ins.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args).not.toMatch(/^(0|root)\b/);
    const env = ins
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    const url = /SHIPLOG_HEALTHCHECK_URL=(\S+)/.exec(env)?.[1] ?? '';
    expect(dockerHealthcheck().join(' ')).toContain('SHIPLOG_HEALTHCHECK_URL');
    // The image's default config listens where the HEALTHCHECK looks.
    const def = loadConfig(path.join(ROOT, 'conf', 'shiplog.yaml')).service?.http?.listen ?? '';
    const port = /:(?:-)?(\d+)\}?$/.exec(def)?.[1];
    expect(url).toBe(`http://127.0.0.1:${port}/healthz`);
    expect(text).toMatch(/^ENTRYPOINT \[.*"\/usr\/local\/bin\/shiplog"\]$/m);
    const ignore = readFileSync(path.join(ROOT, 'packaging', 'Dockerfile.dockerignore'), 'utf8');
    for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const srcs = c.args.split(/\s+/).slice(0, -1);
      for (const s of srcs) {
        expect(existsSync(path.join(ROOT, s)), s).toBe(true);
        const base = s.replace(/\/$/, '');
        const included = ignore
          .split('\n')
          .filter((l) => l.startsWith('!'))
          .map((l) => l.slice(1).trim())
          .some((p) => p === base || (p.endsWith('/**') && `${base}/`.startsWith(p.slice(0, -2))));
        expect(included, `${s} is excluded by Dockerfile.dockerignore`).toBe(true);
      }
    }
  });
});
