// `parse_logfmt`: `key=value` lines (Go services, Heroku-style routers) become fields.

import { defineFilter, type Filter } from '../../../core/component.js';
import type { Fields, LogRecord } from '../../../core/record.js';
import { convert, ParseFilter, type TypeName } from '../_shared/parse.js';
import { assign } from '../_shared/paths.js';
import { parseLogfmt } from './logfmt.js';
import { options } from './config.js';

const NUMBER = /^-?(?:0|[1-9]\d{0,14})(?:\.\d+)?$/;

class ParseLogfmt extends ParseFilter implements Filter {
  private readonly onPair: (
    out: Fields,
    key: string,
    value: string | true,
    quoted: boolean,
  ) => void;

  constructor(
    cfg: ConstructorParameters<typeof ParseFilter>[0] & {
      types: Record<string, TypeName>;
      auto_types: boolean;
    },
    ctx: ConstructorParameters<typeof ParseFilter>[1],
  ) {
    super(cfg, ctx);
    const types = new Map(Object.entries(cfg.types));
    const auto = cfg.auto_types;
    // One function for the filter's lifetime, not one per record.
    this.onPair = (out, key, value, quoted) => {
      if (value === true) return assign(out, key, true);
      const t = types.get(key);
      if (t !== undefined) return assign(out, key, convert(value, t));
      if (auto && !quoted) {
        if (value === 'true') return assign(out, key, true);
        if (value === 'false') return assign(out, key, false);
        if (NUMBER.test(value)) return assign(out, key, Number(value));
      }
      assign(out, key, value);
    };
  }

  protected parse(text: string, _rec: LogRecord): Fields | undefined {
    const out = parseLogfmt(text, this.onPair);
    if (out === undefined) this.reason = 'no key=value pair';
    return out;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export default defineFilter({
  kind: 'filter',
  type: 'parse_logfmt',
  description: 'Parses key=value (logfmt) text into fields.',
  options,
  create(config, ctx): Filter {
    return new ParseLogfmt(config, ctx);
  },
});
