// Built-in multiline parsers: small state machines over one stream's lines, written with string
// scans (startsWith / indexOf / charCodeAt) instead of regular expressions, so every line costs
// time linear in its length and an ordinary line costs a few scans.
//
// A parser answers two questions: can `line` begin a record (`start`: a state >= 0, or -1), and,
// in state `s` of an open record, does `line` continue it (`cont`: the next state, or -1 = the
// record ended before this line). Several parsers may be configured; a record stays open while
// any parser that accepted its first line accepts the next.

import type { ParserName } from './options.js';

export interface LineParser {
  readonly name: string;
  start(line: string): number;
  cont(state: number, line: string): number;
}

const SP = 32;
const TAB = 9;

/** Index of the first character that is not a space or tab. */
function indent(line: string): number {
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c !== SP && c !== TAB) break;
    i++;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `... 12 more` / `... 12 common frames omitted` at `i`. */
function framesOmitted(line: string, i: number): boolean {
  if (!line.startsWith('... ', i)) return false;
  let j = i + 4;
  const d = j;
  while (j < line.length && isDigit(line.charCodeAt(j))) j++;
  if (j === d) return false;
  return line.startsWith(' more', j) || line.startsWith(' common frames omitted', j);
}

/**
 * An exception header: `word` (Exception, Error, Throwable) ending a token that is followed by
 * `:` or the end of the line (`java.lang.IllegalStateException: boom`,
 * `Exception in thread "main" java.lang.StackOverflowError`). Frames (indented lines) never are.
 */
function exceptionHeader(line: string, words: readonly string[]): boolean {
  if (line.length === 0) return false;
  const c0 = line.charCodeAt(0);
  if (c0 === SP || c0 === TAB) return false;
  for (const w of words) {
    let at = line.indexOf(w);
    while (at >= 0) {
      const end = at + w.length;
      if (end === line.length || line.charCodeAt(end) === 58 /* : */ || line.charCodeAt(end) === 13)
        return true;
      at = line.indexOf(w, end);
    }
  }
  return false;
}

const JAVA_WORDS = ['Exception', 'Error', 'Throwable'];

/** Java / JVM: header, `at` frames, `Caused by:`, `Suppressed:`, `... N more`. */
export const java: LineParser = {
  name: 'java',
  start: (line) => (exceptionHeader(line, JAVA_WORDS) ? 1 : -1),
  cont(_s, line) {
    const i = indent(line);
    if (i > 0 && line.startsWith('at ', i)) return 1;
    if (line.startsWith('Caused by: ', i)) return 1;
    if (line.startsWith('Suppressed: ', i)) return 1;
    if (i > 0 && framesOmitted(line, i)) return 1;
    if (line.startsWith('nested exception is', i)) return 1;
    return -1;
  },
};

const TRACEBACK = 'Traceback (most recent call last):';
const PY_FRAMES = 1;
const PY_AFTER = 2;
const PY_CHAIN = 3;

/**
 * Python: `Traceback (most recent call last):`, indented frames and code, the exception line,
 * then chained tracebacks (`During handling of the above exception, another exception
 * occurred:` / `The above exception was the direct cause of the following exception:`).
 */
export const python: LineParser = {
  name: 'python',
  start: (line) => (line.startsWith(TRACEBACK) ? PY_FRAMES : -1),
  cont(s, line) {
    if (s === PY_FRAMES) {
      if (line.length === 0) return -1;
      // Indented: a frame, its source line, a `^^^^` marker; else the exception line.
      return indent(line) > 0 ? PY_FRAMES : PY_AFTER;
    }
    if (line.length === 0) return s;
    if (s === PY_AFTER) {
      if (
        line.startsWith('During handling of the above exception') ||
        line.startsWith('The above exception was the direct cause')
      )
        return PY_CHAIN;
      return -1;
    }
    return line.startsWith(TRACEBACK) ? PY_FRAMES : -1;
  },
};

const GO_HEAD = 1;
const GO_STACK = 2;
const GO_FILE = 3;

function goroutineHeader(line: string): boolean {
  return (
    line.startsWith('goroutine ') &&
    isDigit(line.charCodeAt(10)) &&
    line.charCodeAt(line.length - 1) === 58 /* : */
  );
}

/** `main.(*T).Serve(0xc000010000, {0x1, 0x2})` or `created by main.main in goroutine 1`. */
function goFunction(line: string): boolean {
  if (line.startsWith('created by ')) return true;
  const c0 = line.charCodeAt(0);
  if (line.length === 0 || c0 === SP || c0 === TAB) return false;
  const p = line.indexOf('(');
  if (p <= 0 || line.charCodeAt(line.length - 1) !== 41 /* ) */) return false;
  const sp = line.indexOf(' ');
  return sp < 0 || sp > p;
}

