// `enrich`: add where a record came from — static fields, environment values, the host name and
// address, fields built from other fields, static Loki labels. Never overwrites unless asked.

import * as os from 'node:os';
import { defineFilter, type Filter } from '../../../core/component.js';
import { touch, type LogRecord } from '../../../core/record.js';
import { compileTemplate, type Template } from '../../../core/template.js';
import { compilePath, has, set, type Path } from '../_shared/paths.js';
import { configError } from '../_shared/regex.js';
import { Results } from '../_shared/results.js';
import { checkLabelName } from '../../_shared/loki-labels/index.js';
import { options } from './config.js';

interface Addition {
  path: Path;
  constant: unknown;
  template?: Template;
}

/** `${VAR}` / `${VAR:-default}` left in a value (the config loader resolves most of them). */
export function expandEnv(v: string, env: NodeJS.ProcessEnv, where: string): string {
  return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, def) => {
    const val = env[name];
    if (val !== undefined && val !== '') return val;
    if (def !== undefined) return def as string;
    throw configError(where, `environment variable ${name} is not set`);
  });
}

export function hostIp(): string | undefined {
  let v6: string | undefined;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') return a.address;
      if (!a.address.startsWith('fe80')) v6 ??= a.address;
    }
  }
  return v6;
}

export default defineFilter({
  kind: 'filter',
  type: 'enrich',
  description:
    'Adds static fields, ${ENV} values, {field} templates, the host name and address, and static labels.',
  options,
  create(config, ctx): Filter {
    const additions: Addition[] = [];
    for (const [key, value] of Object.entries(config.add)) {
      const where = `add.${key}`;
      if (typeof value !== 'string') {
        additions.push({ path: compilePath(key), constant: value });
        continue;
      }
      let tpl: Template;
      try {
        tpl = compileTemplate(expandEnv(value, process.env, where));
      } catch (e) {
        throw configError(where, (e as Error).message);
      }
      additions.push(
        tpl.constant
          ? { path: compilePath(key), constant: tpl.render({}) }
          : { path: compilePath(key), constant: undefined, template: tpl },
      );
    }
    if (config.hostname !== false) {
      const name = config.hostname === true ? 'hostname' : config.hostname;
      additions.push({ path: compilePath(name), constant: os.hostname() });
    }
    if (config.host_ip !== false) {
      const name = config.host_ip === true ? 'host_ip' : config.host_ip;
      const ip = hostIp();
      if (ip !== undefined) additions.push({ path: compilePath(name), constant: ip });
      else ctx.log.warn('enrich: no non-loopback address found; host_ip not added');
    }
    const labelEntries = Object.entries(config.labels);
    for (const [name] of labelEntries) {
      const problem = checkLabelName(name);
      if (problem) throw configError(`labels.${name}`, problem);
    }
    // One frozen object shared by every record that has no labels yet (the label filter copies
    // before it writes, never mutates).
    const staticLabels = Object.freeze(Object.fromEntries(labelEntries));
    const overwrite = config.overwrite;
    const results = new Results(ctx.metrics, ctx.id);

    return {
      async start() {},
      async stop() {},
      process(records: LogRecord[]): LogRecord[] {
        let modified = 0;
        for (let i = 0; i < records.length; i++) {
          const rec = records[i];
          let changed = false;
          for (let a = 0; a < additions.length; a++) {
            const add = additions[a];
            if (!overwrite && has(rec.fields, add.path)) continue;
            set(
              rec.fields,
              add.path,
              add.template ? add.template.render(rec.fields) : add.constant,
            );
            changed = true;
          }
          if (changed) {
            touch(rec);
            modified++;
          }
          if (labelEntries.length > 0) {
            const cur = rec.labels;
            if (cur === undefined) {
              rec.labels = staticLabels;
            } else {
              const next = { ...cur };
              for (const [k, v] of labelEntries) if (overwrite || !(k in next)) next[k] = v;
              rec.labels = next;
            }
          }
        }
        results.add('modified', modified);
        results.add('passed', records.length - modified);
        return records;
      },
    };
  },
});
