// `throttle`: per-key rate limiting with token buckets, so one noisy pod cannot flood the backend.
// `drop` drops over-limit records (counted per key, summarised every summary_interval in shiplog's
// log and optionally as records); `block` passes them but makes the inputs wait (pressure()).

import { defineFilter, type Filter, type FilterContext } from '../../../core/component.js';
import { newRecord, type LogRecord } from '../../../core/record.js';
import { compileTemplate, type Template } from '../../../core/template.js';
import { configError } from '../_shared/regex.js';
import { Results } from '../_shared/results.js';
import { Buckets, type Bucket } from './bucket.js';
import { options } from './config.js';
import type { z } from 'zod';

type Config = z.output<typeof options>;

/** At most this many keys are named in one summary (log and records). */
export const SUMMARY_KEYS = 100;

export class ThrottleFilter implements Filter {
  readonly buckets: Buckets;
  private readonly key: Template;
  private readonly results: Results;
  private readonly tagExtra = { tag: '' };
  private timer: NodeJS.Timeout | undefined;
  private pendingSummary: LogRecord[] = [];
  private blockUntil = 0;
  private blocking: Promise<void> | undefined;
  private lastSummaryAt: number;

  constructor(
    private readonly cfg: Config,
    private readonly ctx: FilterContext,
    private readonly now: () => number = () => performance.timeOrigin + performance.now(),
  ) {
    try {
      this.key = compileTemplate(cfg.key);
    } catch (e) {
      throw configError('key', (e as Error).message);
    }
    const capacity = Math.max(1, cfg.burst ?? cfg.rate);
    this.buckets = new Buckets(cfg.rate, capacity, cfg.max_keys);
    this.results = new Results(ctx.metrics, ctx.id);
    this.lastSummaryAt = this.now();
  }

  process(records: LogRecord[], tag: string): LogRecord[] {
    const now = this.now();
    const block = this.cfg.action === 'block';
    this.tagExtra.tag = tag;
    const key = this.key;
    let out: LogRecord[] | undefined;
    let over = 0;
    let worst: Bucket | undefined;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i];
      const k = key.constant ? key.source : key.render(rec.fields, this.tagExtra);
      const b = this.buckets.take(k, now, block);
      if (b === undefined) {
        if (out) out.push(rec);
        continue;
      }
      over++;
      if (block) {
        if (worst === undefined || b.tokens < worst.tokens) worst = b;
      } else {
        out ??= records.slice(0, i);
      }
    }
    this.results.add('passed', records.length - over);
    if (block) {
      this.results.add('throttled', over);
      if (worst) {
        const wait = Math.min(this.cfg.max_block, this.buckets.waitFor(worst));
        this.blockUntil = Math.max(this.blockUntil, now + wait);
      }
    } else {
      this.results.add('dropped', over);
      this.results.dropped('throttled', over);
    }
    let result = out ?? records;
    if (this.pendingSummary.length > 0) {
      const extra = this.pendingSummary;
      this.pendingSummary = [];
      result = result === records ? records.concat(extra) : (result.push(...extra), result);
      this.results.add('summary', extra.length);
    }
    return result;
  }

  pressure(): Promise<void> | undefined {
    if (this.blocking) return this.blocking;
    const wait = this.blockUntil - this.now();
    if (wait <= 0 || this.ctx.signal.aborted) return undefined;
    const p = new Promise<void>((resolve) => {
      const t = setTimeout(done, wait);
      const signal = this.ctx.signal;
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }).then(() => {
      this.blocking = undefined;
    });
    this.blocking = p;
    return p;
  }

  /** Log (and optionally queue records for) the over-limit counts since the last summary. */
  summarize(): void {
    const now = this.now();
    const seconds = Math.max(0, Math.round((now - this.lastSummaryAt) / 1000));
    this.lastSummaryAt = now;
    const keys: Array<[string, number]> = [];
    let total = 0;
    let nkeys = 0;
    for (const [k, b] of this.buckets.map) {
      if (b.over === 0) continue;
      total += b.over;
      nkeys++;
      keys.push([k, b.over]);
      b.over = 0;
    }
    const evicted = this.buckets.evictedOver;
    total += evicted;
    nkeys += this.buckets.evictedKeys;
    this.buckets.evictedOver = 0;
    this.buckets.evictedKeys = 0;
    if (total === 0) return;
    keys.sort((a, b) => b[1] - a[1]);
    const top = keys.slice(0, SUMMARY_KEYS);
    const verb = this.cfg.action === 'drop' ? 'dropped' : 'delayed';
    this.ctx.log.warn(`throttle: records ${verb} over the rate limit`, {
      records: total,
      keys: nkeys,
      seconds,
      top: Object.fromEntries(top.slice(0, 10)),
    });
    if (!this.cfg.emit_summary) return;
    const at = Math.floor(now);
    for (const [k, n] of top) {
      this.pendingSummary.push(
        newRecord(
          {
            message: `${n} records ${verb} for key ${k}`,
            level: 'warn',
            throttle: { component: this.ctx.id, key: k, [verb]: n, seconds },
          },
          at,
        ),
      );
    }
    const rest = total - top.reduce((a, [, n]) => a + n, 0);
    if (rest > 0) {
      this.pendingSummary.push(
        newRecord(
          {
            message: `${rest} records ${verb} for ${nkeys - top.length} other keys`,
            level: 'warn',
            throttle: { component: this.ctx.id, key: null, [verb]: rest, seconds },
          },
          at,
        ),
      );
    }
  }

  async start(): Promise<void> {
    this.timer ??= setInterval(() => this.summarize(), this.cfg.summary_interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.summarize();
  }
}

export default defineFilter({
  kind: 'filter',
  type: 'throttle',
  description:
    'Per-key rate limit (token bucket, LRU-bounded keys): drop over-limit records (counted, summarised) or block the inputs.',
  options,
  create(config, ctx): Filter {
    return new ThrottleFilter(config, ctx);
  },
});
