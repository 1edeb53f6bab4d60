// `parse_regex`: named groups of a regular expression become fields (Apache/nginx access lines,
// Redis logs, anything line-shaped). Patterns run with V8's linear-time fallback, so a hostile
// line cannot make one backtrack for ever (see _shared/regex.ts).

import { defineFilter, type Filter } from '../../../core/component.js';
import type { Fields, LogRecord } from '../../../core/record.js';
import { configError, compileUserRegex } from '../_shared/regex.js';
import { convert, ParseFilter, type TypeName } from '../_shared/parse.js';
import { assign } from '../_shared/paths.js';
import { options } from './config.js';

class ParseRegex extends ParseFilter implements Filter {
  private readonly re: RegExp;
  private readonly names: string[];
  private readonly types: Array<TypeName | undefined>;
  private readonly skipEmpty: boolean;

  constructor(
    cfg: ConstructorParameters<typeof ParseFilter>[0] & {
      pattern: string;
      types: Record<string, TypeName>;
      skip_empty: boolean;
    },
    ctx: ConstructorParameters<typeof ParseFilter>[1],
  ) {
    super(cfg, ctx);
    this.re = compileUserRegex(cfg.pattern, 'pattern');
    const names = [...cfg.pattern.matchAll(/\(\?<([A-Za-z_$][\w$]*)>/g)].map((m) => m[1]);
    if (names.length === 0) throw configError('pattern', 'the pattern has no named group');
    for (const t of Object.keys(cfg.types)) {
      if (!names.includes(t)) throw configError(`types.${t}`, `no named group "${t}" in pattern`);
    }
    this.names = names;
    this.types = names.map((n) => cfg.types[n]);
    this.skipEmpty = cfg.skip_empty;
  }

  protected parse(text: string, _rec: LogRecord): Fields | undefined {
    const m = this.re.exec(text);
    if (m === null || m.groups === undefined) {
      this.reason = 'pattern did not match';
      return undefined;
    }
    const g = m.groups;
    const out: Fields = {};
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i];
      const v = g[name];
      if (v === undefined) continue;
      if (this.skipEmpty && (v === '' || v === '-')) continue;
      const t = this.types[i];
      assign(out, name, t === undefined ? v : convert(v, t));
    }
    return out;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export default defineFilter({
  kind: 'filter',
  type: 'parse_regex',
  description:
    'Parses a field with a regular expression; named groups become fields (access logs, Redis, any line format).',
  options,
  create(config, ctx): Filter {
    return new ParseRegex(config, ctx);
  },
});
