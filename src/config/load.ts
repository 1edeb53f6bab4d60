// Config loading: YAML with positions, `${VAR}` / `${VAR:-default}` interpolation in scalar values
// (`$${` for a literal `${`), strict validation per component, and errors that name
// file:line:column, the key path, what was expected, and the nearest allowed key.

import { readFileSync } from 'node:fs';
import {
  LineCounter,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Document,
  type Node as YNode,
} from 'yaml';
import type { z } from 'zod';
import { componentSchema, findDef, getDef, typesOf } from '../components/registry.js';
import type { ComponentSource } from '../core/pipeline.js';
import { ConfigError, suggest, type ConfigProblem } from '../core/errors.js';
import type { Kind } from '../core/component.js';
import { PIPELINE_KEYS, serviceSchema, TOP_KEYS, type ShiplogConfig } from './schema.js';
import {
  CLASSIC_MESSAGE,
  classicFluentBit,
  issueMessage,
  missingDash,
  nameInsteadOfType,
  unknownTypeHint,
} from './messages.js';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

type Path = Array<string | number>;

/** Non-enumerable property of each parsed component config: locate a key path inside it. */
export const LOCATE = Symbol('shiplog.locate');
export type Locate = (rel: Path) => { where: string; path: string };

/**
 * Give a component factory's ConfigError the component's file:line:col and full key path:
 * problem paths are relative to the component (a leading component id is dropped).
 */
export function locateFactoryError(e: ConfigError, config: object, id: string): ConfigError {
  const locate = (config as { [LOCATE]?: Locate })[LOCATE];
  if (!locate) return e;
  return new ConfigError(
    e.problems.map((p) => {
      if (p.where) return p;
      const rel: Path = p.path ? p.path.split('.') : [];
      if (rel[0] === id) rel.shift();
      return { ...p, ...locate(rel) };
    }),
  );
}

class Locator {
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  /** file:line:col of the value at `path` (or of the key itself when `key` is true). */
  at(path: Path, key = false): string {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        keyNode = undefined;
        node = node.items[seg];
      } else break;
    }
    const target = (key && keyNode ? keyNode : node) as YNode | undefined;
    const offset = target?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }
}

export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

const VAR_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replace `${VAR}` and `${VAR:-default}`; returns undefined names via `missing`. */
export function interpolate(text: string, env: NodeJS.ProcessEnv, missing: string[]): string {
  return text.replace(VAR_RE, (m, name: string | undefined, def: string | undefined) => {
    if (m === '$${') return '${';
    const v = env[name!];
    if (v !== undefined && v !== '') return v;
    if (def !== undefined) return def;
    if (v === '') return '';
    missing.push(name!);
    return '';
  });
}

export function loadConfigFile(file: string, opts: LoadOptions = {}): ShiplogConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([
      {
        code: 'SHIPLOG_CONFIG_FILE',
        where: file,
        message: `cannot read config: ${(e as Error).message}`,
      },
    ]);
  }
  return parseConfig(text, file, opts);
}

