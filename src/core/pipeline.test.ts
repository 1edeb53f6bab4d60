import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { capture, source, startPipeline } from '../../test/helpers/harness.js';

const outputs = (autoAck: boolean, extra: Record<string, unknown> = {}) => [
  { type: 'capture', id: 'cap', auto_ack: autoAck, ...extra },
];

describe('pipeline acknowledgements and checkpoints', () => {
  it('never moves a checkpoint while the output has not acknowledged', async () => {
    const h = await startPipeline({
      pipeline: { inputs: [{ type: 'test_source', id: 'src' }], outputs: outputs(false) },
    });
    const s = source('src');
    void s.emit(10, 1000);
    void s.emit(10, 2000);
    await capture('cap').waitFor(20);
    expect(s.committed()).toBeUndefined();
    await h.store.flush();
    const file = path.join(h.dataDir, 'checkpoints.json');
    const onDisk = (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}) as {
      checkpoints?: Record<string, unknown>;
    };
    expect(onDisk.checkpoints?.['src/s']).toBeUndefined();
    await h.stop();
    // Stopping does not commit what was never acknowledged.
    expect(s.committed()).toBeUndefined();
  });

  it('commits the longest acknowledged prefix across out-of-order acks, and persists it', async () => {
    const h = await startPipeline({
      pipeline: { inputs: [{ type: 'test_source', id: 'src2' }], outputs: outputs(false) },
    });
    const s = source('src2');
    const c = capture('cap');
    void s.emit(1, 10);
    void s.emit(1, 20);
    void s.emit(1, 30);
    await c.waitFor(3);
    c.held[2].ack();
    expect(s.committed()).toBeUndefined();
    c.held[0].ack();
    expect(s.committed()).toBe(10);
    c.held[1].ack();
    expect(s.committed()).toBe(30);
    await h.stop();
    const onDisk = JSON.parse(readFileSync(path.join(h.dataDir, 'checkpoints.json'), 'utf8')) as {
      checkpoints: Record<string, unknown>;
    };
    expect(onDisk.checkpoints['src2/s']).toBe(30);
  });

  it('needs every matching output (fan-out) before committing', async () => {
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'test_source', id: 'src3', tag: 'app' }],
        outputs: [
          { type: 'capture', id: 'fast', auto_ack: true },
          { type: 'capture', id: 'slow', auto_ack: false },
          { type: 'capture', id: 'other', match: 'nomatch', auto_ack: false },
        ],
      },
    });
    const s = source('src3');
    void s.emit(5, 500);
    await capture('slow').waitFor(5);
    expect(capture('fast').records).toHaveLength(5);
    expect(capture('other').records).toHaveLength(0);
    expect(s.committed()).toBeUndefined();
    capture('slow').release();
    expect(s.committed()).toBe(500);
    await h.stop();
  });

  it('blocks the input when an output buffer is full, and resumes when it drains', async () => {
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'test_source', id: 'src4' }],
        outputs: outputs(false, { buffer: { max_bytes: 1000 } }),
      },
    });
    const s = source('src4');
    expect(s.emit(5, 1)).toBeUndefined(); // 500 bytes
    const wait = s.emit(5, 2); // 1000 bytes: full
    expect(wait).toBeInstanceOf(Promise);
    let resumed = false;
    void wait!.then(() => (resumed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(resumed).toBe(false);
    capture('cap').release(1);
    await new Promise((r) => setTimeout(r, 10));
    expect(resumed).toBe(true);
    capture('cap').release();
    await h.stop();
  });

  it('drop_newest drops and counts instead of blocking', async () => {
    const h = await startPipeline({
      pipeline: {
        inputs: [{ type: 'test_source', id: 'src5' }],
        outputs: outputs(false, { buffer: { max_bytes: 500, when_full: 'drop_newest' } }),
      },
    });
    const s = source('src5');
    expect(s.emit(5, 1)).toBeUndefined();
    expect(s.emit(5, 2)).toBeUndefined(); // dropped, not blocked
    expect(capture('cap').records).toHaveLength(5);
    const dropped = await h.metrics.droppedRecords.get();
    expect(dropped.values.find((v) => v.labels.reason === 'buffer_full')?.value).toBe(5);
    // A dropped batch does not hold the checkpoint back.
    capture('cap').release();
    expect(s.committed()).toBe(2);
    await h.stop();
  });
});
