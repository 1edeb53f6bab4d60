// Loki's label rules (Prometheus label names): `[a-zA-Z_][a-zA-Z0-9_]*`, names starting with `__`
// are reserved, values are UTF-8 of at most 2048 bytes by default, an empty value means "no
// label". Plus the level normalisation that keeps `level` a handful of values.

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Why `name` is not a valid Loki label name, or undefined when it is. */
export function checkLabelName(name: string): string | undefined {
  if (!NAME.test(name)) return `label name "${name}" must match [a-zA-Z_][a-zA-Z0-9_]*`;
  if (name.startsWith('__')) return `label name "${name}" is reserved (names starting with __)`;
  return undefined;
}

/** A label name derived from a field path: invalid characters become `_`. */
export function labelNameFor(field: string): string | undefined {
  let s = field.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(s)) s = '_' + s;
  s = s.replace(/^_{2,}/, '_');
  if (s.length === 0 || /^_*$/.test(s)) return undefined;
  return s;
}

/** Common level spellings → the values Grafana/Loki recognise. */
export const LEVEL_ALIASES: Readonly<Record<string, string>> = {
  emerg: 'critical',
  emergency: 'critical',
  alert: 'critical',
  crit: 'critical',
  critical: 'critical',
  fatal: 'critical',
  panic: 'critical',
  err: 'error',
  eror: 'error',
  error: 'error',
  warn: 'warn',
  warning: 'warn',
  notice: 'info',
  info: 'info',
  informational: 'info',
  information: 'info',
  debug: 'debug',
  dbg: 'debug',
  trace: 'trace',
  '0': 'critical',
  '1': 'critical',
  '2': 'critical',
  '3': 'error',
  '4': 'warn',
  '5': 'info',
  '6': 'info',
  '7': 'debug',
};

/** Lowercase and map aliases; unknown levels are lowercased only. */
export function normalizeLevel(v: string): string {
  const lower = v.trim().toLowerCase();
  return LEVEL_ALIASES[lower] ?? lower;
}

/** Cut a value to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(v: string, maxBytes: number): string {
  if (v.length * 3 <= maxBytes) return v;
  const b = Buffer.from(v, 'utf8');
  if (b.length <= maxBytes) return v;
  let end = maxBytes;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.subarray(0, end).toString('utf8');
}