export function parseConfig(
  text: string,
  file = '<config>',
  opts: LoadOptions = {},
): ShiplogConfig {
  const env = opts.env ?? process.env;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  if (doc.errors.length && classicFluentBit(text))
    throw new ConfigError([{ code: 'SHIPLOG_CONFIG_YAML', where: file, message: CLASSIC_MESSAGE }]);
  for (const err of doc.errors) {
    const { line, col } = lines.linePos(err.pos[0]);
    problems.push({
      code: 'SHIPLOG_CONFIG_YAML',
      where: `${file}:${line}:${col}`,
      message: err.message.split('\n')[0],
    });
  }
  if (problems.length) throw new ConfigError(problems);
  const loc = new Locator(file, doc, lines);

  // Interpolate scalar values in place, keeping positions for error messages.
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const dash = missingDash(node.value);
      if (dash) {
        const { line, col } = lines.linePos(node.range?.[0] ?? 0);
        problems.push({
          code: 'SHIPLOG_CONFIG_ENV',
          where: `${file}:${line}:${col}`,
          message: dash,
        });
      }
      const missing: string[] = [];
      const out = interpolate(node.value, env, missing);
      if (missing.length) {
        const { line, col } = lines.linePos(node.range?.[0] ?? 0);
        // The full key path from the ancestors: pair keys, and item indexes within sequences.
        const segs: Path = [];
        const chain = [...path, node];
        for (let i = 0; i < chain.length - 1; i++) {
          const a = chain[i];
          if (isPair(a) && isScalar(a.key)) segs.push(String(a.key.value));
          else if (isSeq(a)) segs.push(a.items.indexOf(chain[i + 1] as never));
        }
        const keyName = segs.length ? formatPath(segs) : undefined;
        for (const name of missing)
          problems.push({
            code: 'SHIPLOG_CONFIG_ENV',
            where: `${file}:${line}:${col}`,
            path: keyName,
            message: `environment variable ${name} is not set and has no default (write \${${name}:-default} to give one)`,
          });
      }
      // An unquoted scalar that was all variable becomes a number/boolean if it reads as one.
      if (node.type === 'PLAIN' && /^(-?\d+(\.\d+)?|true|false)$/.test(out)) {
        node.value = out === 'true' ? true : out === 'false' ? false : Number(out);
      } else node.value = out;
    },
  });
  if (problems.length) throw new ConfigError(problems);

  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (raw === null || raw === undefined) {
    throw new ConfigError([
      {
        code: 'SHIPLOG_CONFIG_INVALID',
        where: file,
        message: 'config is empty: expected "service" and "pipeline" sections',
      },
    ]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([
      {
        code: 'SHIPLOG_CONFIG_INVALID',
        where: loc.at([]),
        message: 'expected a mapping with "service" and "pipeline"',
      },
    ]);
  }
  const root = raw as Record<string, unknown>;
  unknownKeys(root, [], TOP_KEYS, loc, problems);

  const svc = serviceSchema.safeParse(root.service ?? undefined, { reportInput: true });
  if (!svc.success) addZodIssues(svc.error, ['service'], serviceSchema, loc, problems);

  const pipeline = root.pipeline;
  const result: ShiplogConfig = {
    service: svc.success ? svc.data : (undefined as never),
    pipeline: { inputs: [], filters: [], outputs: [] },
  };
  if (
    pipeline === undefined ||
    pipeline === null ||
    typeof pipeline !== 'object' ||
    Array.isArray(pipeline)
  ) {
    problems.push({
      code: 'SHIPLOG_CONFIG_INVALID',
      where: loc.at(pipeline === undefined ? [] : ['pipeline']),
      path: 'pipeline',
      message: 'expected a "pipeline" mapping with "inputs" and "outputs" lists',
    });
    throw new ConfigError(problems);
  }
  const p = pipeline as Record<string, unknown>;
  unknownKeys(p, ['pipeline'], PIPELINE_KEYS, loc, problems);
  const ids = new Map<string, string>();
  const counters = new Map<string, number>();
  for (const [listKey, kind] of [
    ['inputs', 'input'],
    ['filters', 'filter'],
    ['outputs', 'output'],
  ] as const) {
    const list = p[listKey];
    const path: Path = ['pipeline', listKey];
    if (list === undefined || list === null) {
      if (kind !== 'filter')
        problems.push({
          code: 'SHIPLOG_CONFIG_INVALID',
          where: loc.at(['pipeline'], true),
          path: formatPath(path),
          message: `at least one ${kind} is required`,
        });
      continue;
    }
    if (!Array.isArray(list)) {
      problems.push({
        code: 'SHIPLOG_CONFIG_INVALID',
        where: loc.at(path),
        path: formatPath(path),
        message: `expected a list of ${kind}s`,
      });
      continue;
    }
    if (list.length === 0 && kind !== 'filter') {
      problems.push({
        code: 'SHIPLOG_CONFIG_INVALID',
        where: loc.at(path),
        path: formatPath(path),
        message: `at least one ${kind} is required`,
      });
    }
    list.forEach((entry: unknown, i: number) => {
      const ep: Path = [...path, i];
      const parsed = validateComponent(kind, entry, ep, loc, problems);
      if (!parsed) return;
      // Where this component is, for errors its factory raises later (invisible to the schema).
      Object.defineProperty(parsed, LOCATE, {
        value: (rel: Path) => ({
          where: loc.at([...ep, ...rel]),
          path: formatPath([...ep, ...rel]),
        }),
        enumerable: false,
      });
      const type = parsed.type as string;
      const n = counters.get(`${kind}:${type}`) ?? 0;
      counters.set(`${kind}:${type}`, n + 1);
      const id = (parsed.id as string | undefined) ?? `${type}_${n}`;
      parsed.id = id;
      const prev = ids.get(id);
      if (prev) {
        problems.push({
          code: 'SHIPLOG_CONFIG_DUPLICATE_ID',
          where: loc.at([...ep, 'id']),
          path: formatPath([...ep, 'id']),
          message: `duplicate id "${id}" (already used at ${prev}); ids must be unique across inputs, filters and outputs`,
        });
      } else ids.set(id, formatPath(ep));
      if (kind === 'input') {
        parsed.tag ??= id;
        result.pipeline.inputs.push(parsed as never);
      } else if (kind === 'filter') result.pipeline.filters.push(parsed as never);
      else result.pipeline.outputs.push(parsed as never);
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return result;
}

function validateComponent(
  kind: Kind,
  entry: unknown,
  path: Path,
  loc: Locator,
  problems: ConfigProblem[],
): Record<string, unknown> | undefined {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    problems.push({
      code: 'SHIPLOG_CONFIG_INVALID',
      where: loc.at(path),
      path: formatPath(path),
      message: `expected a mapping with a "type" key`,
    });
    return undefined;
  }
  const type = (entry as Record<string, unknown>).type;
  const known = typesOf(kind);
  if (typeof type !== 'string') {
    problems.push({
      code: 'SHIPLOG_CONFIG_INVALID',
      where: loc.at(path),
      path: formatPath([...path, 'type']),
      message: `missing "type"; expected one of: ${known.join(', ')}${(() => {
        const hint = nameInsteadOfType(entry as Record<string, unknown>);
        return hint ? `. ${hint}` : '';
      })()}`,
    });
    return undefined;
  }
  const def = findDef(kind, type);
  if (!def) {
    problems.push({
      code: 'SHIPLOG_CONFIG_UNKNOWN_TYPE',
      where: loc.at([...path, 'type']),
      path: formatPath([...path, 'type']),
      message: `unknown ${kind} type "${type}"${unknownTypeHint(kind, type, known)} (known ${kind} types: ${known.join(', ')})`,
    });
    return undefined;
  }
  const schema = componentSchema(def);
  const r = schema.safeParse(entry, { reportInput: true });
  if (!r.success) {
    addZodIssues(r.error, path, schema, loc, problems);
    return undefined;
  }
  return r.data as Record<string, unknown>;
}

function unknownKeys(
  obj: Record<string, unknown>,
  path: Path,
  allowed: readonly string[],
  loc: Locator,
  problems: ConfigProblem[],
): void {
  for (const k of Object.keys(obj)) {
    if (allowed.includes(k)) continue;
    problems.push(unknownKeyProblem(k, path, allowed, loc));
  }
}

function unknownKeyProblem(
  key: string,
  path: Path,
  allowed: readonly string[],
  loc: Locator,
): ConfigProblem {
  const s = suggest(key, allowed);
  return {
    code: 'SHIPLOG_CONFIG_UNKNOWN_KEY',
    where: loc.at([...path, key], true),
    path: formatPath([...path, key]),
    message: `unknown key "${key}"${s ? `; did you mean "${s}"?` : ''} (allowed keys: ${allowed.join(', ')})`,
  };
}

function addZodIssues(
  err: z.ZodError,
  prefix: Path,
  schema: z.ZodType,
  loc: Locator,
  problems: ConfigProblem[],
): void {
  for (const issue of err.issues) {
    const rel = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
    const path = [...prefix, ...rel];
    if (issue.code === 'unrecognized_keys') {
      const allowed = keysAt(schema, rel) ?? [];
      for (const k of issue.keys) problems.push(unknownKeyProblem(k, path, allowed, loc));
      continue;
    }
    const message = issueMessage(issue);
    const desc = describeAt(schema, rel);
    problems.push({
      code: 'SHIPLOG_CONFIG_INVALID',
      where: loc.at(path),
      path: formatPath(path),
      message: desc ? `${message} (${desc})` : message,
    });
  }
}

interface ZodInternals {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, z.ZodType>;
      innerType?: z.ZodType;
      in?: z.ZodType;
      element?: z.ZodType;
      options?: z.ZodType[];
    };
  };
  description?: string;
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur = s as unknown as ZodInternals;
  for (let i = 0; i < 20; i++) {
    const d = cur._zod.def;
    if (
      ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(d.type) &&
      d.innerType
    )
      cur = d.innerType as unknown as ZodInternals;
    else if (d.type === 'pipe' && d.in) cur = d.in as unknown as ZodInternals;
    else break;
  }
  return cur as unknown as z.ZodType;
}

