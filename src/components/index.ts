// Every component type shiplog knows, by kind. Add a component: create its folder, export its
// definition from its index.ts, list it here (one line, kept sorted within its kind).

import type { AnyDef } from '../core/component.js';

// inputs
import demoInput from './inputs/demo/index.js';
import fileInput from './inputs/file/index.js';
import journaldInput from './inputs/journald/index.js';
import kubernetesInput from './inputs/kubernetes/index.js';
import stdinInput from './inputs/stdin/index.js';
// filters
import enrichFilter from './filters/enrich/index.js';
import grepFilter from './filters/grep/index.js';
import labelFilter from './filters/label/index.js';
import modifyFilter from './filters/modify/index.js';
import parseJsonFilter from './filters/parse_json/index.js';
import parseLogfmtFilter from './filters/parse_logfmt/index.js';
import parseRegexFilter from './filters/parse_regex/index.js';
import redactFilter from './filters/redact/index.js';
import throttleFilter from './filters/throttle/index.js';
// outputs
import elasticsearchOutput from './outputs/elasticsearch/index.js';
import lokiOutput from './outputs/loki/index.js';
import s3Output from './outputs/s3/index.js';
import stdoutOutput from './outputs/stdout/index.js';

export const allComponents: AnyDef[] = [
  // inputs
  demoInput,
  fileInput,
  journaldInput,
  kubernetesInput,
  stdinInput,
  // filters
  enrichFilter,
  grepFilter,
  labelFilter,
  modifyFilter,
  parseJsonFilter,
  parseLogfmtFilter,
  parseRegexFilter,
  redactFilter,
  throttleFilter,
  // outputs
  elasticsearchOutput,
  lokiOutput,
  s3Output,
  stdoutOutput,
] as AnyDef[];
