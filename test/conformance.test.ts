// Conformance of every registered component (issue #19): each input, filter and output type is
// created from a minimal config and put through the lifecycle contract of src/core/component.ts —
// stop() without start(), start → stop, a second stop(), and stop() while blocked (an input whose
// emit never resolves, an output whose backend refuses connections, a filter holding back) — and
// its config makes a round trip through the JSON Schema `shiplog schema` exports: the minimal
// config and the config as parsed (every default filled in) both validate against it, and parsing
// the parsed config again gives it back unchanged. A new component type fails the first test until
// it has an entry in MINIMAL below.

import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { jsonSchema } from '../src/config/schema.js';
import { getDef, loadComponents, typesOf } from '../src/components/registry.js';
import { stdinSource } from '../src/components/inputs/stdin/index.js';
import { SourceTracker } from '../src/core/acks.js';
import { CheckpointStore } from '../src/core/checkpoint-store.js';
import type {
  Filter,
  FilterDef,
  Input,
  InputDef,
  Kind,
  Lifecycle,
  Output,
  OutputDef,
} from '../src/core/component.js';
import { createDeadLetterWriter } from '../src/core/dead-letter.js';
import type { InputBatch, LogRecord } from '../src/core/record.js';
import { nullLogger } from '../src/telemetry/logger.js';
import { Metrics } from '../src/telemetry/metrics.js';

// Not test/helpers/harness.ts: it registers test-only component types.
const tempDir = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));

/** A port nothing listens on (bound, then closed): outputs pointed at it see ECONNREFUSED. */
let deadPort = 0;
let work = '';

beforeAll(async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  deadPort = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  work = tempDir('shiplog-conformance-');
  // file: a log with lines to read.
  mkdirSync(path.join(work, 'logs'));
  writeFileSync(
    path.join(work, 'logs', 'app.log'),
    Array.from({ length: 2000 }, (_, i) => `{"level":"info","n":${i}}\n`).join(''),
  );
  // kubernetes: one container log in kubelet's layout (CRI), no API.
  const pod = path.join(work, 'pods', 'default_web-1_0f0e0d0c-1111-2222-3333-444455556666', 'app');
  mkdirSync(pod, { recursive: true });
  writeFileSync(
    path.join(pod, '0.log'),
    Array.from(
      { length: 2000 },
      (_, i) => `2026-12-01T00:00:00.${String(i).padStart(6, '0')}000Z stdout F line ${i}\n`,
    ).join(''),
  );
  // journald: a journalctl that prints entries (JSON, as `-o json`) without end.
  const jctl = path.join(work, 'journalctl');
  writeFileSync(
    jctl,
    `#!/bin/sh
[ "$1" = "--version" ] && { echo "systemd 252 (252)"; exit 0; }
i=0
while :; do
  i=$((i+1))
  echo '{"__CURSOR":"s=c0;i='$i'","__REALTIME_TIMESTAMP":"1764547200000000","MESSAGE":"m '$i'","_SYSTEMD_UNIT":"a.service","PRIORITY":"6"}'
done
`,
  );
  chmodSync(jctl, 0o755);
  process.env.CONFORMANCE_AWS_KEY = 'AKIAEXAMPLE';
  process.env.CONFORMANCE_AWS_SECRET = 'secret-example';
});

afterAll(() => {
  delete process.env.CONFORMANCE_AWS_KEY;
  delete process.env.CONFORMANCE_AWS_SECRET;
});

