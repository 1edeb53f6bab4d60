// Tags and Match. Fluent Bit stamps each record with its input's tag (a `*` in a tail `Tag` is
// replaced by the file path with `/` turned into `.`, in a systemd `Tag` by the unit); `Match` is a
// wildcard where only `*` is special; `Match_Regex` is a regex searched in the tag. shiplog tags
// are per input (kubernetes: a template), and `match` is a glob where `*` and `?` are special.
// The converter therefore decides routing at conversion time: for each filter and output it
// computes which inputs Fluent Bit would route to it, and emits the original pattern when it
// selects the same inputs in shiplog, else the list of those inputs' shiplog tags.

import type { Section } from './model.js';

export interface RoutedInput {
  /** The Fluent Bit section. */
  section: Section;
  /** A tag Fluent Bit would stamp (a representative file/unit when the tag has `*`). */
  fbTag: string;
  /** The part of fbTag that does not vary per file ('' when the whole tag is static). */
  fbStaticPrefix: string;
  /** shiplog tag (or tag template) of the converted input. */
  tag: string;
  /** A tag the converted input stamps (the template rendered for a sample pod). */
  sampleTag: string;
  /** Glob selecting every tag of the converted input. */
  tagGlob: string;
  /** True when the Fluent Bit tag varies per file/unit. */
  varies: boolean;
}

/** Fluent Bit's flb_router_match: only `*` is a wildcard. */
export function fbMatch(pattern: string, tag: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
  return re.test(tag);
}

/** shiplog's glob (src/core/glob.ts): `*` any run, `?` one character. */
export function shiplogMatch(pattern: string, tag: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
  );
  return re.test(tag);
}

/** Fluent Bit's tail tag expansion: `*` → the path with `/` as `.` (leading one dropped). */
export function expandTailTag(tag: string, file: string): string {
  return tag.replace('*', file.replace(/^\//, '').replace(/\//g, '.'));
}

export type Selection =
  | { kind: 'none' }
  | {
      kind: 'match';
      match: string | string[];
      /** The inputs Fluent Bit routes from. */
      inputs: RoutedInput[];
      partial: RoutedInput[];
      resolved: boolean;
    };

/**
 * The inputs a Fluent Bit Match/Match_Regex routes from, and the shiplog `match` that selects
 * the same ones. `partial` lists inputs whose per-file tags the pattern selects only some of.
 */
export function select(
  inputs: RoutedInput[],
  match: string | undefined,
  regex: string | undefined,
): Selection {
  if (match === undefined && regex === undefined) return { kind: 'none' };
  const re = regex !== undefined ? new RegExp(regex) : undefined;
  const fb = (t: string): boolean => (re ? re.test(t) : fbMatch(match!, t));
  const chosen: RoutedInput[] = [];
  const partial: RoutedInput[] = [];
  for (const i of inputs) {
    if (fb(i.fbTag)) chosen.push(i);
    else if (i.varies && !re) {
      // The pattern may select some of this input's files: its literal prefix and the tag's
      // static prefix agree.
      const lit = match!.split('*')[0];
      if (lit.startsWith(i.fbStaticPrefix) || i.fbStaticPrefix.startsWith(lit)) {
        chosen.push(i);
        partial.push(i);
      }
    }
  }
  if (match !== undefined && !match.includes('?')) {
    // Does the pattern, read as a shiplog glob, select exactly the same inputs?
    const same = inputs.every(
      (i) => chosen.includes(i) === shiplogMatch(match, i.sampleTag) || partial.includes(i),
    );
    if (same) return { kind: 'match', match, inputs: chosen, partial, resolved: false };
  }
  if (chosen.length === inputs.length && inputs.length > 0)
    return { kind: 'match', match: '*', inputs: chosen, partial, resolved: true };
  const tags = [...new Set(chosen.map((i) => i.tagGlob))];
  // Nothing selected: keep a pattern that matches no converted input either.
  if (tags.length === 0)
    return { kind: 'match', match: match ?? '_none_', inputs: chosen, partial, resolved: true };
  return {
    kind: 'match',
    match: tags.length === 1 ? tags[0] : tags,
    inputs: chosen,
    partial,
    resolved: true,
  };
}
