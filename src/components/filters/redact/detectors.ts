// The built-in secret and PII detectors, as one alternation so a string is scanned once. Every
// quantifier is bounded and no quantified group is ambiguous, so the scan is linear in the text
// (times a constant of at most a few thousand characters per start position, and then only for
// the rare positions that begin a candidate). Case-insensitive keywords are spelled as character
// classes instead of the `i` flag, which V8's linear-time fallback engine does not support.

export const DEFAULT_KEYS = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'api_key',
  'apikey',
  'access_key',
  'secret_key',
  'private_key',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'session',
  'session_id',
  'sessionid',
  'signature',
];

/**
 * Short keys, sensitive only as a whole word or after `_`/`-` (`pass=`, `db_pass`, `pw:`, Azure
 * `&sig=`): as a suffix they would hit `bypass`, `compass`.
 */
export const SHORT_KEYS = ['pass', 'pw', 'sig'];

/** Authorization schemes whose credential follows a space (`Authorization: Token X`). */
const SCHEMES = [
  'bearer',
  'basic',
  'digest',
  'token',
  'apikey',
  'api-key',
  'key',
  'negotiate',
  'ntlm',
];

export type DetectorName =
  | 'bearer'
  | 'key_value'
  | 'url_password'
  | 'jwt'
  | 'aws_access_key'
  | 'aws_secret_key'
  | 'api_token'
  | 'private_key'
  | 'email'
  | 'credit_card'
  | 'us_ssn';

/** `[Pp][Aa]…`, with `_`/`-` optional and interchangeable. */
export function keywordSource(key: string): string {
  let out = '';
  for (const ch of key.toLowerCase()) {
    if (ch === '_' || ch === '-') out += '[_-]?';
    else if (/[a-z]/.test(ch)) out += `[${ch}${ch.toUpperCase()}]`;
    else out += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}

/** The key alternation for text: keywords anywhere, short keys at a word start or after `_`/`-`. */
function keyAlternation(keys: readonly string[]): string {
  return `${keys.map(keywordSource).join('|')}|(?:\\b|[_-])(?:${SHORT_KEYS.map(keywordSource).join('|')})`;
}

/** A key (record field name) is sensitive when it ends in one of the keywords (short keys: whole). */
export function sensitiveKeyRegex(keys: readonly string[]): RegExp {
  return new RegExp(
    `(?:${keys.map(keywordSource).join('|')})$|(?:^|[_-])(?:${SHORT_KEYS.map(keywordSource).join('|')})$`,
  );
}

const SOURCES: Record<DetectorName, (keys: readonly string[]) => string> = {
  // The key part stays; the separator stays; the value goes. Quoted values keep their quotes.
  // Or a name/value pair as Kubernetes writes env vars: {"name":"DB_PASSWORD","value":"…"}.
  key_value: (keys) =>
    `(?<kk>${keyAlternation(keys)})(?<ks>\\\\?["']?\\s{0,8}[=:]\\s{0,8})(?<kv>"(?:[^"\\\\\\n]|\\\\.){0,4096}"|'[^'\\n]{0,4096}'|(?<kvs>(?:${SCHEMES.map(keywordSource).join('|')})\\s{1,4})?[^\\s,;&'}\\])<>]{1,4096})` +
    `|(?<nk>"(?:name|key)"\\s{0,8}:\\s{0,8}"(?:[A-Za-z0-9_.-]{0,64}(?:${keys.map(keywordSource).join('|')})|(?:[A-Za-z0-9_.-]{0,64}[_.-])?(?:${SHORT_KEYS.map(keywordSource).join('|')}))"\\s{0,8},\\s{0,8}"value"\\s{0,8}:\\s{0,8})(?<nv>"(?:[^"\\\\\\n]|\\\\.){0,4096}")`,
  bearer: () =>
    `\\b(?<bs>(?:${keywordSource('bearer')}|${keywordSource('basic')})\\s{1,4})(?<bv>[A-Za-z0-9._~+/-]{6,4096}=*)`,
  url_password: () =>
    `(?<us>\\b[a-zA-Z][a-zA-Z0-9+.-]{0,20}://[^\\s/:@'"]{0,256}:)(?<uv>[^\\s/@'"]{1,256})@`,
  jwt: () => `\\beyJ[A-Za-z0-9_-]{4,4096}\\.[A-Za-z0-9_-]{4,8192}\\.[A-Za-z0-9_-]{0,4096}`,
  aws_access_key: () =>
    `\\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\\b`,
  // 40 base64 characters standing alone; the replacer wants upper, lower and digit in it.
  aws_secret_key: () => `(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])`,
  // GitHub, Slack, Stripe, Google API key formats.
  api_token: () =>
    `\\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[baprse]-[A-Za-z0-9-]{10,255}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,255}|AIza[0-9A-Za-z_-]{35})`,
  private_key: () =>
    `-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY-----(?:[\\s\\S]{0,16384}?-----END (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY-----|[\\s\\S]{0,16384})`,
  email: () => `[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\\.){1,8}[A-Za-z]{2,24}\\b`,
  credit_card: () => `\\b(?:\\d[ .-]?){12,18}\\d\\b`,
  us_ssn: () => `\\b\\d{3}-\\d{2}-\\d{4}\\b`,
};

/** Order matters: earlier alternatives win at the same position. */
export const ORDER: DetectorName[] = [
  'private_key',
  'key_value',
  'bearer',
  'url_password',
  'jwt',
  'api_token',
  'aws_access_key',
  'aws_secret_key',
  'email',
  'credit_card',
  'us_ssn',
];

/** Luhn checksum over the digits of `s` (separators ignored). */
export function luhn(s: string): boolean {
  let sum = 0;
  let n = 0;
  let dbl = false;
  for (let i = s.length - 1; i >= 0; i--) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) continue;
    n++;
    let v = d;
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return n >= 13 && n <= 19 && sum % 10 === 0;
}

