// Compile a `multiline` option (options.ts) into parsers, once, at config time. User patterns go
// through the same safe compiler as parse_regex and grep (V8's linear-time fallback on excessive
// backtracking); backreferences are refused (no linear engine runs them); a pattern with
// lookaround (which the linear engine cannot run either) only sees the first 1 KiB of a line.

import { configError, compileUserRegex } from '../../filters/_shared/regex.js';
import { BUILTIN, regexParser, type LineParser, type LineTest } from './parsers.js';
import type { MultilineOptions } from './options.js';

/** Input cap of a pattern with lookaround. */
export const LOOKAROUND_INPUT_CAP = 1024;

export interface CompiledMultiline {
  parsers: LineParser[];
  maxLines: number;
  maxBytes: number;
  /** ms */
  flushTimeout: number;
}

/** Compile one user pattern; `where` is the key path named in errors. */
export function compileLinePattern(source: string, where: string): LineTest {
  if (/\\[1-9]|\\k</.test(source))
    throw configError(
      where,
      'backreferences (\\1, \\k<name>) are not allowed in multiline patterns: they cannot run in linear time',
    );
  const re = compileUserRegex(source, where);
  if (/\(\?<?[=!]/.test(source)) {
    return (line) =>
      re.test(line.length > LOOKAROUND_INPUT_CAP ? line.slice(0, LOOKAROUND_INPUT_CAP) : line);
  }
  return (line) => re.test(line);
}

const cache = new WeakMap<object, CompiledMultiline>();

/** Validate and compile (ConfigError naming `where` on a problem). Cached per options object. */
export function compileMultiline(opts: MultilineOptions, where: string): CompiledMultiline {
  const hit = cache.get(opts);
  if (hit) return hit;
  const start =
    opts.start_pattern !== undefined
      ? compileLinePattern(opts.start_pattern, `${where}.start_pattern`)
      : undefined;
  const cont =
    opts.continue_pattern !== undefined
      ? compileLinePattern(opts.continue_pattern, `${where}.continue_pattern`)
      : undefined;
  const names = opts.parsers.length > 0 ? opts.parsers : (['regex'] as const);
  const parsers: LineParser[] = [];
  for (const name of names) {
    if (name === 'regex') {
      if (!start && !cont)
        throw configError(
          where,
          'needs start_pattern or continue_pattern (or built-in parsers: java, python, go, ruby, dotnet)',
        );
      parsers.push(regexParser(start, cont));
    } else parsers.push(BUILTIN[name]);
  }
  if ((start || cont) && !names.includes('regex'))
    throw configError(where, 'start_pattern/continue_pattern need `regex` in parsers');
  const out: CompiledMultiline = {
    parsers,
    maxLines: opts.max_lines,
    maxBytes: opts.max_bytes,
    flushTimeout: opts.timeout ?? opts.flush_timeout,
  };
  cache.set(opts, out);
  return out;
}