/** Go: `panic:` / `fatal error:` then goroutine dumps (function line, tab-indented file line). */
export const go: LineParser = {
  name: 'go',
  start(line) {
    if (line.startsWith('panic: ') || line.startsWith('fatal error: ')) return GO_HEAD;
    return goroutineHeader(line) ? GO_STACK : -1;
  },
  cont(s, line) {
    if (line.length === 0) return GO_HEAD;
    if (s === GO_FILE) return line.charCodeAt(0) === TAB ? GO_STACK : -1;
    if (goroutineHeader(line) || line === 'runtime stack:') return GO_STACK;
    if (s === GO_HEAD) {
      if (line.startsWith('[signal ') || line.startsWith('\tpanic: ') || line.startsWith('panic: '))
        return GO_HEAD;
      return -1;
    }
    // GO_STACK
    if (line.charCodeAt(0) === TAB) return GO_STACK;
    if (line === '...additional frames elided...') return GO_STACK;
    return goFunction(line) ? GO_FILE : -1;
  },
};

/** `file.rb:3:in 'm'` / ``file.rb:3:in `m'`` somewhere in the line. */
function rubyFrame(line: string, from: number): boolean {
  const a = line.indexOf(':in `', from);
  if (a > 0) return true;
  return line.indexOf(":in '", from) > 0;
}

/** Ends with `(SomeError)` / `(Some::Exception)`: Ruby's uncaught-exception header. */
function rubyClassSuffix(line: string): boolean {
  if (line.charCodeAt(line.length - 1) !== 41 /* ) */) return false;
  const p = line.lastIndexOf('(');
  if (p < 0) return false;
  const c = line.charCodeAt(p + 1);
  if (c < 65 || c > 90) return false;
  for (let i = p + 2; i < line.length - 1; i++) {
    const d = line.charCodeAt(i);
    const ok = (d >= 65 && d <= 90) || (d >= 97 && d <= 122) || isDigit(d) || d === 58 || d === 95;
    if (!ok) return false;
  }
  return true;
}

/** Ruby: `app.rb:3:in 'divide': divided by 0 (ZeroDivisionError)` then `\tfrom ...` lines. */
export const ruby: LineParser = {
  name: 'ruby',
  start(line) {
    const c0 = line.charCodeAt(0);
    if (line.length === 0 || c0 === SP || c0 === TAB) return -1;
    return rubyClassSuffix(line) && (rubyFrame(line, 0) || line.endsWith('Error)')) ? 1 : -1;
  },
  cont(_s, line) {
    const i = indent(line);
    if (i > 0 && line.startsWith('from ', i)) return 1;
    if (i > 0 && line.startsWith('... ', i) && line.endsWith(' levels...')) return 1;
    // Logger format: bare frames `app/models/user.rb:12:in 'save'`.
    if (
      i === 0 &&
      line.length > 0 &&
      rubyFrame(line, 0) &&
      line.indexOf(' ') > line.indexOf(':in ') &&
      !rubyClassSuffix(line)
    )
      return 1;
    return -1;
  },
};

const DOTNET_WORDS = ['Exception'];

/** .NET: `System.InvalidOperationException: ...`, `   at ...` frames, inner exceptions. */
export const dotnet: LineParser = {
  name: 'dotnet',
  start: (line) => (exceptionHeader(line, DOTNET_WORDS) ? 1 : -1),
  cont(_s, line) {
    const i = indent(line);
    if (i > 0 && line.startsWith('at ', i)) return 1;
    if (line.startsWith('---> ', i)) return 1;
    if (line.startsWith('--- End of ', i)) return 1;
    if (line.startsWith('(Inner Exception #', i)) return 1;
    return -1;
  },
};

/** A compiled pattern test (see compile.ts: safe compiler, capped lookaround input). */
export type LineTest = (line: string) => boolean;

/**
 * Custom patterns. start only: a line matching it begins a record, every other line joins.
 * continue only: a line matching it joins the line before. Both: start begins, continue joins,
 * other lines are records of their own.
 */
export function regexParser(start: LineTest | undefined, cont: LineTest | undefined): LineParser {
  if (start && cont)
    return {
      name: 'regex',
      start: (line) => (start(line) ? 1 : -1),
      cont: (_s, line) => (!start(line) && cont(line) ? 1 : -1),
    };
  if (start) return { name: 'regex', start: () => 1, cont: (_s, line) => (start(line) ? -1 : 1) };
  if (cont) return { name: 'regex', start: () => 1, cont: (_s, line) => (cont(line) ? 1 : -1) };
  throw new Error('regexParser needs a pattern');
}

export const BUILTIN: Record<Exclude<ParserName, 'regex'>, LineParser> = {
  java,
  python,
  go,
  ruby,
  dotnet,
};
