// The level normalisation of the `label` filter: keeps `level` a handful of values Grafana and
// Loki recognise. Loki's label rules themselves are components/_shared/loki-labels.

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
