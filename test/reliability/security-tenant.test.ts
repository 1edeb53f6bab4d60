// #17.1 through a real process: records whose rendered tenant breaks Loki's rules (non-Latin-1,
// CR, LF, NUL, too long, "..") used to make undici refuse the header and wedge the pool: every
// later push never settled, nothing was logged, /readyz stayed ready and SIGTERM waited past
// shutdown_timeout. Now they are dead-lettered with the reason, the good ones all arrive, and
// SIGTERM stops within shutdown_timeout.

import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LokiReceiver } from '../receivers/loki.js';
import { Shiplog, fileInput, scenarioDir, sleep, writeConfig } from './lib.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BAD_TENANTS = ['café\u0100', 'a\rb', 'a\nb', 'a\u0000b', 'x'.repeat(151), '..', 'a b', 'a/b'];

function deadLetters(dataDir: string): Array<{ reason: string }> {
  const f = path.join(dataDir, 'dead_letter', 'loki.ndjson');
  if (!existsSync(f)) return [];
  const lines = readFileSync(f, 'utf8').split('\n');
  lines.pop();
  return lines.map((l) => JSON.parse(l) as { reason: string });
}

describe('loki tenant from records (#17.1, real process)', () => {
  it('invalid tenants are dead-lettered, the output keeps delivering, SIGTERM is prompt', async () => {
    const { dir, data, logs } = scenarioDir('security-tenant');
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const log = path.join(logs, 'app.log');
    await fsp.writeFile(log, '');
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [fileInput([log])],
      filters: [{ type: 'parse_json', match: 'app' }],
      lokiUrl: receiver.url,
      loki: {
        tenant: '{tenant}',
        trusted_fields: ['tenant'], // #17.11: a record field as tenant must be declared trusted
        message_field: 'msg',
        timeout: '2s',
        batch: { max_bytes: '64KiB', max_wait: '100ms' },
      },
      service: { shutdown_timeout: '3s' },
    });
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    await ship.start();

    // 150 good records in 3 rounds, 80 bad ones between them.
    let good = 0;
    let bad = 0;
    for (let round = 0; round < 3; round++) {
      let text = '';
      for (let i = 0; i < 50; i++) {
        text += JSON.stringify({ tenant: `team-${i % 3}`, msg: `good ${good++}` }) + '\n';
        if (bad < 80 && i % 2 === 0) {
          const t = BAD_TENANTS[bad % BAD_TENANTS.length];
          text += JSON.stringify({ tenant: t, msg: `bad ${bad++}` }) + '\n';
        }
      }
      await fsp.appendFile(log, text);
      await sleep(300);
    }
    while (bad < 80) {
      await fsp.appendFile(log, JSON.stringify({ tenant: 'a\nb', msg: `bad ${bad++}` }) + '\n');
    }
    expect([good, bad]).toEqual([150, 80]);

    const end = Date.now() + 20_000;
    while ((receiver.entries.length < 150 || deadLetters(data).length < 80) && Date.now() < end)
      await sleep(100);
    const delivered = new Set(receiver.entries.map((e) => e.line));
    const dl = deadLetters(data);
    expect(delivered.size).toBe(150);
    expect(receiver.entries.length).toBe(150);
    expect(dl.length).toBe(80);
    for (const d of dl) expect(d.reason).toMatch(/^invalid tenant: /);
    expect(new Set(receiver.entries.map((e) => e.tenant))).toEqual(
      new Set(['team-0', 'team-1', 'team-2']),
    );
    expect((await ship.readyz()).status).toBe(200);

    const t0 = Date.now();
    const exit = await ship.stop();
    const ms = Date.now() - t0;
    expect(exit.code).toBe(0);
    expect(ms).toBeLessThan(3000);
    console.log(
      `tenant: delivered ${delivered.size}/150, dead-lettered ${dl.length}, SIGTERM in ${ms} ms`,
    );
  }, 60_000);
});
