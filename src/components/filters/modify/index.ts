// `modify`: rename, copy, set, lowercase and remove fields, in that fixed order (YAML maps do not
// say which operation comes first, so the order is part of the contract).

import { defineFilter, type Filter } from '../../../core/component.js';
import { touch, type LogRecord } from '../../../core/record.js';
import { compileTemplate, type Template } from '../../../core/template.js';
import { compilePath, get, has, remove, set, type Path } from '../_shared/paths.js';
import { configError } from '../_shared/regex.js';
import { Results } from '../_shared/results.js';
import { options } from './config.js';

type Pair = [Path, Path];

export default defineFilter({
  kind: 'filter',
  type: 'modify',
  description: 'Renames, copies, sets, lowercases and removes fields.',
  options,
  create(config, ctx): Filter {
    const pairs = (m: Record<string, string>): Pair[] =>
      Object.entries(m).map(([a, b]) => [compilePath(a), compilePath(b)]);
    const renames = pairs(config.rename);
    const copies = pairs(config.copy);
    const sets: Array<[Path, unknown, Template | undefined]> = Object.entries(config.set).map(
      ([k, v]) => {
        if (typeof v !== 'string') return [compilePath(k), v, undefined];
        try {
          const t = compileTemplate(v);
          return t.constant ? [compilePath(k), t.render({}), undefined] : [compilePath(k), v, t];
        } catch (e) {
          throw configError(`set.${k}`, (e as Error).message);
        }
      },
    );
    const lowers = config.lowercase.map(compilePath);
    const removes = config.remove.map(compilePath);
    const results = new Results(ctx.metrics, ctx.id);

    const apply = (rec: LogRecord): boolean => {
      const f = rec.fields;
      let changed = false;
      for (const [from, to] of renames) {
        if (!has(f, from)) continue;
        const v = get(f, from);
        remove(f, from);
        set(f, to, v);
        changed = true;
      }
      for (const [from, to] of copies) {
        if (!has(f, from)) continue;
        const v = get(f, from);
        // Deep copy: a later edit of one must not change the other.
        set(f, to, v !== null && typeof v === 'object' ? structuredClone(v) : v);
        changed = true;
      }
      for (const [path, value, tpl] of sets) {
        set(f, path, tpl ? tpl.render(f) : value);
        changed = true;
      }
      for (const path of lowers) {
        const v = get(f, path);
        if (typeof v !== 'string') continue;
        const l = v.toLowerCase();
        if (l !== v) {
          set(f, path, l);
          changed = true;
        }
      }
      for (const path of removes) changed = remove(f, path) || changed;
      return changed;
    };

    return {
      async start() {},
      async stop() {},
      process(records: LogRecord[]): LogRecord[] {
        let modified = 0;
        for (let i = 0; i < records.length; i++) {
          const rec = records[i];
          if (apply(rec)) {
            touch(rec);
            modified++;
          }
        }
        results.add('modified', modified);
        results.add('passed', records.length - modified);
        return records;
      },
    };
  },
});
