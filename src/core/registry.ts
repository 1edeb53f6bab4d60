// The component registry: every input, filter and output type, by kind. The list lives in
// src/components/index.ts; the config schema, `shiplog schema` and the docs are built from it.

import { z } from 'zod';
import type { AnyDef, FilterDef, InputDef, Kind, OutputDef } from './component.js';
import { allComponents } from '../components/index.js';
import { duration, size } from '../config/units.js';

const byKind: Record<Kind, Map<string, AnyDef>> = {
  input: new Map(),
  filter: new Map(),
  output: new Map(),
};
for (const def of allComponents) {
  if (byKind[def.kind].has(def.type)) throw new Error(`duplicate ${def.kind} type ${def.type}`);
  byKind[def.kind].set(def.type, def);
}

/** Add a component type at run time (tests register capture outputs this way). */
export function register(def: AnyDef): void {
  byKind[def.kind].set(def.type, def);
}

export function getDef(kind: 'input', type: string): InputDef;
export function getDef(kind: 'filter', type: string): FilterDef;
export function getDef(kind: 'output', type: string): OutputDef;
export function getDef(kind: Kind, type: string): AnyDef {
  const d = byKind[kind].get(type);
  if (!d) throw new Error(`unknown ${kind} type ${type}`);
  return d;
}

export function findDef(kind: Kind, type: string): AnyDef | undefined {
  return byKind[kind].get(type);
}

export function typesOf(kind: Kind): string[] {
  return [...byKind[kind].keys()].sort();
}

const matchSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .default('*')
  .describe('Tag glob(s) selecting the records this component sees: "*", "kube.*", "agents".');

/** Keys every component of a kind accepts, besides its own options. */
export function commonShape(kind: Kind, type: string) {
  const base = {
    type: z.literal(type).describe(`Component type.`),
    id: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "-" and "." only')
      .optional()
      .describe('Unique id; names metrics, checkpoints and dead-letter files. Default <type>_<n>.'),
  };
  if (kind === 'input') {
    return {
      ...base,
      tag: z
        .string()
        .min(1)
        .optional()
        .describe('Routing tag stamped on every record. Default: the id.'),
    };
  }
  if (kind === 'filter') return { ...base, match: matchSchema };
  return {
    ...base,
    match: matchSchema,
    buffer: z
      .strictObject({
        type: z
          .enum(['disk', 'memory'])
          .optional()
          .describe(
            'disk: a durable queue under data_dir/queue/<id>; inputs commit once records are in it, so a backend outage survives restarts and deleted sources. memory: inputs commit only on delivery. Default: disk (stdout: memory; memory when data_dir is not writable).',
          ),
        max_size: size(
          'Largest disk queue of this output; inputs feeding it pause (or drop_newest drops) when it is full.',
        ).prefault('256MiB'),
        max_bytes: size(
          'Bytes buffered for this output before inputs pause. Default: service.memory_limit / number of outputs.',
        ).optional(),
        when_full: z
          .enum(['block', 'drop_newest'])
          .default('block')
          .describe(
            'block: pause the inputs feeding this output (lossless). drop_newest: drop and count new records.',
          ),
      })
      .prefault({})
      .describe('Bounded buffer of this output.'),
    retry: z
      .strictObject({
        initial: duration('First backoff ceiling; full jitter between 0 and the ceiling.').prefault(
          '1s',
        ),
        max: duration('Largest backoff ceiling.').prefault('60s'),
        max_elapsed: duration(
          'Give up after this long and dead-letter the records. Default: retry forever.',
        ).optional(),
      })
      .prefault({})
      .describe('Retries of retryable failures (network, timeouts, 429, 5xx).'),
  };
}

/** The full strict schema of one component type: common keys + its options. */
export function componentSchema(def: AnyDef): z.ZodObject {
  return z
    .strictObject({ ...commonShape(def.kind, def.type), ...def.options.shape })
    .describe(def.description);
}
