import { z } from 'zod';

const on = (what: string) => z.boolean().default(true).describe(what);

export const options = z.object({
  detectors: z
    .strictObject({
      bearer: on('Bearer/Basic credentials: `Authorization: Bearer <token>` keeps the scheme.'),
      key_value: on(
        'Values of sensitive keys, in text (`password=…`, `"token": "…"`) and as record fields; keys ending in a name from `keys`.',
      ),
      url_password: on('The password in URLs: `https://user:secret@host`.'),
      jwt: on('JSON Web Tokens (`eyJ….eyJ….…`).'),
      aws_access_key: on('AWS access key ids (AKIA…, ASIA…).'),
      aws_secret_key: on(
        'AWS secret access keys: 40 base64 characters standing alone, with upper case, lower case and digits (hex ids do not match).',
      ),
      api_token: on(
        'Well-known API token formats: GitHub (ghp_…, github_pat_…), Slack (xoxb-…), Stripe (sk_live_…, rk_test_…), Google API keys (AIza…).',
      ),
      private_key: on('PEM private key blocks (-----BEGIN … PRIVATE KEY-----).'),
      email: on('E-mail addresses.'),
      credit_card: on(
        'Card numbers of 13-19 digits (spaces, dashes or dots allowed) that pass the Luhn check; not a digit run that continues a dash-joined id (a pod UID).',
      ),
      us_ssn: on('US social security numbers (AAA-GG-SSSS, invalid areas/groups excluded).'),
    })
    .prefault({})
    .describe('Built-in detectors, each on by default.'),
  keys: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'More sensitive key names for key_value, added to: password, passwd, pwd, passphrase, secret, token, api_key, apikey, access_key, secret_key, private_key, credential(s), authorization, cookie, session, session_id, sessionid, signature, and as whole words (or after _/-) pass, pw, sig. Matched case-insensitively at the end of a key (db_password, accessToken), `-`/`_` optional.',
    ),
  patterns: z
    .array(
      z.strictObject({
        name: z.string().min(1).describe('Detector name, for the counters.'),
        regex: z
          .string()
          .min(1)
          .describe(
            'JavaScript regular expression; the whole match is replaced (or only the named group `secret`, if present).',
          ),
      }),
    )
    .default([])
    .describe('Custom detectors, applied after the built-in ones.'),
  fields: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Only these fields (dotted paths) and what is nested in them. Default: every field of the record, nested ones included.',
    ),
  mode: z
    .enum(['mask', 'hash'])
    .default('mask')
    .describe(
      'mask: replace with `replacement`. hash: replace with [REDACTED:<16 hex of HMAC-SHA256(salt, value)>] so equal values still correlate.',
    ),
  replacement: z
    .string()
    .default('[REDACTED]')
    .describe('Text that replaces a secret in mask mode.'),
  salt_env: z
    .string()
    .min(1)
    .default('SHIPLOG_REDACT_SALT')
    .describe('Environment variable holding the salt for mode: hash.'),
  salt_file: z
    .string()
    .min(1)
    .optional()
    .describe('File holding the salt for mode: hash (read at start; wins over salt_env).'),
});
