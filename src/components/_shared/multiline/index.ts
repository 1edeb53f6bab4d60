// The shared multiline engine (file input `multiline` option, `multiline` filter).
export {
  multilineOptions,
  multilineShape,
  PARSER_NAMES,
  type MultilineOptions,
} from './options.js';
export {
  compileLinePattern,
  compileMultiline,
  LOOKAROUND_INPUT_CAP,
  type CompiledMultiline,
} from './compile.js';
export {
  Group,
  HOLD,
  JOIN,
  MultilineJoiner,
  MultilineRules,
  PASS,
  type OffsetLineSink,
} from './engine.js';
export { BUILTIN, regexParser, type LineParser } from './parsers.js';