function schemaAt(schema: z.ZodType, path: Path): z.ZodType | undefined {
  let cur: z.ZodType | undefined = schema;
  for (const seg of path) {
    if (!cur) return undefined;
    const d: ZodInternals['_zod']['def'] = (unwrap(cur) as unknown as ZodInternals)._zod.def;
    if (d.type === 'object' && typeof seg === 'string') cur = d.shape?.[seg];
    else if (d.type === 'array' && typeof seg === 'number') cur = d.element;
    else if (d.type === 'union' && d.options) {
      cur = d.options
        .map((o: z.ZodType) => unwrap(o))
        .find(
          (o: z.ZodType) =>
            (o as unknown as ZodInternals)._zod.def.type ===
            (typeof seg === 'number' ? 'array' : 'object'),
        );
      if (cur) cur = schemaAt(cur, [seg]);
    } else return undefined;
  }
  return cur;
}

function keysAt(schema: z.ZodType, path: Path): string[] | undefined {
  const s = schemaAt(schema, path);
  if (!s) return undefined;
  const d = (unwrap(s) as unknown as ZodInternals)._zod.def;
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : undefined;
}

function describeAt(schema: z.ZodType, path: Path): string | undefined {
  if (path.length === 0) return undefined;
  const s = schemaAt(schema, path);
  return (s as unknown as ZodInternals | undefined)?.description;
}

/** The registry's component types, as a Pipeline takes them (errors located in the config file). */
export function pipelineComponents(): ComponentSource {
  return { getDef, locate: locateFactoryError };
}
