// [PARSER] definitions (from Parsers_File or a YAML `parsers:` list) → parse_json, parse_regex
// and parse_logfmt filters: Time_Key/Time_Format/Time_Keep, Types. When a named parser is not in
// the files read, Fluent Bit's stock json/docker/cri/logfmt definitions are assumed.

import type { Conv, Obj } from './context.js';
import { at, bool, type Entry, type Section } from './model.js';

interface ParserDef {
  format: string;
  regex?: string;
  timeKey?: string;
  timeFormat?: string;
  timeKeep: boolean;
  types?: string;
  section?: Section;
}

/** Fluent Bit's conf/parsers.conf entries for the names configs use most. */
const STOCK: Record<string, ParserDef> = {
  json: { format: 'json', timeKey: 'time', timeFormat: '%d/%b/%Y:%H:%M:%S %z', timeKeep: false },
  docker: { format: 'json', timeKey: 'time', timeFormat: '%Y-%m-%dT%H:%M:%S.%L', timeKeep: true },
  cri: {
    format: 'regex',
    regex: '^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<message>.*)$',
    timeKey: 'time',
    timeFormat: '%Y-%m-%dT%H:%M:%S.%L%z',
    timeKeep: true,
  },
  logfmt: { format: 'logfmt', timeKeep: false },
};

function definition(c: Conv, name: string, where: Entry): ParserDef | undefined {
  const s = c.parsers.get(name.toLowerCase());
  if (s) {
    const g = (k: string): string | undefined => s.entries.findLast((e) => e.key === k)?.value;
    return {
      format: (g('format') ?? '').toLowerCase(),
      regex: g('regex'),
      timeKey: g('time_key'),
      timeFormat: g('time_format'),
      timeKeep: bool(g('time_keep'), false),
      types: g('types'),
      section: s,
    };
  }
  const stock = STOCK[name.toLowerCase()];
  if (stock) {
    c.report.add(
      at(where),
      'info',
      `${where.rawKey} ${name}`,
      `parser "${name}" is not in the parsers files read; Fluent Bit's stock definition was used`,
      'check it matches the parsers.conf your Fluent Bit ships',
    );
    return stock;
  }
  c.report.add(
    at(where),
    'error',
    `${where.rawKey} ${name}`,
    `parser "${name}" is not defined in any parsers file read`,
    'pass the parsers file (Parsers_File) or add a parse_regex/parse_json filter by hand',
  );
  return undefined;
}

/** Fluent Bit (Onigmo) regex → JavaScript: `(?<name>` is the same; `\h` is a hex digit there. */
function jsRegex(re: string): string {
  return re.replace(/^\/(.*)\/[a-z]*$/, '$1').replace(/\\h/g, '[0-9a-fA-F]');
}

export function parserRegex(c: Conv, name: string): string | undefined {
  const s = c.parsers.get(name.toLowerCase());
  const re = s?.entries.findLast((e) => e.key === 'regex')?.value;
  return re ? jsRegex(re) : undefined;
}

/** Fluent Bit strptime extensions: %L is fractional seconds (shiplog %f). */
function timeFormat(f: string): string {
  return f.replace(/%L/g, '%f');
}

const TYPE_MAP: Record<string, string> = {
  integer: 'int',
  float: 'float',
  bool: 'bool',
  string: '',
};

/**
 * Filters parsing `field` with each named parser in turn (Fluent Bit tries them in order until one
 * matches; shiplog runs them in order and a parsed record no longer has the field).
 */
export function parserFilters(
  c: Conv,
  where: Entry,
  names: string[],
  field: string,
  opts: { reserve: boolean; preserve?: boolean },
): Obj[] {
  const out: Obj[] = [];
  for (const name of names) {
    const d = definition(c, name, where);
    if (!d) continue;
    const f: Obj = { field };
    if (opts.preserve) f.keep_original = true;
    if (d.format === 'json') f.type = 'parse_json';
    else if (d.format === 'logfmt') f.type = 'parse_logfmt';
    else if (d.format === 'regex' && d.regex) {
      f.type = 'parse_regex';
      f.pattern = jsRegex(d.regex);
      try {
        new RegExp(f.pattern as string);
      } catch (e) {
        c.report.add(
          at(d.section ?? where),
          'error',
          `Regex of parser ${name}`,
          `not a JavaScript regular expression: ${(e as Error).message}`,
          'rewrite it for parse_regex',
        );
        continue;
      }
    } else {
      c.report.add(
        at(d.section ?? where),
        'error',
        `parser ${name} (Format ${d.format || '?'})`,
        `shiplog has parse_json, parse_regex and parse_logfmt; format "${d.format}" has no equivalent`,
        'add a parse_regex filter by hand',
      );
      continue;
    }
    if (d.timeKey) {
      f.time_field = d.timeKey;
      if (d.timeFormat) f.time_format = timeFormat(d.timeFormat);
      f.keep_time = d.timeKeep;
    }
    if (d.types) {
      const types: Record<string, string> = {};
      for (const t of d.types.split(/\s+/)) {
        const [k, v] = t.split(':');
        const m = TYPE_MAP[(v ?? '').toLowerCase()];
        if (m) types[k] = m;
        else if (m === undefined)
          c.report.add(
            at(d.section ?? where),
            'warning',
            `Types ${t}`,
            `type "${v}" has no equivalent`,
            'convert the value in a later filter',
          );
      }
      if (Object.keys(types).length) {
        if (f.type === 'parse_json')
          c.report.add(
            at(d.section ?? where),
            'warning',
            `Types ${d.types}`,
            'parse_json keeps JSON types; Types is not applied',
            '',
          );
        else f.types = types;
      }
    }
    f.overwrite = true;
    out.push(f);
  }
  if (!opts.reserve && out.length)
    c.report.add(
      at(where),
      'info',
      `${where.rawKey} ${names.join(', ')} (Reserve_Data Off)`,
      'Fluent Bit keeps only the parsed fields when Reserve_Data is off; shiplog keeps the other fields of the record too',
      'add a modify filter removing the fields you do not want',
    );
  return out;
}
