// What of a backend's answer may be logged, dead-lettered or shown (#17.12): a proxy that echoes
// the request (headers included) put `Authorization` values into logs and dead letters. An
// excerpt is at most 200 characters, on one line, with credential-looking values masked.

export const EXCERPT_MAX = 200;

const MASK = '[redacted]';

/** header-like `name: value` / `name=value` pairs whose value is a credential. */
const SECRET_PAIR =
  /\b((?:proxy-)?authorization|cookie|set-cookie|x-api-key|api[-_]?key|x-auth-token|x-amz-security-token|password|passwd|token|secret)(["']?\s*[:=]\s*["']?)([^\r\n"',;&]*)/gi;
/** auth scheme + credential anywhere (`Bearer abc`, `Basic dXNl…`). */
const SCHEME = /\b(bearer|basic|token|apikey|digest|negotiate)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi;

/** Mask credential values in `text` (whole text, no length cut). */
export function sanitize(text: string): string {
  return text
    .replace(SECRET_PAIR, (_m, name: string, sep: string) => `${name}${sep}${MASK}`)
    .replace(SCHEME, (_m, scheme: string, sp: string) => `${scheme}${sp}${MASK}`);
}

/** A short, single-line, sanitised excerpt of a response body. */
export function excerpt(text: string, max = EXCERPT_MAX): string {
  // Mask first (a cut must not leave half a secret unmasked), on a bounded prefix.
  const one = sanitize(text.slice(0, max * 8))
    .replace(/[\r\n\t]+/g, ' ')
    // eslint-disable-next-line no-control-regex -- control characters are what is removed
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim();
  if (one.length === 0) return '(empty body)';
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
