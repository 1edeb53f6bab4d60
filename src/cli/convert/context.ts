// State of one conversion: the shiplog components built so far, the parsers known, which Fluent
// Bit entries were used (everything left over is reported), and id allocation.

import { at, type Entry, type Report, type Section } from './model.js';
import type { RoutedInput } from './routing.js';

export type Obj = Record<string, unknown>;

export interface Component {
  obj: Obj;
  /** `file:line [INPUT] tail` — becomes a comment above the component. */
  origin: string;
}

/** Keys that say nothing about behaviour once converted (reported as info only when noted). */
const ALWAYS_USED = new Set(['name', 'match', 'match_regex', 'alias']);

export class Conv {
  readonly parsers = new Map<string, Section>();
  readonly multilineParsers = new Map<string, Section>();
  readonly service: Obj = {};
  readonly inputs: Component[] = [];
  readonly routed: RoutedInput[] = [];
  /** Per-input filters that give records Fluent Bit's shape; they run before all others. */
  readonly prefilters: Component[] = [];
  readonly filters: Component[] = [];
  readonly outputs: Component[] = [];
  /** Loki/ES outputs: Flush becomes their batch.max_wait. */
  flushSeconds?: string;
  private readonly used = new Set<Entry>();
  private readonly ids = new Set<string>();

  constructor(readonly report: Report) {}

  origin(s: Section): string {
    return `${this.report.rel(s.file)}:${s.line} [${s.header}]${s.plugin ? ' ' + s.plugin : ''}`;
  }

  /** The last entry for `key`, marked as converted. */
  use(s: Section, key: string): Entry | undefined {
    let found: Entry | undefined;
    for (const e of s.entries)
      if (e.key === key) {
        this.used.add(e);
        found = e;
      }
    return found;
  }

  value(s: Section, key: string): string | undefined {
    return this.use(s, key)?.value;
  }

  useAll(s: Section, key: string): Entry[] {
    const es = s.entries.filter((e) => e.key === key);
    for (const e of es) this.used.add(e);
    return es;
  }

  /** Mark entries with a reason they need no equivalent (reported as info). */
  noted(s: Section, notes: Record<string, [string, string?]>): void {
    for (const e of s.entries) {
      const n = notes[e.key];
      if (!n || this.used.has(e)) continue;
      this.used.add(e);
      this.report.add(at(e), 'info', `${e.rawKey} ${e.value}`, n[0], n[1] ?? '');
    }
  }

  /** Mark every entry used (a section reported as a whole). */
  consumeAll(s: Section): void {
    for (const e of s.entries) this.used.add(e);
  }

  /** Everything of a converted section that no mapping used: a warning each. */
  leftovers(s: Section, what: string): void {
    for (const e of s.entries) {
      if (this.used.has(e) || ALWAYS_USED.has(e.key)) continue;
      this.used.add(e);
      this.report.add(
        at(e),
        'warning',
        `${e.rawKey} ${e.value}`,
        `${what} has no equivalent for this option; it was not converted`,
        'check whether the behaviour matters and configure shiplog by hand if it does (docs/config-reference.md)',
      );
    }
  }

  id(base: string): string {
    let b = base.replace(/[^A-Za-z0-9_.-]/g, '_') || 'component';
    if (!this.ids.has(b)) {
      this.ids.add(b);
      return b;
    }
    let n = 1;
    while (this.ids.has(`${b}_${n}`)) n++;
    b = `${b}_${n}`;
    this.ids.add(b);
    return b;
  }
}

/** A static value for a shiplog field template: `{` and `}` are literal. */
export function literal(v: string): string {
  return v.replace(/\{/g, '{{').replace(/\}/g, '}}');
}

/** Fluent Bit record accessor `$a['b']['c']` (or a plain key) → `a.b.c`. */
export function accessor(v: string): string | undefined {
  const t = v.trim();
  if (!t.startsWith('$')) return /^[A-Za-z0-9_@.-]+$/.test(t) ? t : undefined;
  const m = /^\$([A-Za-z0-9_@-]+)((?:\[['"][^'"]+['"]\])*)$/.exec(t);
  if (!m) return undefined;
  const rest = [...m[2].matchAll(/\[['"]([^'"]+)['"]\]/g)].map((x) => x[1]);
  return [m[1], ...rest].join('.');
}
