// `multiline`: joins the lines of one stream into one record (stack traces) after any input, with
// the same options and engine as the file input's `multiline` key. Pieces are held with their
// checkpoint tokens until the joined record is acknowledged. See README.md.

import type { AckToken } from '../../../core/acks.js';
import { defineFilter, type Filter, type HoldContext } from '../../../core/component.js';
import type { LogRecord } from '../../../core/record.js';
import { compileMultiline } from '../../_shared/multiline/index.js';
import { Results } from '../_shared/results.js';
import { options } from './config.js';
import { StreamJoiner } from './joiner.js';

export default defineFilter({
  kind: 'filter',
  type: 'multiline',
  description:
    'Joins multiline records (stack traces) per stream: built-in java, python, go, ruby, dotnet parsers or start/continue patterns.',
  options,
  create(config, ctx): Filter {
    const compiled = compileMultiline(config, ctx.id);
    const results = new Results(ctx.metrics, ctx.id);
    const release = (tag: string, records: LogRecord[], carried: AckToken[]): void => {
      if (ctx.inject) ctx.inject(tag, records, carried);
      else for (const t of carried) t.release();
    };
    const joiner = new StreamJoiner(compiled, config.max_streams, release);
    let timer: NodeJS.Timeout | undefined;
    const flush = (force: boolean): void => {
      if (joiner.size === 0) return;
      for (const b of joiner.flush(Date.now(), force)) release(b.tag, b.records, b.carried);
    };
    const tick = Math.max(20, Math.min(250, Math.floor(compiled.flushTimeout / 2)));
    let last = { pieces: 0, joined: 0 };
    const count = (): void => {
      const s = joiner.stats;
      results.add('joined', s.pieces - last.pieces);
      results.add('records', s.joined - last.joined);
      last = { ...s };
    };
    return {
      holds: true,
      holdTimeoutMs: compiled.flushTimeout,
      async start() {
        timer ??= setInterval(() => {
          flush(false);
          count();
        }, tick);
        timer.unref();
      },
      async stop() {
        if (timer) clearInterval(timer);
        timer = undefined;
        flush(true);
        count();
      },
      process(records: LogRecord[], tag: string, hold?: HoldContext): LogRecord[] {
        const out = joiner.process(records, tag, hold);
        results.add('passed', out.length);
        return out;
      },
    };
  },
});
