// `stdout`: records as JSON lines, logfmt or text on standard output. One write per batch; the
// batch is acknowledged when the write was flushed to the stream.

import { z } from 'zod';
import type { Writable } from 'node:stream';
import { defineOutput, type Output } from '../../../core/component.js';
import { recordJson, type Fields, type LogRecord } from '../../../core/record.js';

const options = z.object({
  format: z
    .enum(['json', 'logfmt', 'text'])
    .default('json')
    .describe(
      'json: one JSON object per line; logfmt: time=… key=value; text: time, tag and message.',
    ),
});

/** Overridable in tests. */
export const stdoutSink: { stream: () => Writable } = { stream: () => process.stdout };

const BARE = /^[A-Za-z0-9_./:@+-]+$/;

function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
  return s !== '' && BARE.test(s) ? s : JSON.stringify(s);
}

function appendLogfmt(out: string[], prefix: string, fields: Fields): void {
  for (const k in fields) {
    const v = fields[k];
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      appendLogfmt(out, `${prefix}${k}.`, v as Fields);
    else if (v !== undefined) out.push(`${prefix}${k}=${logfmtValue(v)}`);
  }
}

export function formatRecord(
  format: 'json' | 'logfmt' | 'text',
  r: LogRecord,
  tag: string,
): string {
  if (format === 'json') return recordJson(r);
  const d = new Date(r.timeMs);
  const time = Number.isNaN(d.getTime()) ? '-' : d.toISOString();
  if (format === 'logfmt') {
    const parts = [`time=${time}`];
    appendLogfmt(parts, '', r.fields);
    return parts.join(' ');
  }
  const msg = r.fields.message;
  return `${time} [${tag}] ${typeof msg === 'string' ? msg : JSON.stringify(r.fields)}`;
}

/** A written batch's buffer is kept for the next batch up to this size. */
const SPARE_MAX = 4 << 20;

function newBuffer(bytes: number): Buffer {
  return Buffer.allocUnsafeSlow(Math.max(bytes, 64 << 10));
}

export default defineOutput({
  kind: 'output',
  // A pipe is never "down": a disk queue would only add cost. buffer.type: disk still works.
  defaultBuffer: 'memory',
  type: 'stdout',
  description: 'Writes records to standard output as JSON lines, logfmt or text.',
  options,
  create(config, ctx): Output {
    const out = stdoutSink.stream();
    let pending = 0;
    let idle: (() => void) | undefined;
    let failed = false;
    let spare: Buffer | undefined;
    // Without a listener an EPIPE (reader gone) would be an uncaught exception.
    const onError = (err: Error): void => {
      if (!failed)
        ctx.log.error('stdout closed; records left unacknowledged', { error: err.message });
      failed = true;
    };
    out.on('error', onError);
    return {
      async start() {},
      write(batch) {
        // One buffer per batch, each line written into it: a batch concatenated into one string
        // was a rope of every line that V8 flattened and then converted again (issue #22: the
        // W1 profile's largest entry after GC).
        const recs = batch.records;
        const texts = new Array<string>(recs.length);
        let bytes = recs.length; // the newlines
        for (let i = 0; i < recs.length; i++) {
          let t: string;
          try {
            t = formatRecord(config.format, recs[i], batch.tag);
          } catch (e) {
            // write() must never throw: an unprintable record is reported in its place.
            t = JSON.stringify({ unserialisable: (e as Error).message });
          }
          texts[i] = t;
          bytes += Buffer.byteLength(t, 'utf8');
        }
        // The buffer of the last completed write is reused (a new one per batch was external
        // memory that made V8 collect more often): only once the stream called back for it.
        const buf = spare !== undefined && spare.length >= bytes ? spare : newBuffer(bytes);
        spare = undefined;
        let at = 0;
        for (let i = 0; i < texts.length; i++) {
          at += buf.write(texts[i], at);
          buf[at++] = 10;
        }
        const text = buf.subarray(0, at);
        pending++;
        const done = (err?: Error | null): void => {
          if (err) {
            // EPIPE and friends: the reader went away. Nothing more can be delivered here; the
            // batch stays unacknowledged so its source position is not committed past it.
            if (!failed)
              ctx.log.error('stdout write failed; records left unacknowledged', {
                error: err.message,
              });
            failed = true;
          } else {
            if (buf.length <= SPARE_MAX && (spare === undefined || spare.length < buf.length))
              spare = buf;
            ctx.metrics.outputRecords.inc({ component: ctx.id, result: 'sent' }, recs.length);
            batch.ack();
          }
          if (--pending === 0) idle?.();
        };
        try {
          out.write(text, done);
        } catch (e) {
          done(e as Error);
        }
      },
      async stop() {
        if (pending === 0 || failed) return;
        await new Promise<void>((resolve) => {
          idle = resolve;
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      },
      health() {
        return failed ? { ok: false, reason: 'stdout closed' } : { ok: true };
      },
    };
  },
});
