// User-supplied regular expressions (grep, parse_regex, redact patterns) must not let one log
// line stall the pipeline. V8 can switch a regexp that backtracks excessively to its linear-time
// engine; we turn that on (process-wide, harmless for well-behaved regexps) and, for the features
// that engine does not support (lookaround, backreferences), refuse patterns whose shape can
// backtrack catastrophically (a quantified group that itself contains a quantifier or `|`).

import v8 from 'node:v8';
import { ConfigError } from '../../../core/errors.js';

let enabled = false;

/** Enable V8's fallback to the linear-time regexp engine after excessive backtracking. */
export function enableLinearFallback(): void {
  if (enabled) return;
  enabled = true;
  v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
}

/**
 * Does the pattern use a feature V8's linear engine cannot run (so the fallback would not save
 * it)? Lookarounds and backreferences.
 */
export function needsBacktracking(source: string): boolean {
  return /\(\?<?[=!]|\\[1-9]|\\k</.test(source);
}

/**
 * Find a quantified group that contains a quantifier or an alternation (`(a+)+`, `(a|aa)*`,
 * `(\w+\s?){2,}`): the shapes whose backtracking grows exponentially. Returns the offending group
 * text, or undefined. Character classes and escapes are skipped.
 */
export function nestedQuantifier(source: string): string | undefined {
  const stack: Array<{ start: number; risky: boolean }> = [];
  let lastGroup: { start: number; risky: boolean; end: number } | undefined;
  let i = 0;
  const n = source.length;
  const quantAt = (j: number): number => {
    // Returns the length of an unbounded-ish quantifier at j (0 if none or a `?`/{0,1}/{n}).
    const c = source[j];
    if (c === '*' || c === '+') return 1;
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(j));
      if (!m) return 0;
      if (m[2] === undefined) return 0; // {n}: fixed count
      if (m[3] === '' || Number(m[3]) > 1) return m[0].length;
    }
    return 0;
  };
  while (i < n) {
    const c = source[i];
    if (c === '\\') {
      i += 2;
      lastGroup = undefined;
      continue;
    }
    if (c === '[') {
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      while (i < n && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      i++;
      lastGroup = undefined;
      continue;
    }
    if (c === '(') {
      stack.push({ start: i, risky: false });
      i++;
      lastGroup = undefined;
      continue;
    }
    if (c === ')') {
      const g = stack.pop();
      i++;
      if (g) {
        lastGroup = { ...g, end: i };
        if (stack.length) stack[stack.length - 1].risky ||= g.risky;
      }
      continue;
    }
    if (c === '|') {
      if (stack.length) stack[stack.length - 1].risky = true;
      i++;
      continue;
    }
    const q = quantAt(i) || (c === '?' ? 1 : 0);
    if (q > 0) {
      const unbounded = c !== '?';
      if (unbounded && lastGroup?.risky) return source.slice(lastGroup.start, lastGroup.end + q);
      if (unbounded && stack.length) stack[stack.length - 1].risky = true;
      i += q;
      if (source[i] === '?' || source[i] === '+') i++; // lazy / possessive suffix
      lastGroup = undefined;
      continue;
    }
    lastGroup = undefined;
    i++;
  }
  return undefined;
}

/**
 * Compile a user pattern for `where` (a config key path, for the error). Throws ConfigError when
 * it is invalid or could backtrack catastrophically without the linear-engine safety net.
 */
export function compileUserRegex(source: string, where: string, flags = ''): RegExp {
  enableLinearFallback();
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (e) {
    throw new ConfigError([
      { code: 'SHIPLOG_CONFIG_INVALID', path: where, message: (e as Error).message },
    ]);
  }
  if (needsBacktracking(source)) {
    const bad = nestedQuantifier(source);
    if (bad !== undefined) {
      throw new ConfigError([
        {
          code: 'SHIPLOG_CONFIG_INVALID',
          path: where,
          message: `pattern uses lookaround or a backreference and the nested quantifier ${JSON.stringify(bad)}: it could backtrack catastrophically on a hostile line. Remove the lookaround/backreference or the nesting.`,
        },
      ]);
    }
  }
  return re;
}

/** Build a ConfigError for one option. */
export function configError(where: string, message: string): ConfigError {
  return new ConfigError([{ code: 'SHIPLOG_CONFIG_INVALID', path: where, message }]);
}
