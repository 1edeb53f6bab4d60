// `grep`: keep or drop records by regular expressions over fields. Non-string values are tested
// as their JSON/string form. Patterns run with V8's linear-time fallback (see _shared/regex.ts).

import { defineFilter, type Filter } from '../../../core/component.js';
import { stringifyValue, type LogRecord } from '../../../core/record.js';
import { compilePath, get, type Path } from '../_shared/paths.js';
import { compileUserRegex } from '../_shared/regex.js';
import { Results } from '../_shared/results.js';
import { options } from './config.js';

interface Rule {
  path: Path;
  re: RegExp;
}

export default defineFilter({
  kind: 'filter',
  type: 'grep',
  description: 'Keeps (include) or drops (exclude) records by regular expressions over fields.',
  options,
  create(config, ctx): Filter {
    const rules = (m: Record<string, string>, what: string): Rule[] =>
      Object.entries(m).map(([field, src]) => ({
        path: compilePath(field),
        re: compileUserRegex(src, `${what}.${field}`),
      }));
    const include = rules(config.include, 'include');
    const exclude = rules(config.exclude, 'exclude');
    const max = config.max_length;
    const results = new Results(ctx.metrics, ctx.id);
    const matches = (rec: LogRecord, r: Rule): boolean => {
      const v = get(rec.fields, r.path);
      if (v === undefined || v === null) return false;
      let s = typeof v === 'string' ? v : stringifyValue(v);
      if (s.length > max) s = s.slice(0, max);
      return r.re.test(s);
    };
    return {
      async start() {},
      async stop() {},
      process(records: LogRecord[]): LogRecord[] {
        let out: LogRecord[] | undefined;
        for (let i = 0; i < records.length; i++) {
          const rec = records[i];
          let keep = true;
          for (let k = 0; k < include.length && keep; k++) keep = matches(rec, include[k]);
          for (let k = 0; k < exclude.length && keep; k++) keep = !matches(rec, exclude[k]);
          if (keep) {
            if (out) out.push(rec);
          } else {
            out ??= records.slice(0, i);
          }
        }
        const kept = out ? out.length : records.length;
        results.add('passed', kept);
        results.add('dropped', records.length - kept);
        results.dropped('grep', records.length - kept);
        return out ?? records;
      },
    };
  },
});
