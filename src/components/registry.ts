// The component registry: every input, filter and output type, by kind. The list lives in
// src/components/index.ts; the config schema, `shiplog schema` and the docs are built from it.
//
// Heavy components (loki, elasticsearch, s3, kubernetes, journald) are listed by their `meta`
// (type, description, option schema) and a loader: validation and the docs need only the schema,
// and their implementation — with undici, snappy, protobufjs, the AWS SDK — is imported only when
// a config uses them. `loadComponents(config)` imports what a config names before a Pipeline is
// built on it, so `create()` stays synchronous and a factory's config errors are reported at
// build time (validate, start, reload). A component whose implementation was not loaded first
// still works: its instance imports the implementation and constructs it in `start()`.

import { z } from 'zod';
import type {
  AnyDef,
  Filter,
  FilterDef,
  Input,
  InputDef,
  Kind,
  Lifecycle,
  Output,
  OutputDef,
} from '../core/component.js';
import { allComponents, type LazyComponent } from './index.js';
import { duration, size } from '../core/units.js';

interface Slot {
  /** The loaded definition (with its factory). */
  def?: AnyDef;
  /** A lazily loaded component: its metadata and how to load it. */
  lazy?: LazyComponent;
  loading?: Promise<AnyDef>;
  /** Stand-in definition handed out while the implementation is not loaded. */
  deferred?: AnyDef;
}

const byKind: Record<Kind, Map<string, Slot>> = {
  input: new Map(),
  filter: new Map(),
  output: new Map(),
};
for (const c of allComponents) {
  const kind = 'load' in c ? c.meta.kind : c.kind;
  const type = 'load' in c ? c.meta.type : c.type;
  if (byKind[kind].has(type)) throw new Error(`duplicate ${kind} type ${type}`);
  byKind[kind].set(type, 'load' in c ? { lazy: c } : { def: c });
}

/** Add a component type at run time (tests register capture outputs this way). */
export function register(def: AnyDef): void {
  byKind[def.kind].set(def.type, { def });
}

function slotOf(kind: Kind, type: string): Slot | undefined {
  return byKind[kind].get(type);
}

/** The definition of a type: the loaded one, or a stand-in whose instances load on start(). */
function defOf(slot: Slot): AnyDef {
  if (slot.def) return slot.def;
  const lazy = slot.lazy!;
  slot.deferred ??= {
    ...lazy.meta,
    create: (config: never, ctx: never) =>
      deferredInstance(lazy.meta.kind, load(slot), config, ctx),
  } as AnyDef;
  return slot.deferred;
}

function load(slot: Slot): () => Promise<AnyDef> {
  return () => {
    if (slot.def) return Promise.resolve(slot.def);
    slot.loading ??= slot.lazy!.load().then(
      (m) => (slot.def = m.default),
      (e: unknown) => {
        slot.loading = undefined;
        throw e;
      },
    );
    return slot.loading;
  };
}

export function getDef(kind: 'input', type: string): InputDef;
export function getDef(kind: 'filter', type: string): FilterDef;
export function getDef(kind: 'output', type: string): OutputDef;
export function getDef(kind: Kind, type: string): AnyDef {
  const s = slotOf(kind, type);
  if (!s) throw new Error(`unknown ${kind} type ${type}`);
  return defOf(s);
}

export function findDef(kind: Kind, type: string): AnyDef | undefined {
  const s = slotOf(kind, type);
  return s && defOf(s);
}

export function typesOf(kind: Kind): string[] {
  return [...byKind[kind].keys()].sort();
}

/** True once the implementation of a type is loaded (always, for the light components). */
export function isLoaded(kind: Kind, type: string): boolean {
  return slotOf(kind, type)?.def !== undefined;
}

/** The component types a config (or a pipeline section) names. */
interface UsesComponents {
  pipeline: {
    inputs?: Array<{ type: string }>;
    filters?: Array<{ type: string }>;
    outputs?: Array<{ type: string }>;
  };
}

/**
 * Import the implementations of the component types `config` uses (unknown types are left to
 * validation). Call it before building a Pipeline on the config: then every `create()` builds the
 * real component, synchronously, and its config errors surface at build time.
 */
export async function loadComponents(
  config: UsesComponents,
  extra: Array<[Kind, string]> = [],
): Promise<void> {
  const wanted: Array<[Kind, string]> = [...extra];
  for (const [kind, list] of [
    ['input', config.pipeline.inputs],
    ['filter', config.pipeline.filters],
    ['output', config.pipeline.outputs],
  ] as const)
    for (const c of list ?? []) wanted.push([kind, c.type]);
  await Promise.all(
    wanted.map(([kind, type]) => {
      const s = slotOf(kind, type);
      return s && !s.def ? load(s)() : undefined;
    }),
  );
}

/**
 * An instance of a component whose implementation was not loaded when the pipeline was built: it
 * imports and constructs the real one in start() (outputs start before inputs emit, filters before
 * inputs, so write()/process() always find it).
 */
function deferredInstance(
  kind: Kind,
  load: () => Promise<AnyDef>,
  config: never,
  ctx: never,
): Input | Filter | Output {
  let impl: (Input & Filter & Output) | undefined;
  let ready: Promise<Input & Filter & Output> | undefined;
  const real = (): Promise<Input & Filter & Output> =>
    (ready ??= load().then((def) => (impl = def.create(config, ctx) as Input & Filter & Output)));
  const base: Lifecycle = {
    async start() {
      await (await real()).start();
    },
    async stop() {
      // Stopping what never started: nothing was constructed, nothing to flush.
      if (ready) await (await ready.catch(() => undefined))?.stop();
    },
    health() {
      return impl?.health?.() ?? { ok: true };
    },
  };
  if (kind === 'input')
    return {
      ...base,
      async drained() {
        await (await real()).drained?.();
      },
    } satisfies Input;
  if (kind === 'filter')
    return {
      ...base,
      process(records, tag) {
        if (!impl) throw new Error('filter used before start()');
        return impl.process(records, tag);
      },
      pressure() {
        return impl?.pressure?.();
      },
    } satisfies Filter;
  return {
    ...base,
    write(batch) {
      impl!.write(batch);
    },
    async healthcheck() {
      await (await real()).healthcheck?.();
    },
  } satisfies Output;
}

const matchSchema = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .default('*')
  .describe('Tag glob(s) selecting the records this component sees: `*`, `kube.*`, `agents`.');

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
