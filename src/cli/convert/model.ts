// The shape every Fluent Bit config format is read into (classic `.conf` and YAML alike), and the
// report of what the conversion could not carry over.

import * as path from 'node:path';

/** One `Key Value` line of a section, with where it came from. */
export interface Entry {
  /** Lower-cased key (Fluent Bit keys are case-insensitive). */
  key: string;
  /** The key as written. */
  rawKey: string;
  value: string;
  file: string;
  line: number;
}

export type SectionKind =
  'service' | 'input' | 'filter' | 'output' | 'parser' | 'multiline_parser' | 'other';

export interface Section {
  kind: SectionKind;
  /** The header as written: `INPUT`, `CUSTOM`, … */
  header: string;
  /** `Name` lower-cased (the plugin), '' when missing. */
  plugin: string;
  entries: Entry[];
  file: string;
  line: number;
}

export interface FluentBitConfig {
  file: string;
  sections: Section[];
  /** Parsers files named by the config (`Parsers_File`, `parsers_file`), resolved. */
  parsersFiles: Entry[];
}

export type Severity = 'info' | 'warning' | 'error';

/** A directive that has no exact equivalent: where, why, and what to do. */
export interface Finding {
  file: string;
  line: number;
  severity: Severity;
  directive: string;
  why: string;
  action: string;
}

export class Report {
  readonly findings: Finding[] = [];
  constructor(private readonly cwd = process.cwd()) {}
  add(
    at: { file: string; line: number },
    severity: Severity,
    directive: string,
    why: string,
    action = '',
  ): void {
    this.findings.push({ file: at.file, line: at.line, severity, directive, why, action });
  }
  /** Relative paths for display. */
  rel(file: string): string {
    const r = path.relative(this.cwd, file);
    return r.startsWith('..') ? file : r;
  }
}

/** A config that cannot be read at all (syntax, a missing include): exit 78. */
export class FluentBitConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
  }
}

export function get(s: Section, key: string): Entry | undefined {
  let found: Entry | undefined;
  for (const e of s.entries) if (e.key === key) found = e;
  return found;
}

export function all(s: Section, key: string): Entry[] {
  return s.entries.filter((e) => e.key === key);
}

/** Fluent Bit booleans: on/off, true/false, yes/no, 1/0. */
export function bool(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  const s = v.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(s)) return true;
  if (['off', 'false', 'no', '0'].includes(s)) return false;
  return dflt;
}

/** `a, b ,c` → [a, b, c]. */
export function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Fluent Bit sizes (`5MB`, `32k`, `1M`; units are powers of 1024 in Fluent Bit) → `5MiB`. */
export function size(v: string): string | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)b?\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = m[2].toLowerCase();
  if (unit === '') return m[1];
  return `${m[1]}${unit.toUpperCase()}iB`;
}

/** Fluent Bit durations are seconds (`5`, `1.5`) or with a unit (`5s`, `1m`, `1h`). */
export function seconds(v: string): string | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] || 's').toLowerCase();
  if (unit === 's' && !Number.isInteger(n)) return `${Math.round(n * 1000)}ms`;
  return `${m[1]}${unit}`;
}

/** Where a section is, for findings. */
export function at(x: { file: string; line: number }): { file: string; line: number } {
  return { file: x.file, line: x.line };
}
