// Times of Loki entries: the entry time parsed from a record field (`time_field`), the
// nanosecond string of the JSON push API, and durations in messages.

/**
 * Parse a time value: RFC 3339 (any fraction, up to ns), or epoch seconds / ms / µs / ns chosen by
 * magnitude (numbers or numeric strings). Returns [ms, sub-ms ns] or undefined.
 */
export function parseTime(v: unknown): [number, number] | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? epoch(v) : undefined;
  if (typeof v !== 'string' || v.length === 0) return undefined;
  if (/^-?\d+(\.\d+)?$/.test(v)) {
    // Integer nanoseconds do not fit a double: split the digits.
    if (/^\d{17,19}$/.test(v)) {
      const ms = Number(v.slice(0, v.length - 6));
      return [ms, Number(v.slice(v.length - 6))];
    }
    return epoch(Number(v));
  }
  const m = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(
    v.trim(),
  );
  if (!m) return undefined;
  const zone = m[3] === undefined || m[3] === 'z' ? 'Z' : m[3];
  const base = Date.parse(m[1].replace(' ', 'T') + zone);
  if (Number.isNaN(base)) return undefined;
  const frac = (m[2] ?? '').slice(0, 9).padEnd(9, '0');
  const ms = base + Number(frac.slice(0, 3));
  return [ms, Number(frac.slice(3))];
}

function epoch(n: number): [number, number] {
  const a = Math.abs(n);
  let ms: number;
  if (a < 1e11) ms = n * 1000;
  else if (a < 1e14) ms = n;
  else if (a < 1e17) ms = n / 1000;
  else ms = n / 1e6;
  const whole = Math.floor(ms);
  return [whole, Math.round((ms - whole) * 1e6) % 1_000_000];
}

/** Nanoseconds since the epoch as a decimal string (Loki's JSON API wants strings). */
export function nsString(seconds: number, nanos: number): string {
  if (seconds <= 0) return String(BigInt(seconds) * 1_000_000_000n + BigInt(nanos));
  return String(seconds) + String(nanos).padStart(9, '0');
}

export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
