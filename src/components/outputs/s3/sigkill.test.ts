// shiplog as a real process (bin/shiplog.js → dist/; run `npx tsc -p tsconfig.build.json` first),
// file input → s3 output: SIGKILL while a multipart upload is in progress, restart on the same
// data_dir, and every line of the file must be in some object (duplicates allowed, loss not).

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runShiplog, ROOT, type Proc } from '../../../../test/helpers/proc.js';
import { tempDir } from '../../../../test/helpers/harness.js';
import { startS3, type S3Receiver } from '../../../../test/receivers/s3.js';

const built =
  existsSync(path.join(ROOT, 'dist/components/outputs/s3/index.js')) &&
  existsSync(path.join(ROOT, 'dist/components/inputs/file/index.js'));

describe.skipIf(!built)('s3 output, real process', () => {
  let s3: S3Receiver;
  const procs: Proc[] = [];
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.kill('SIGKILL');
    await s3?.close();
  });

  it('SIGKILL mid-upload, restart: every record is in some object', async () => {
    const dir = tempDir('shiplog-s3-kill-');
    const logs = path.join(dir, 'logs');
    mkdirSync(logs);
    const N = 250_000; // ~30 MB: the first object (24 MiB) is a 3-part multipart upload
    const lines: string[] = [];
    for (let i = 0; i < N; i++)
      lines.push(JSON.stringify({ n: i, msg: 'agent step completed', pad: 'x'.repeat(60) }));
    writeFileSync(path.join(logs, 'app.log'), lines.join('\n') + '\n');
    const cfg = path.join(dir, 'shiplog.yaml');
    writeFileSync(
      cfg,
      stringify({
        service: {
          data_dir: path.join(dir, 'data'),
          memory_limit: '256MiB',
          shutdown_timeout: '10s',
        },
        pipeline: {
          inputs: [
            {
              type: 'file',
              id: 'logs',
              tag: 'app',
              paths: [path.join(logs, '*.log')],
              read_from: 'head',
            },
          ],
          outputs: [
            {
              type: 's3',
              id: 'archive',
              bucket: s3.bucket,
              endpoint: s3.endpoint,
              force_path_style: true,
              checksum: 'when_required',
              key: 'kill/{tag}/{uuid}.ndjson',
              compression: 'none',
              batch: { max_bytes: '24MiB', max_wait: '2s' },
              buffer: { max_bytes: '128MiB' },
            },
          ],
        },
      }),
    );
    const env = {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_EC2_METADATA_DISABLED: 'true',
    };

    // Run 1: kill as soon as a part of a multipart upload was sent.
    const first = runShiplog(['run', '-c', cfg], { env });
    procs.push(first);
    const end = Date.now() + 30_000;
    while (!s3.requests.some((r) => r.startsWith('PUT') && r.includes('partNumber='))) {
      if (Date.now() > end || first.child.exitCode !== null)
        throw new Error(`no multipart upload seen; stderr:\n${first.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    first.kill('SIGKILL');
    await first.exited;
    const completedBeforeKill = s3.requests.filter(
      (r) => r.startsWith('POST') && r.includes('uploadId='),
    ).length;

    // Run 2: same data_dir; the unacknowledged lines are read again.
    const second = runShiplog(['run', '-c', cfg], { env });
    procs.push(second);
    const seen = new Uint8Array(N);
    const read = new Set<string>();
    let missing = N;
    let duplicates = 0;
    const deadline = Date.now() + 60_000;
    while (missing > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      for (const key of await s3.keys()) {
        if (!key.startsWith('kill/') || read.has(key)) continue;
        read.add(key);
        const text = (await s3.get(key)).body.toString('utf8');
        for (const m of text.matchAll(/\\"n\\":(\d+)/g)) {
          const n = Number(m[1]);
          if (seen[n]) duplicates++;
          else missing--;
          seen[n] = 1;
        }
      }
    }
    second.kill('SIGTERM');
    const exit = await second.exited;
    expect(missing).toBe(0);
    expect(exit.code).toBe(0);
    expect(read.size).toBeGreaterThanOrEqual(2);
    // Lines of the killed upload come again; at most what was in flight (one object and the
    // records read behind it) is duplicated.
    expect(duplicates).toBeLessThan(N);
    console.log(
      `s3 sigkill: objects=${read.size} duplicates=${duplicates} completed uploads before kill=${completedBeforeKill}`,
    );
  }, 120_000);
});