/** Valid SSN shape: area not 000/666/9xx, group not 00, serial not 0000. */
export function validSsn(s: string): boolean {
  const area = s.slice(0, 3);
  return (
    area !== '000' &&
    area !== '666' &&
    s[0] !== '9' &&
    s.slice(4, 6) !== '00' &&
    s.slice(7) !== '0000'
  );
}

/** 40 base64 characters with upper, lower and digit: shaped like an AWS secret key (not a hex id). */
export function plausibleAwsSecret(v: string): boolean {
  return /[A-Z]/.test(v) && /[a-z]/.test(v) && /[0-9]/.test(v);
}

/**
 * A digit run that continues a longer dash- or dot-joined token (a UUID's `…-4444-555555555555`,
 * a version) is not a card number on its own.
 */
export function partOfLongerToken(s: string, from: number, to: number): boolean {
  const prev = s.charCodeAt(from - 1);
  const next = s.charCodeAt(to);
  const alnum = (c: number): boolean =>
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (prev === 45 || next === 45) return true; // '-'
  if (prev === 46 && alnum(s.charCodeAt(from - 2))) return true; // 'x.' before
  if (next === 46 && alnum(s.charCodeAt(to + 1))) return true; // '.x' after
  return false;
}

/** A Bearer/Basic "credential" made only of lowercase letters is English ("Bearer authentication"). */
export function plausibleToken(v: string): boolean {
  return !/^[a-z]+$/.test(v);
}

/**
 * The longest run of letters of each keyword, lowercased: a text without any of them cannot hold
 * a sensitive key (`db_password` contains `password`, `x-api-key` contains `key`).
 */
export function keywordCores(keys: readonly string[]): string[] {
  const cores = new Set<string>();
  for (const k of keys) {
    const runs = k
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean);
    const best = runs.sort((a, b) => b.length - a.length)[0];
    if (best) cores.add(best.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  }
  return [...cores];
}

/**
 * A cheap necessary condition per detector, tested before its (costlier) regex: a match of the
 * detector implies a match of this. Plain substrings use indexOf.
 */
export function prefilter(d: DetectorName, keys: readonly string[]): string | RegExp {
  switch (d) {
    case 'key_value':
      return new RegExp(keywordCores([...keys, ...SHORT_KEYS]).join('|'), 'i');
    case 'bearer':
      return /b(?:earer|asic)\s/i;
    case 'api_token':
      return /gh[pousr]_|github_pat_|xox[baprse]-|[sr]k_(?:live|test)_|AIza/;
    case 'aws_secret_key':
      return /[A-Za-z0-9/+]{40}/;
    case 'url_password':
      return '@';
    case 'jwt':
      return 'eyJ';
    case 'aws_access_key':
      return /A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA)[A-Z0-9]{16}/;
    case 'private_key':
      return 'PRIVATE KEY-----';
    case 'email':
      return '@';
    case 'credit_card':
      return /\d[ .-]?\d[ .-]?\d[\d .-]{10}/;
    case 'us_ssn':
      return /\d{3}-\d{2}-\d{4}/;
  }
}

/** One detector's regex alone (global), with its named groups. */
export function detectorRegex(d: DetectorName, keys: readonly string[]): RegExp {
  return new RegExp(SOURCES[d](keys), 'g');
}
