// `shiplog test FILE`: config unit tests in YAML. Each test hands lines or records with a tag to
// the config's real filters (a Pipeline built from the config, its outputs replaced by captures,
// no input read, nothing sent) and checks what each output receives and what was dropped.
//
//   config: shiplog.yaml            # relative to the test file; or -c
//   tests:
//     - name: debug lines are dropped, the rest labelled
//       input: { tag: web, lines: ['{"level":"debug"}', '{"level":"info","team":"a"}'] }
//       expect:
//         dropped: 1                # removed by filters (grep, throttle, a parser's drop)
//         dead_lettered: 0          # dead-lettered by a filter
//         outputs:
//           loki:
//             count: 1
//             records: [{ level: info }]     # each a subset of the received record, in order
//             labels: [{ team: a }]          # each a subset of the record's labels
//             absent: [password]             # fields no received record may have (dotted paths)

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadComponents } from '../components/registry.js';
import { loadConfigFile, pipelineComponents } from '../config/load.js';
import type { ShiplogConfig } from '../config/schema.js';
import { CheckpointStore } from '../core/checkpoint-store.js';
import type { InputContext, InputDef, OutputDef } from '../core/component.js';
import { Pipeline, type ComponentSource } from '../core/pipeline.js';
import { copyRecord, getPath, newRecord, type LogRecord } from '../core/record.js';
import { Ledger } from '../telemetry/ledger.js';
import { nullLogger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';

export class TestFileError extends Error {}

interface OutputExpect {
  count?: number;
  records?: Array<Record<string, unknown>>;
  labels?: Array<Record<string, string>>;
  absent?: string[];
}

interface TestCase {
  name: string;
  input: {
    tag?: string;
    input?: string;
    lines?: string[];
    records?: Array<Record<string, unknown>>;
  };
  expect: { dropped?: number; dead_lettered?: number; outputs?: Record<string, OutputExpect> };
}

export interface TestResult {
  name: string;
  ok: boolean;
  failures: string[];
  /** What each output received (fields), for the report. */
  received: Record<string, number>;
}

function fail(where: string, msg: string): never {
  throw new TestFileError(`${where}: ${msg}`);
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(where, 'must be a mapping');
  return v as Record<string, unknown>;
}

/** Read and check the test file's shape. */
export function loadTestFile(file: string): { config?: string; tests: TestCase[] } {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TestFileError(`${file}: ${(e as Error).message}`);
  }
  const top = asObject(doc, file);
  for (const k of Object.keys(top))
    if (k !== 'config' && k !== 'tests') fail(file, `unknown key "${k}" (allowed: config, tests)`);
  if (top.config !== undefined && typeof top.config !== 'string')
    fail(`${file}: config`, 'must be a path');
  if (!Array.isArray(top.tests) || top.tests.length === 0)
    fail(`${file}: tests`, 'must be a non-empty list');
  const tests = top.tests.map((t, i): TestCase => {
    const where = `${file}: tests[${i}]`;
    const o = asObject(t, where);
    for (const k of Object.keys(o))
      if (!['name', 'input', 'expect'].includes(k))
        fail(where, `unknown key "${k}" (allowed: name, input, expect)`);
    const input = asObject(o.input, `${where}.input`);
    for (const k of Object.keys(input))
      if (!['tag', 'input', 'lines', 'records'].includes(k))
        fail(`${where}.input`, `unknown key "${k}" (allowed: tag, input, lines, records)`);
    if (input.lines === undefined && input.records === undefined)
      fail(`${where}.input`, 'give lines or records');
    if (
      input.lines !== undefined &&
      (!Array.isArray(input.lines) || input.lines.some((l) => typeof l !== 'string'))
    )
      fail(`${where}.input.lines`, 'must be a list of strings');
    if (
      input.records !== undefined &&
      (!Array.isArray(input.records) ||
        input.records.some((r) => r === null || typeof r !== 'object'))
    )
      fail(`${where}.input.records`, 'must be a list of mappings');
    const expect = asObject(o.expect ?? {}, `${where}.expect`);
    for (const k of Object.keys(expect))
      if (!['dropped', 'dead_lettered', 'outputs'].includes(k))
        fail(`${where}.expect`, `unknown key "${k}" (allowed: dropped, dead_lettered, outputs)`);
    const outputs =
      expect.outputs === undefined
        ? undefined
        : asObject(expect.outputs, `${where}.expect.outputs`);
    for (const [id, e] of Object.entries(outputs ?? {})) {
      const oe = asObject(e, `${where}.expect.outputs.${id}`);
      for (const k of Object.keys(oe))
        if (!['count', 'records', 'labels', 'absent'].includes(k))
          fail(
            `${where}.expect.outputs.${id}`,
            `unknown key "${k}" (allowed: count, records, labels, absent)`,
          );
    }
    return {
      name: typeof o.name === 'string' ? o.name : `test ${i + 1}`,
      input: input as TestCase['input'],
      expect: expect as TestCase['expect'],
    };
  });
  return { config: top.config as string | undefined, tests };
}

/** Is `want` a subset of `got` (objects by key, arrays and scalars equal)? */
function subset(want: unknown, got: unknown): boolean {
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) return false;
    return Object.entries(want).every(([k, v]) => subset(v, (got as Record<string, unknown>)[k]));
  }
  return JSON.stringify(want) === JSON.stringify(got);
}

