// `parse_json`: parse a field (default the line in `message`) as JSON and merge it into the record
// or nest it under a key; set the record time from a field. The unchanged line is kept as the
// record's JSON text when it means exactly the parsed record, so outputs re-use its bytes.

import { defineFilter, type Filter } from '../../../core/component.js';
import type { Fields, LogRecord } from '../../../core/record.js';
import { ParseFilter } from '../_shared/parse.js';
import { options } from './config.js';
import { MAX_SPANS, scanObject, type Spans } from '../../../core/json-scan.js';
import { SpanPool } from '../../../core/json-record.js';
import { inspect, keyMarks, parseJson } from './json.js';

class ParseJson extends ParseFilter implements Filter {
  private readonly objectOnly: boolean;
  private lastKeys = 0;
  /** scanObject's output for the line being parsed. */
  private readonly spans: number[] = new Array<number>(MAX_SPANS).fill(0);
  /** Where the records' copies of the spans are kept. */
  private readonly pool = new SpanPool();

  constructor(
    cfg: ConstructorParameters<typeof ParseFilter>[0] & { max_depth: number },
    ctx: ConstructorParameters<typeof ParseFilter>[1],
    private readonly maxDepth: number,
  ) {
    super(cfg, ctx);
    this.objectOnly = cfg.target === undefined;
  }

  protected parse(text: string, _rec: LogRecord): Fields | undefined {
    const r = parseJson(text, this.objectOnly);
    if (!r.ok) {
      this.reason = r.reason;
      return undefined;
    }
    const v = r.value;
    if (this.objectOnly && (v === null || typeof v !== 'object' || Array.isArray(v))) {
      this.reason = 'not a JSON object';
      return undefined;
    }
    const keys = inspect(v, this.maxDepth);
    if (keys < 0) {
      this.reason = `nested deeper than max_depth (${this.maxDepth})`;
      return undefined;
    }
    this.lastKeys = keys;
    return v as Fields;
  }

  /** Ints the last scan wrote to `spans`. */
  private scanned = 0;

  protected override scan(text: string): Spans | undefined {
    const n = scanObject(text, this.maxDepth, this.spans);
    if (n < 0) return undefined;
    this.scanned = n;
    return this.spans;
  }

  protected override pin(_spans: Spans): number {
    const n = this.scanned;
    const at = this.pool.copy(this.spans, n);
    this.pinned = this.pool.block;
    this.pinnedLen = n;
    return at;
  }

  protected override rawFor(text: string, parsed: Fields): boolean {
    // keep_time: false removed a key after inspect(): recount only then (rare).
    const keys = this.cfg.keep_time ? this.lastKeys : inspect(parsed, this.maxDepth);
    return keyMarks(text) === keys;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export default defineFilter({
  kind: 'filter',
  type: 'parse_json',
  description:
    'Parses a field (default the line) as JSON and merges it into the record or nests it; sets the record time from a field.',
  options,
  create(config, ctx): Filter {
    return new ParseJson(config, ctx, config.max_depth);
  },
});
