// Times of Loki entries: the nanosecond string of the JSON push API, and durations in messages.
// (`time_field` is parsed by the parse filters' parser: components/_shared/time.)

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
