// The one `auth` and `tls` option shape of every HTTP output (issue #19), as zod fragments the
// outputs' config.ts spread into their schemas. Resolved by auth.ts and tls.ts.
//
//   auth: { type: none | basic | bearer | api_key,
//           user, password | password_env | password_file,      (basic)
//           token | token_env | token_file,                      (bearer)
//           api_key | api_key_env | api_key_file }               (api_key)
//   tls:  { verify: true, ca_file, cert_file, key_file, server_name }
//
// A secret comes from exactly one of: the value (write it as `${ENV}` interpolation, never as a
// literal), `*_env` (the name of an environment variable read at start-up) or `*_file` (read at
// start-up, trailing newline ignored). Deprecated spellings are accepted for one release with a
// warning naming the new key: `auth` without `type` (both outputs), and 0.1's loki keys
// `auth.bearer_token[_file]` and `tls.insecure_skip_verify` (`legacy`: the loki output only).

import { z } from 'zod';

export const AUTH_TYPES = ['none', 'basic', 'bearer', 'api_key'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

const deprecated = (instead: string) =>
  `Deprecated (accepted until the next release, with a warning): use ${instead}.`;

type SecretKeys<K extends string> = {
  [P in K | `${K}_env` | `${K}_file`]: z.ZodOptional<z.ZodString>;
};

/** The value, `*_env` and `*_file` keys of one secret. */
function secret<K extends string>(key: K, what: string, type: string): SecretKeys<K> {
  return {
    [key]: z
      .string()
      .optional()
      .describe(`${type}: the ${what}. Use \${ENV} interpolation, never a literal.`),
    [`${key}_env`]: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
      .optional()
      .describe(`${type}: name of the environment variable holding the ${what}; read at start-up.`),
    [`${key}_file`]: z
      .string()
      .min(1)
      .optional()
      .describe(`${type}: file holding the ${what} (trailing newline ignored); read at start-up.`),
  } as SecretKeys<K>;
}

type LegacyAuthKeys = {
  bearer_token: z.ZodOptional<z.ZodString>;
  bearer_token_file: z.ZodOptional<z.ZodString>;
};

/**
 * `auth` of an HTTP output. `types`: the schemes the backend knows (Loki has no API-key scheme).
 * The description ends with `note` (e.g. "Grafana Cloud: basic, user = instance id"). `legacy`:
 * also accept the deprecated 0.1 loki keys (only an output that had them).
 */
export function authOptions(
  types: readonly AuthType[],
  { note = '', legacy = false }: { note?: string; legacy?: boolean } = {},
) {
  return z
    .strictObject({
      type: z
        .enum(types as [AuthType, ...AuthType[]])
        .optional()
        .describe(
          'Scheme: none (the default), basic (user + password), bearer (token)' +
            (types.includes('api_key') ? ', api_key (Authorization: ApiKey <key>).' : '.'),
        ),
      user: z.string().min(1).optional().describe('basic: user name.'),
      ...secret('password', 'password', 'basic'),
      ...secret('token', 'token', 'bearer'),
      ...(types.includes('api_key')
        ? secret('api_key', 'encoded key (base64 of id:key, as Kibana shows it)', 'api_key')
        : // typed as present (absent at run time): one AuthOptions for every output
          ({} as SecretKeys<'api_key'>)),
      ...(legacy
        ? {
            bearer_token: z.string().optional().describe(deprecated('type: bearer and token')),
            bearer_token_file: z
              .string()
              .min(1)
              .optional()
              .describe(deprecated('type: bearer and token_file')),
          }
        : ({} as LegacyAuthKeys)),
    })
    .prefault({})
    .describe(
      `Authentication. Each secret comes from exactly one of the value (\${ENV} interpolation), *_env or *_file.${note ? ' ' + note : ''}`,
    );
}

/** `tls` of an HTTP output (used for https URLs); `legacy`: also the deprecated 0.1 loki key. */
export function tlsOptions(legacy = false) {
  return z
    .strictObject({
      verify: z
        .boolean()
        .default(true)
        .describe('Verify the server certificate and name. Turn off only for a lab setup.'),
      ca_file: z.string().min(1).optional().describe('PEM CA bundle to verify the server with.'),
      cert_file: z.string().min(1).optional().describe('PEM client certificate (mutual TLS).'),
      key_file: z.string().min(1).optional().describe('PEM client key (mutual TLS).'),
      server_name: z
        .string()
        .min(1)
        .optional()
        .describe(
          'Name sent as SNI and checked against the certificate, when it differs from the url host (e.g. the url is an IP).',
        ),
      ...(legacy
        ? { insecure_skip_verify: z.boolean().optional().describe(deprecated('verify: false')) }
        : ({} as { insecure_skip_verify: z.ZodOptional<z.ZodBoolean> })),
    })
    .prefault({})
    .describe('TLS for https URLs.');
}

/** A parsed `auth` (any output's: the keys a backend lacks are simply absent). */
export interface AuthOptions {
  type?: AuthType;
  user?: string;
  password?: string;
  password_env?: string;
  password_file?: string;
  token?: string;
  token_env?: string;
  token_file?: string;
  api_key?: string;
  api_key_env?: string;
  api_key_file?: string;
  bearer_token?: string;
  bearer_token_file?: string;
}

/** A parsed `tls`. */
export interface TlsOptions {
  verify: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  server_name?: string;
  insecure_skip_verify?: boolean;
}
