// `auth` of the HTTP outputs (http-options.ts) resolved to one Authorization header. Secrets
// never appear in a message, a log, a metric or a config error: errors name the key (and the
// environment variable or file), never the value, and a resolved auth prints as [redacted].

import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { invalidConfig as invalid } from '../../../core/errors.js';
import type { AuthOptions, AuthType } from './http-options.js';

/** The credential keys of each scheme (a secret key stands for its `_env` and `_file` forms). */
const SCHEME_KEYS: Record<Exclude<AuthType, 'none'>, readonly string[]> = {
  basic: ['user', 'password'],
  bearer: ['token'],
  api_key: ['api_key'],
};

export interface ResolvedAuth {
  readonly type: AuthType;
  /** Deprecated spellings this config used, each a warning naming the new key (logged once at start). */
  readonly deprecations: readonly string[];
  /** The Authorization header value (reads `*_file` secrets: call at start), undefined for none. */
  header(): string | undefined;
}

/** A secret given inline (from `${ENV}` interpolation) or as a file; a trailing newline is not part of it. */
export function readSecret(value: string | undefined, file: string | undefined): string {
  if (value !== undefined) return value;
  return readFileSync(file!, 'utf8').replace(/\r?\n$/, '');
}

/**
 * Check `a` (throws a ConfigError naming the key) and resolve its scheme; `allowed` are the
 * schemes of this backend. Environment secrets are read here, files by `header()`.
 */
export function resolveAuth(input: AuthOptions, allowed: readonly AuthType[]): ResolvedAuth {
  const a: AuthOptions = { ...input };
  const deprecations: string[] = [];
  // 0.1's loki spelling: bearer_token[_file] → token[_file].
  for (const [old, now] of [
    ['bearer_token', 'token'],
    ['bearer_token_file', 'token_file'],
  ] as const) {
    if (a[old] === undefined) continue;
    if (a[now] !== undefined)
      throw invalid(`auth.${old}`, `set auth.${now} only (auth.${old} is its deprecated spelling)`);
    a[now] = a[old];
    delete a[old];
    deprecations.push(`auth.${old} is deprecated: use auth.${now} (with auth.type: bearer)`);
  }
  const present = (k: string): boolean =>
    k === 'user'
      ? a.user !== undefined
      : [k, `${k}_env`, `${k}_file`].some((x) => a[x as keyof AuthOptions] !== undefined);
  const given = (Object.keys(SCHEME_KEYS) as Array<keyof typeof SCHEME_KEYS>).filter((t) =>
    SCHEME_KEYS[t].some(present),
  );
  let type: AuthType | undefined = a.type;
  if (type === undefined) {
    if (given.length > 1)
      throw invalid(
        'auth.type',
        `credentials of several schemes are set (${given.join(', ')}): set auth.type`,
      );
    const inferred = given.at(0);
    type = inferred ?? 'none';
    // (A bearer_token warning already says to set auth.type: bearer.)
    if (inferred !== undefined && !deprecations.some((d) => d.includes(`auth.type: ${inferred}`)))
      deprecations.push(
        `auth.type is not set: set auth.type: ${inferred} (inferring it from the credentials is deprecated)`,
      );
  }
  if (!allowed.includes(type))
    throw invalid(
      'auth.type',
      `${type} is not a scheme of this output (use ${allowed.join(', ')})`,
    );
  // Keys of another scheme are a mistake: they would be silently ignored.
  for (const t of given) {
    if (t === type) continue;
    const k = SCHEME_KEYS[t].find(present)!;
    throw invalid(`auth.${k}`, `auth.${k} is set but auth.type is ${type}`);
  }

  /** How to read a secret; `header` secrets go into the header as they are (basic's are encoded). */
  const source = (key: 'password' | 'token' | 'api_key', header = true): (() => string) => {
    const check = (k: string, v: string): string => (header ? checked(k, v) : v);
    const env = a[`${key}_env`];
    const set = [a[key], env, a[`${key}_file`]].filter((v) => v !== undefined).length;
    if (set !== 1)
      throw invalid(
        `auth.${key}`,
        set === 0
          ? `auth.type ${type} needs auth.${key}, auth.${key}_env or auth.${key}_file`
          : `set one of auth.${key}, auth.${key}_env or auth.${key}_file, not several`,
      );
    if (env !== undefined) {
      const v = process.env[env];
      if (v === undefined || v === '')
        throw invalid(`auth.${key}_env`, `environment variable ${env} is not set or empty`);
      return () => check(`auth.${key}_env`, v);
    }
    const value = a[key];
    const file = a[`${key}_file`];
    return () =>
      check(value !== undefined ? `auth.${key}` : `auth.${key}_file`, readSecret(value, file));
  };

  let header: () => string | undefined = () => undefined;
  if (type === 'basic') {
    const user = a.user;
    if (user === undefined) throw invalid('auth.user', 'auth.type basic needs auth.user');
    if (user.includes(':')) throw invalid('auth.user', 'a basic auth user name cannot hold ":"');
    const pw = source('password', false);
    header = () => `Basic ${Buffer.from(`${user}:${pw()}`).toString('base64')}`;
  } else if (type === 'bearer') {
    const token = source('token');
    header = () => `Bearer ${token()}`;
  } else if (type === 'api_key') {
    const key = source('api_key');
    header = () => `ApiKey ${key()}`;
  }
  const resolved: ResolvedAuth = { type, deprecations, header };
  // Whatever prints it (a debug log, a test failure) shows no secret.
  Object.defineProperties(resolved, {
    toJSON: { value: () => ({ type, secret: '[redacted]' }) },
    [inspect.custom]: { value: () => `ResolvedAuth { type: ${type}, secret: [redacted] }` },
  });
  return resolved;
}

/** A secret is a header value: undici refuses CR, LF, NUL and non-Latin-1 (it would wedge a pool). */
function checked(key: string, v: string): string {
  if (v.length === 0) throw invalid(key, 'the secret is empty');
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]|[^\u0000-\u00ff]/.test(v))
    throw invalid(key, 'the secret holds a control character or a character above U+00FF');
  return v;
}
