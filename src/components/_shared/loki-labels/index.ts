// Loki's label rules, once for the `label` and `enrich` filters and the `loki` output: label
// names are Prometheus names (`[a-zA-Z_][a-zA-Z0-9_]*`, `__` prefix reserved), at most 15 labels
// a stream and 2048 bytes a value by Loki's defaults, and an empty value means "no label".

/** Loki's default `max_label_names_per_series`. */
export const MAX_LABELS = 15;
/** Loki's default `max_label_value_length`. */
export const MAX_LABEL_VALUE = 2048;

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Why `name` is not a valid Loki label name, or undefined when it is (for config checks). */
export function checkLabelName(name: string): string | undefined {
  if (!NAME.test(name)) return `label name "${name}" must match [a-zA-Z_][a-zA-Z0-9_]*`;
  if (name.startsWith('__')) return `label name "${name}" is reserved (names starting with __)`;
  return undefined;
}

/**
 * A valid label name made from `name` (a configured name or a field path): invalid characters
 * become `_`, a leading digit gets a `_` prefix, a leading `__` collapses to `_`. Undefined for a
 * name with nothing usable in it.
 */
export function sanitizeLabelName(name: string): string | undefined {
  let s = NAME.test(name) ? name : name.replace(/[^a-zA-Z0-9_]/g, '_');
  if (s.length === 0 || /^_*$/.test(s)) return undefined;
  if (/^[0-9]/.test(s)) s = '_' + s;
  if (s.startsWith('__')) s = s.replace(/^_+/, '_');
  return s;
}

/** Cut a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(v: string, maxBytes: number): string {
  if (v.length * 3 <= maxBytes) return v;
  const b = Buffer.from(v, 'utf8');
  if (b.length <= maxBytes) return v;
  let end = maxBytes;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--;
  return b.toString('utf8', 0, end);
}
