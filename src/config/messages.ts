// Config error messages a person can act on (issue #21 item 7): zod's wording turned into what
// was expected and what was given, and hints for Fluent Bit habits (`type: tail`, `name:`, a
// classic `.conf` file) pointing at `shiplog convert`.

import type { z } from 'zod';
import { suggest } from '../core/errors.js';
import type { Kind } from '../core/component.js';

const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
};

const NAMES: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

/** The message of one zod issue (parsed with `reportInput: true`, so `input` is the value given). */
export function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'invalid_type') {
    const expected = NAMES[issue.expected] ?? issue.expected;
    if (input === undefined) return `required: expected ${expected}`;
    return `expected ${expected}, got ${show(input)}`;
  }
  if (issue.code === 'invalid_format' && issue.format === 'url')
    return `invalid URL ${show(input)}: expected http(s)://host[:port][/path]`;
  if (issue.code === 'invalid_value' && input !== undefined)
    return `${issue.message.replace(/^Invalid option: /, '')}, got ${show(input)}`;
  if (issue.code === 'invalid_union' && input !== undefined) {
    const kinds = [
      ...new Set(
        issue.errors.flatMap((alt) =>
          alt.filter((i) => i.code === 'invalid_type').map((i) => NAMES[i.expected] ?? i.expected),
        ),
      ),
    ];
    return kinds.length
      ? `expected ${kinds.join(' or ')}, got ${show(input)}`
      : `${issue.message}, got ${show(input)}`;
  }
  return issue.message;
}

/** Fluent Bit plugin names and the shiplog types that do their job. */
const FLUENT_BIT: Record<Kind, Record<string, string>> = {
  input: { tail: 'file', systemd: 'journald', dummy: 'demo', forward: '', tcp: '', http: '' },
  filter: {
    parser: 'parse_json / parse_regex / parse_logfmt',
    record_modifier: 'enrich / modify',
    nest: 'modify',
    kubernetes: 'the kubernetes input (it adds pod metadata itself)',
    lua: '',
  },
  output: { es: 'elasticsearch', opensearch: 'elasticsearch', null: '', http: '', forward: '' },
};

const CONVERT = 'to translate a Fluent Bit config: shiplog convert fluent-bit.conf > shiplog.yaml';

/** "did you mean" for an unknown type: Fluent Bit's names first, then the nearest spelling. */
export function unknownTypeHint(kind: Kind, type: string, known: string[]): string {
  const fb = FLUENT_BIT[kind][type.toLowerCase()];
  if (fb !== undefined)
    return fb
      ? `; Fluent Bit's "${type}" is shiplog's ${fb.includes(' ') ? fb : `"${fb}"`} (${CONVERT})`
      : `; Fluent Bit's "${type}" has no shiplog equivalent (${CONVERT})`;
  const s = suggest(type, known);
  return s ? `; did you mean "${s}"?` : '';
}

/** A component written the Fluent Bit way: `name:` (or `Name:`) instead of `type:`. */
export function nameInsteadOfType(entry: Record<string, unknown>): string | undefined {
  const name = entry.name ?? entry.Name;
  if (typeof name !== 'string') return undefined;
  return `"name: ${name}" is Fluent Bit's key; shiplog uses "type" (and "id" for a name) (${CONVERT})`;
}

/** A Fluent Bit classic config given to shiplog: one clear message instead of YAML errors. */
export function classicFluentBit(text: string): boolean {
  return (
    /^\s*\[(SERVICE|INPUT|FILTER|OUTPUT|PARSER|MULTILINE_PARSER)\]\s*$/im.test(text) ||
    /^\s*@(INCLUDE|SET)\s/m.test(text)
  );
}

export const CLASSIC_MESSAGE = `this is a Fluent Bit classic config ([INPUT]/[OUTPUT] sections), not a shiplog config; ${CONVERT}`;

/** `${VAR:default}` (Fluent Bit / shell habit without the `-`): never interpolated, say so. */
export function missingDash(text: string): string | undefined {
  const m = /\$\{([A-Za-z_][A-Za-z0-9_]*):(?!-)([^}]*)\}/.exec(text);
  return m ? `"${m[0]}" is not interpolated: write \${${m[1]}:-${m[2]}} for a default` : undefined;
}
