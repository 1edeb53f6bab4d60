// Every component type shiplog knows, by kind. Add a component: create its folder, export its
// definition from its index.ts, list it here (one line, kept sorted within its kind).
//
// Components with heavy implementations are listed lazily: their `meta.ts` (type, description,
// option schema: all that validation and the docs need) and a loader of their index.ts, imported
// only when a config uses them (see src/core/registry.ts). The others are small enough to load
// always.

import type { AnyDef, FilterDef, InputDef, OutputDef } from '../core/component.js';

// inputs
import demoInput from './inputs/demo/index.js';
import fileInput from './inputs/file/index.js';
import { meta as journaldMeta } from './inputs/journald/meta.js';
import { meta as kubernetesMeta } from './inputs/kubernetes/meta.js';
import stdinInput from './inputs/stdin/index.js';
// filters
import enrichFilter from './filters/enrich/index.js';
import grepFilter from './filters/grep/index.js';
import labelFilter from './filters/label/index.js';
import modifyFilter from './filters/modify/index.js';
import multilineFilter from './filters/multiline/index.js';
import parseJsonFilter from './filters/parse_json/index.js';
import parseLogfmtFilter from './filters/parse_logfmt/index.js';
import parseRegexFilter from './filters/parse_regex/index.js';
import redactFilter from './filters/redact/index.js';
import throttleFilter from './filters/throttle/index.js';
// outputs
import { meta as elasticsearchMeta } from './outputs/elasticsearch/meta.js';
import { meta as lokiMeta } from './outputs/loki/meta.js';
import { meta as s3Meta } from './outputs/s3/meta.js';
import stdoutOutput from './outputs/stdout/index.js';

/** What the registry knows of a component without loading it: its definition minus the factory. */
export type ComponentMeta =
  Omit<InputDef, 'create'> | Omit<FilterDef, 'create'> | Omit<OutputDef, 'create'>;

/** A component known by its metadata; `load()` imports its definition (index.ts). */
export interface LazyComponent {
  meta: ComponentMeta;
  load: () => Promise<{ default: AnyDef }>;
}

const lazy = (
  meta: LazyComponent['meta'],
  load: () => Promise<{ default: unknown }>,
): LazyComponent => ({ meta, load: load as LazyComponent['load'] });

export const allComponents: Array<AnyDef | LazyComponent> = [
  // inputs
  demoInput,
  fileInput,
  lazy(journaldMeta, () => import('./inputs/journald/index.js')),
  lazy(kubernetesMeta, () => import('./inputs/kubernetes/index.js')),
  stdinInput,
  // filters
  enrichFilter,
  grepFilter,
  labelFilter,
  modifyFilter,
  multilineFilter,
  parseJsonFilter,
  parseLogfmtFilter,
  parseRegexFilter,
  redactFilter,
  throttleFilter,
  // outputs
  lazy(elasticsearchMeta, () => import('./outputs/elasticsearch/index.js')),
  lazy(lokiMeta, () => import('./outputs/loki/index.js')),
  lazy(s3Meta, () => import('./outputs/s3/index.js')),
  stdoutOutput,
] as Array<AnyDef | LazyComponent>;
