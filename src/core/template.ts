// `{a.b.c}` field templates, compiled once at start-up into a list of parts so rendering a
// record costs string concatenation only. `{{` and `}}` escape literal braces.

import { getPath, stringifyValue, type Fields } from './record.js';

type Part = string | { path: string[] };

export interface Template {
  /** The template text as configured. */
  readonly source: string;
  /** True when the template references no field (renders to a constant). */
  readonly constant: boolean;
  /** Field paths referenced. */
  readonly fields: string[];
  render(fields: Fields, extra?: Record<string, string>): string;
}

export function compileTemplate(source: string): Template {
  const parts: Part[] = [];
  let lit = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '{' && source[i + 1] === '{') {
      lit += '{';
      i++;
    } else if (c === '}' && source[i + 1] === '}') {
      lit += '}';
      i++;
    } else if (c === '{') {
      const end = source.indexOf('}', i);
      if (end === -1) throw new Error(`unclosed "{" in template "${source}"`);
      const ref = source.slice(i + 1, end).trim();
      if (!/^[A-Za-z0-9_@$\-[\]]+(\.[A-Za-z0-9_@$\-[\]]+)*$/.test(ref)) {
        throw new Error(`invalid field reference "{${ref}}" in template "${source}"`);
      }
      if (lit) parts.push(lit);
      lit = '';
      parts.push({ path: ref.split('.') });
      i = end;
    } else {
      lit += c;
    }
  }
  if (lit) parts.push(lit);
  const fields = parts
    .filter((p): p is { path: string[] } => typeof p !== 'string')
    .map((p) => p.path.join('.'));
  const constant = fields.length === 0;
  const constValue = constant ? parts.join('') : '';
  return {
    source,
    constant,
    fields,
    render(rec: Fields, extra?: Record<string, string>): string {
      if (constant) return constValue;
      let out = '';
      for (const p of parts) {
        if (typeof p === 'string') out += p;
        else if (extra && p.path.length === 1 && p.path[0] in extra) out += extra[p.path[0]];
        else out += stringifyValue(getPath(rec, p.path));
      }
      return out;
    },
  };
}
