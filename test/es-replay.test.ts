// Elasticsearch deterministic ids, for real: shiplog (file → elasticsearch) is SIGKILLed while
// shipping and restarted; the replay of what was in flight must not index a second copy.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/harness.js';
import { runShiplog } from './helpers/proc.js';
import { EsReceiver } from './receivers/elasticsearch.js';

let receiver: EsReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('elasticsearch output under SIGKILL', () => {
  it('a replay after SIGKILL produces no second copy of any document', async () => {
    receiver = await EsReceiver.start();
    const dir = tempDir('shiplog-es-kill-');
    const N = 60_000;
    let text = '';
    for (let i = 0; i < N; i++) text += `{"seq":${i},"level":"info","msg":"line ${i}"}\n`;
    writeFileSync(path.join(dir, 'app.log'), text);
    const cfg = path.join(dir, 'shiplog.yaml');
    writeFileSync(
      cfg,
      `service:\n  data_dir: ${dir}/data\n  checkpoint_interval: 2s\npipeline:\n  inputs:\n    - type: file\n      paths: [${dir}/app.log]\n  filters:\n    - type: parse_json\n  outputs:\n    - type: elasticsearch\n      url: ${receiver.url}\n      index: logs-%Y.%m.%d\n      batch: { max_bytes: 256KiB, max_wait: 50ms }\n`,
    );
    // Slow the receiver down so the kill lands mid-stream, with acknowledged-but-uncommitted docs.
    receiver.delayMs = 20;
    const first = runShiplog(['run', '-c', cfg], { captureStdout: false });
    await first.waitForLog('shiplog started');
    await receiver.waitForCount(15_000, 30_000);
    first.kill('SIGKILL');
    await first.exited;
    const before = receiver.count();
    expect(before).toBeLessThan(N);

    receiver.delayMs = 0;
    const second = runShiplog(['run', '-c', cfg], { captureStdout: false });
    await second.waitForLog('shiplog started');
    await receiver.waitForCount(N, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    const seqs = receiver.docs().map((d) => d.seq as number);
    expect(seqs).toHaveLength(N);
    expect(new Set(seqs).size).toBe(N);
    // The restart really replayed documents that were already indexed (409 = same id, no copy).
    expect(receiver.stats.conflicts).toBeGreaterThan(0);
  }, 120_000);
});