/** Run one test through a fresh pipeline of the config's filters. */
async function runCase(config: ShiplogConfig, t: TestCase): Promise<TestResult> {
  const received = new Map<string, LogRecord[]>(config.pipeline.outputs.map((o) => [o.id, []]));
  let ctx: InputContext | undefined;
  const testInput: InputDef = {
    kind: 'input',
    type: '__test',
    description: '',
    options: undefined as never,
    create(_c, c) {
      ctx = c;
      return { start: async () => undefined, stop: async () => undefined };
    },
  };
  const capture: OutputDef = {
    kind: 'output',
    type: '__capture',
    description: '',
    options: undefined as never,
    defaultBuffer: 'memory',
    create(c) {
      const list = received.get(c.id)!;
      return {
        start: async () => undefined,
        stop: async () => undefined,
        write(batch) {
          for (const r of batch.records) list.push(copyRecord(r));
          batch.ack();
        },
      };
    },
  };
  const real = pipelineComponents();
  const components: ComponentSource = {
    getDef: ((kind: 'input' | 'filter' | 'output', type: string) =>
      kind === 'input'
        ? testInput
        : kind === 'output'
          ? capture
          : real.getDef('filter', type)) as ComponentSource['getDef'],
    locate: real.locate,
  };
  let tag = t.input.tag;
  if (tag === undefined && t.input.input !== undefined) {
    const ic = config.pipeline.inputs.find((i) => i.id === t.input.input);
    if (!ic)
      throw new TestFileError(`${t.name}: input.input ${t.input.input}: no input with this id`);
    tag = ic.tag;
  }
  tag ??= config.pipeline.inputs[0]?.tag ?? 'test';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'shiplog-test-'));
  const ledger = new Ledger();
  try {
    const pipeline = new Pipeline(
      {
        service: { ...config.service, data_dir: dataDir },
        pipeline: {
          inputs: [{ type: '__test', id: '__test', tag }],
          filters: config.pipeline.filters,
          outputs: config.pipeline.outputs.map((o) => ({
            ...o,
            buffer: { ...o.buffer, type: 'memory' as const },
          })),
        },
      },
      {
        components,
        log: nullLogger,
        metrics: new Metrics({ defaultMetrics: false }),
        checkpoints: new CheckpointStore(path.join(dataDir, 'checkpoints.json'), nullLogger),
        ledger,
      },
    );
    await pipeline.start();
    const now = Date.now();
    const records: LogRecord[] = [
      ...(t.input.lines ?? []).map((l) => newRecord({ message: l }, now)),
      ...(t.input.records ?? []).map((r) => newRecord(structuredClone(r), now)),
    ];
    await ctx!.emit({ tag, records, bytes: records.length * 300 });
    await pipeline.stop(Date.now() + 5000);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const row = ledger.snapshot()[0];
  const failures: string[] = [];
  const e = t.expect;
  if (e.dropped !== undefined && (row?.filtered ?? 0) + (row?.dropped ?? 0) !== e.dropped)
    failures.push(
      `dropped: expected ${e.dropped}, got ${(row?.filtered ?? 0) + (row?.dropped ?? 0)}`,
    );
  if (e.dead_lettered !== undefined && (row?.dead ?? 0) !== e.dead_lettered)
    failures.push(`dead_lettered: expected ${e.dead_lettered}, got ${row?.dead ?? 0}`);
  for (const [id, oe] of Object.entries(e.outputs ?? {})) {
    const got = received.get(id);
    if (!got) {
      failures.push(`outputs.${id}: no output with this id`);
      continue;
    }
    if (oe.count !== undefined && got.length !== oe.count)
      failures.push(`outputs.${id}.count: expected ${oe.count}, got ${got.length}`);
    (oe.records ?? []).forEach((want, i) => {
      if (i >= got.length)
        failures.push(
          `outputs.${id}.records[${i}]: expected ${JSON.stringify(want)}, got no record`,
        );
      else if (!subset(want, got[i].fields))
        failures.push(
          `outputs.${id}.records[${i}]: expected ${JSON.stringify(want)}, got ${JSON.stringify(got[i].fields)}`,
        );
    });
    (oe.labels ?? []).forEach((want, i) => {
      const have = got[i]?.labels ?? {};
      if (!subset(want, have))
        failures.push(
          `outputs.${id}.labels[${i}]: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`,
        );
    });
    for (const p of oe.absent ?? [])
      got.forEach((r, i) => {
        if (getPath(r.fields, p) !== undefined)
          failures.push(
            `outputs.${id}: record ${i} has ${p} (${JSON.stringify(getPath(r.fields, p))})`,
          );
      });
  }
  return {
    name: t.name,
    ok: failures.length === 0,
    failures,
    received: Object.fromEntries([...received].map(([id, l]) => [id, l.length])),
  };
}

/** Exit 0 all passed, 1 some failed, 78 the test file or the config is invalid. */
export async function runTests(
  file: string,
  o: { config?: string; json: boolean },
  out: NodeJS.WritableStream,
): Promise<number> {
  const spec = loadTestFile(file);
  const configFile =
    o.config ??
    (spec.config !== undefined ? path.resolve(path.dirname(file), spec.config) : undefined);
  if (configFile === undefined)
    throw new TestFileError(`${file}: no config: give config: in the file or -c`);
  const config = loadConfigFile(configFile);
  await loadComponents(config);
  const results: TestResult[] = [];
  for (const t of spec.tests) results.push(await runCase(config, t));
  const failed = results.filter((r) => !r.ok).length;
  if (o.json)
    out.write(
      JSON.stringify({
        file,
        config: configFile,
        passed: results.length - failed,
        failed,
        tests: results,
      }) + '\n',
    );
  else {
    for (const r of results) {
      out.write(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.name}\n`);
      for (const f of r.failures) out.write(`        ${f}\n`);
    }
    out.write(`${results.length - failed} passed, ${failed} failed (${file})\n`);
  }
  return failed > 0 ? 1 : 0;
}