/** Minimal config of every component type (the common keys come from the schema's defaults). */
const MINIMAL: Record<string, () => Record<string, unknown>> = {
  'input/demo': () => ({ rate: 0 }),
  'input/file': () => ({ paths: [path.join(work, 'logs', '*.log')], read_from: 'head' }),
  'input/journald': () => ({ journalctl_path: path.join(work, 'journalctl') }),
  'input/kubernetes': () => ({ paths: [path.join(work, 'pods', '*', '*', '*.log')] }),
  'input/stdin': () => ({}),
  'filter/enrich': () => ({ add: { env: 'test' } }),
  'filter/grep': () => ({ include: { level: 'info' } }),
  'filter/label': () => ({ from: ['level'] }),
  'filter/modify': () => ({ rename: { n: 'seq' } }),
  'filter/multiline': () => ({ parsers: ['java'] }),
  'filter/parse_json': () => ({}),
  'filter/parse_logfmt': () => ({}),
  'filter/parse_regex': () => ({ pattern: '^(?<word>\\w+)' }),
  'filter/redact': () => ({}),
  'filter/throttle': () => ({ rate: 1, action: 'block' }),
  'output/elasticsearch': () => ({
    url: `http://127.0.0.1:${deadPort}`,
    index: 'logs',
    retry: { initial: '100ms', max: '200ms' },
  }),
  'output/loki': () => ({
    url: `http://127.0.0.1:${deadPort}`,
    labels: { job: 'conformance' },
    retry: { initial: '100ms', max: '200ms' },
  }),
  'output/s3': () => ({
    bucket: 'logs',
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${deadPort}`,
    force_path_style: true,
    credentials: {
      access_key_id_env: 'CONFORMANCE_AWS_KEY',
      secret_access_key_env: 'CONFORMANCE_AWS_SECRET',
    },
    retry: { initial: '100ms', max: '200ms' },
  }),
  'output/stdout': () => ({}),
};

const plural = { input: 'inputs', filter: 'filters', output: 'outputs' } as const;

/** A whole config around one component (a demo input and a stdout output complete it). */
function configAround(kind: Kind, type: string, dataDir: string): Record<string, unknown> {
  const own = { id: 'subject', type, ...MINIMAL[`${kind}/${type}`]() };
  const inputs = kind === 'input' ? [{ ...own, tag: 'subject' }] : [{ type: 'demo', rate: 0 }];
  const outputs =
    kind === 'output'
      ? [{ ...own, match: '*', buffer: { type: 'memory' } }]
      : [{ type: 'stdout', match: '*' }];
  const filters = kind === 'filter' ? [{ ...own, match: '*' }] : [];
  return { service: { data_dir: dataDir }, pipeline: { inputs, filters, outputs } };
}

function parsedOwn(kind: Kind, config: Record<string, unknown>): Record<string, unknown> {
  const parsed = parseConfig(stringify(config), 'conformance.yaml', { env: process.env });
  const list = parsed.pipeline[plural[kind]] as Array<Record<string, unknown>>;
  return list.find((c) => c.id === 'subject')!;
}

interface Built {
  instance: Lifecycle;
  abort: AbortController;
  /**
   * stop() as the pipeline calls it: an input's signal is aborted and its backpressure released
   * first; an output's signal is aborted at the shutdown deadline (here 1 s after stop()).
   */
  stop(): Promise<void>;
  /** Make the instance busy in the way that blocks it (see the file comment). */
  block(): Promise<void>;
  emitted(): number;
}

function record(i: number): LogRecord {
  return {
    fields: { message: `2026-12-01 line ${i}`, level: 'info', n: i },
    timeMs: Date.now(),
    timeNs: 0,
  };
}

async function build(kind: Kind, type: string): Promise<Built> {
  const dataDir = tempDir('shiplog-conformance-data-');
  const cfg = parsedOwn(kind, configAround(kind, type, dataDir));
  await loadComponents({ pipeline: { [plural[kind]]: [{ type }] } });
  const metrics = new Metrics({ defaultMetrics: false });
  const abort = new AbortController();
  const base = { id: 'subject', type, log: nullLogger, metrics, dataDir, signal: abort.signal };
  if (kind === 'input') {
    const store = new CheckpointStore(path.join(dataDir, 'checkpoints.json'), nullLogger, 1000);
    await store.load();
    let emitted = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let blocked = false;
    const stdin = new PassThrough();
    if (type === 'stdin') stdinSource.stream = () => stdin;
    const input = (getDef('input', type) as InputDef).create(cfg as never, {
      ...base,
      tag: 'subject',
      checkpoints: store,
      oneShot: false,
      emit: (batch: InputBatch) => {
        emitted += batch.records.length;
        batch.token?.release();
        return blocked ? held : undefined;
      },
      source: (key) => new SourceTracker(`subject/${key}`, store, store.get(`subject/${key}`)),
      forget: (key) => store.delete(`subject/${key}`),
      savedSources: () => [],
    }) as Input;
    return {
      instance: input,
      abort,
      stop() {
        abort.abort(new Error('stopping'));
        release();
        return input.stop();
      },
      emitted: () => emitted,
      async block() {
        blocked = true;
        if (type === 'stdin') for (let i = 0; i < 2000; i++) stdin.write(`line ${i}\n`);
      },
    };
  }
  const deadLetter = createDeadLetterWriter(dataDir, 'subject', nullLogger, metrics);
  if (kind === 'filter') {
    const filter = (getDef('filter', type) as FilterDef).create(cfg as never, {
      ...base,
      deadLetter,
    }) as Filter;
    return {
      instance: filter,
      abort,
      stop: () => filter.stop(),
      emitted: () => 0,
      async block() {
        for (let i = 0; i < 5; i++)
          filter.process(
            Array.from({ length: 100 }, (_, j) => record(i * 100 + j)),
            'subject',
          );
      },
    };
  }
  const output = (getDef('output', type) as OutputDef).create(cfg as never, {
    ...base,
    deadLetter,
    bufferLimit: 8 << 20,
  }) as Output;
  return {
    instance: output,
    abort,
    async stop() {
      const deadline = setTimeout(() => abort.abort(new Error('shutdown timeout')), 1000);
      try {
        await output.stop();
      } finally {
        clearTimeout(deadline);
      }
    },
    emitted: () => 0,
    async block() {
      const records = Array.from({ length: 100 }, (_, i) => record(i));
      output.write({ tag: 'subject', records, bytes: 100 * 100, ack: () => undefined });
    },
  };
}

/** Resolves with the time `p` took, or fails the test once `ms` pass. */
async function within(p: Promise<unknown>, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - t0;
}

type Node = Record<string, unknown>;

/** The JSON Schema node of one component type (the `oneOf` branch whose `type` is that const). */
function componentNode(root: Node, kind: Kind, type: string): Node {
  const props = (root.properties as Node).pipeline as Node;
  const items = ((props.properties as Node)[plural[kind]] as Node).items as Node;
  const branches = (items.oneOf ?? items.anyOf ?? [items]) as Node[];
  const own = branches.find(
    (b) => ((b.properties as Node | undefined)?.type as Node | undefined)?.const === type,
  );
  if (!own) throw new Error(`no JSON Schema branch for ${kind} ${type}`);
  return own;
}

/**
 * A parsed config value written back as YAML would hold it, guided by its JSON Schema node:
 * durations (`x-shiplog-unit: duration`, parsed to ms; a bare number would mean seconds) become
 * `<n>ms`; sizes are bytes either way.
 */
function asWritten(value: unknown, node: Node | undefined, root: Node): unknown {
  if (!node) return value;
  const ref = node.$ref as string | undefined;
  if (ref?.startsWith('#/')) {
    let at: unknown = root;
    for (const part of ref.slice(2).split('/')) at = (at as Node)[part];
    return asWritten(value, at as Node, root);
  }
  if (node['x-shiplog-unit'] === 'duration' && typeof value === 'number') return `${value}ms`;
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const alts = node[key] as Node[] | undefined;
    if (!alts) continue;
    for (const alt of alts) {
      const v = asWritten(value, alt, root);
      if (v !== value) return v;
    }
  }
  if (Array.isArray(value)) return value.map((v) => asWritten(v, node.items as Node, root));
  if (value !== null && typeof value === 'object') {
    const props = (node.properties ?? {}) as Record<string, Node>;
    const extra = typeof node.additionalProperties === 'object' ? node.additionalProperties : {};
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, asWritten(v, props[k] ?? (extra as Node), root)]),
    );
  }
  return value;
}

const all: Array<[Kind, string]> = (['input', 'filter', 'output'] as const).flatMap((k) =>
  typesOf(k).map((t): [Kind, string] => [k, t]),
);

describe('conformance: every registered component', () => {
  it('has a minimal config here (a new type needs one)', () => {
    const missing = all.map(([k, t]) => `${k}/${t}`).filter((key) => !(key in MINIMAL));
    expect(missing).toEqual([]);
    expect(all.length).toBeGreaterThanOrEqual(18);
  });

  const schema = jsonSchema();
  const validate = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(
    schema,
  );

  for (const [kind, type] of all) {
    describe(`${kind} ${type}`, () => {
      it('config round trip: minimal and parsed configs validate against the JSON Schema; parsing the parsed config gives it back', () => {
        const dataDir = tempDir('shiplog-conformance-data-');
        const minimal = configAround(kind, type, dataDir);
        expect(validate(minimal), JSON.stringify(validate.errors)).toBe(true);
        const own = parsedOwn(kind, minimal);
        // The parsed config, as YAML would hold it again (sizes and durations as numbers).
        const again = structuredClone(minimal);
        const list = (again.pipeline as Record<string, Array<Record<string, unknown>>>)[
          plural[kind]
        ];
        list[list.findIndex((c) => c.id === 'subject')] = asWritten(
          own,
          componentNode(schema, kind, type),
          schema,
        ) as Record<string, unknown>;
        expect(validate(again), JSON.stringify(validate.errors)).toBe(true);
        const back = parsedOwn(kind, again);
        expect(JSON.stringify(back, null, 1)).toBe(JSON.stringify(own, null, 1));
      });

      it('stop() without start(), then again', async () => {
        const b = await build(kind, type);
        await within(b.stop(), 5000, 'stop() without start()');
        await within(b.stop(), 5000, 'a second stop()');
      });

      it('start → stop → stop', async () => {
        const b = await build(kind, type);
        await within(b.instance.start(), 10_000, 'start()');
        await within(b.stop(), 10_000, 'stop()');
        await within(b.stop(), 5000, 'a second stop()');
      });

      it('stop() while blocked returns once its deadline passes', async () => {
        const b = await build(kind, type);
        await within(b.instance.start(), 10_000, 'start()');
        await b.block();
        if (kind === 'input') {
          // Wait until it has emitted into the never-resolving backpressure promise.
          const t0 = Date.now();
          while (b.emitted() === 0 && Date.now() - t0 < 5000)
            await new Promise((r) => setTimeout(r, 20));
          if (type !== 'demo' || b.emitted() > 0) expect(b.emitted()).toBeGreaterThan(0);
        } else await new Promise((r) => setTimeout(r, 300));
        try {
          const ms = await within(b.stop(), 6000, 'stop() while blocked');
          expect(ms).toBeLessThan(6000);
        } finally {
          b.abort.abort();
        }
      });
    });
  }
});
