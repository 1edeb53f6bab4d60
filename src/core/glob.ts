// Tag matching, Fluent Bit style: `*` matches any run of characters (dots included), `?` one
// character; everything else is literal. Compiled once per filter/output.

export type TagMatcher = (tag: string) => boolean;

export function compileMatch(pattern: string | readonly string[]): TagMatcher {
  const patterns = typeof pattern === 'string' ? [pattern] : pattern;
  if (patterns.includes('*')) return () => true;
  const res = patterns.map(
    (p) =>
      new RegExp(
        '^' +
          p
            .split('')
            .map((c) =>
              c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
            )
            .join('') +
          '$',
      ),
  );
  const cache = new Map<string, boolean>();
  return (tag) => {
    let hit = cache.get(tag);
    if (hit === undefined) {
      hit = res.some((r) => r.test(tag));
      if (cache.size > 10_000) cache.clear();
      cache.set(tag, hit);
    }
    return hit;
  };
}
