// Every component type shiplog knows, by kind. Add a component: create its folder, export its
// definition from its index.ts, list it here (one line, kept sorted within its kind).

import type { AnyDef } from '../core/component.js';

// inputs
import demoInput from './inputs/demo/index.js';
import fileInput from './inputs/file/index.js';
import journaldInput from './inputs/journald/index.js';
import stdinInput from './inputs/stdin/index.js';
// filters
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
  stdinInput,
  // filters
  // outputs
  elasticsearchOutput,
  lokiOutput,
  s3Output,
  stdoutOutput,
] as AnyDef[];
