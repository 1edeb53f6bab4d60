// `stdin`: one record per line of standard input (pipes, tests). Pauses the stream under
// backpressure; finishes at end of input.

import { z } from 'zod';
import type { Readable } from 'node:stream';
import { defineInput, type Input } from '../../../core/component.js';
import { collect, LineSplitter, type SplitLine } from '../../../core/lines.js';
import type { LogRecord } from '../../../core/record.js';
import { size } from '../../../core/units.js';

const options = z.object({
  max_line_bytes: size('Longer lines are truncated and flagged with `truncated: true`.').prefault(
    '256KiB',
  ),
});

/** Overridable in tests. */
export const stdinSource: { stream: () => Readable } = { stream: () => process.stdin };

export default defineInput({
  kind: 'input',
  type: 'stdin',
  description: 'Reads lines from standard input, one record per line.',
  options,
  create(config, ctx): Input {
    let done: Promise<void> | undefined;
    let stream: Readable | undefined;
    const run = (): Promise<void> =>
      new Promise<void>((resolve) => {
        const s = stdinSource.stream();
        stream = s;
        const splitter = new LineSplitter(config.max_line_bytes);
        const lines: SplitLine[] = [];
        const sink = collect(lines);
        const emit = (): void => {
          if (lines.length === 0) return;
          const now = Date.now();
          let bytes = 0;
          const records: LogRecord[] = lines.map((l) => {
            bytes += l.text.length + 64;
            return {
              fields: l.truncated ? { message: l.text, truncated: true } : { message: l.text },
              timeMs: now,
              timeNs: 0,
            };
          });
          lines.length = 0;
          const wait = ctx.emit({ tag: ctx.tag, records, bytes });
          if (wait) {
            s.pause();
            void wait.then(() => {
              if (!ctx.signal.aborted) s.resume();
            });
          }
        };
        s.on('data', (chunk: Buffer) => {
          ctx.metrics.inputBytes.inc({ component: ctx.id }, chunk.length);
          splitter.push(chunk, sink);
          emit();
        });
        const finish = (): void => {
          splitter.flush(sink);
          emit();
          resolve();
        };
        s.once('end', finish);
        s.once('error', (e) => {
          ctx.log.error('stdin read failed', { error: e.message });
          finish();
        });
        ctx.signal.addEventListener('abort', () => {
          s.pause();
          resolve();
        });
      });
    return {
      async start() {
        done ??= run();
      },
      async stop() {
        stream?.pause();
        await done;
      },
      async drained() {
        await done;
      },
    };
  },
});
