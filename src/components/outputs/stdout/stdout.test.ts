import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/record.js';
import { testContext } from '../../filters/_shared/testing.js';
import def, { formatRecord, stdoutSink } from './index.js';

const RECORDS: LogRecord[] = [
  { fields: { message: 'plain ascii', file: { path: '/var/log/a.log' } }, timeMs: 0, timeNs: 0 },
  { fields: { message: 'été — 日本語 🚀' }, timeMs: 1, timeNs: 0 },
  { fields: { message: 'lone \ud800 surrogate' }, timeMs: 2, timeNs: 0 },
  {
    fields: { level: 'INFO', msg: 'x' },
    raw: '{"level":"INFO","msg":"x"}',
    timeMs: 3,
    timeNs: 0,
  },
  { fields: { big: 'y'.repeat(70_000) }, timeMs: 4, timeNs: 0 },
];

async function written(format: 'json' | 'logfmt' | 'text'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  const saved = stdoutSink.stream;
  stdoutSink.stream = () => sink;
  try {
    const out = def.create({ format } as never, testContext('out') as never);
    let acks = 0;
    out.write({ tag: 't', records: RECORDS, bytes: 0, ack: () => acks++ });
    await out.stop();
    expect(acks).toBe(1);
  } finally {
    stdoutSink.stream = saved;
  }
  return Buffer.concat(chunks);
}

describe('stdout output', () => {
  for (const format of ['json', 'logfmt', 'text'] as const) {
    it(`${format}: a batch is the UTF-8 of its lines, one per record (multi-byte, lone surrogates, > 64 KiB)`, async () => {
      const expected = Buffer.from(
        RECORDS.map((r) => formatRecord(format, r, 't') + '\n').join(''),
        'utf8',
      );
      const got = await written(format);
      expect(got.length).toBe(expected.length);
      expect(got.equals(expected)).toBe(true);
    });
  }

  it('a buffer is written again only after the stream called back for it (async sink)', async () => {
    const chunks: Buffer[] = [];
    // The sink takes the bytes when it completes the write (as the kernel does), not before.
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        setTimeout(() => {
          chunks.push(Buffer.from(chunk));
          cb();
        }, 5);
      },
    });
    const saved = stdoutSink.stream;
    stdoutSink.stream = () => sink;
    const batch = (p: string): LogRecord[] =>
      Array.from({ length: 50 }, (_, i) => ({
        fields: { message: `${p}-${i}` },
        timeMs: 0,
        timeNs: 0,
      }));
    const all: LogRecord[] = [];
    try {
      const out = def.create({ format: 'json' } as never, testContext('out') as never);
      for (let round = 0; round < 4; round++) {
        // Two batches back to back (the second while the first is in flight), then a pause.
        for (const p of [`a${round}`, `b${round}`]) {
          const recs = batch(p);
          all.push(...recs);
          out.write({ tag: 't', records: recs, bytes: 0, ack: () => undefined });
        }
        await new Promise((r) => setTimeout(r, 30));
      }
      await out.stop();
    } finally {
      stdoutSink.stream = saved;
    }
    const expected = all.map((r) => formatRecord('json', r, 't') + '\n').join('');
    expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
  });
});
