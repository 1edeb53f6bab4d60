// The redaction engine, pure (no I/O): one pass over each string's characters says which
// detectors could match at all; only those run their prefilter and regex. Masks or hashes what it
// finds, and walks records iteratively (no recursion: hostile nesting cannot overflow the stack).

import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type { Fields, LogRecord } from '../../../core/record.js';
import { compileUserRegex } from '../_shared/regex.js';
import { compilePath, get, set, type Path } from '../_shared/paths.js';
import {
  DEFAULT_KEYS,
  detectorRegex,
  luhn,
  ORDER,
  partOfLongerToken,
  plausibleAwsSecret,
  plausibleToken,
  prefilter,
  sensitiveKeyRegex,
  validSsn,
  type DetectorName,
} from './detectors.js';

// node:crypto through require(): an ESM import of it also loads WebCrypto (issue #22).
const { createHmac } = createRequire(import.meta.url)('node:crypto') as typeof Crypto;

export interface RedactorOptions {
  detectors: Record<DetectorName, boolean>;
  keys: string[];
  patterns: Array<{ name: string; regex: string }>;
  fields: string[];
  mode: 'mask' | 'hash';
  replacement: string;
}

interface Detector {
  name: DetectorName;
  /** Feature bits (see `features`) of which at least one must be present for a match. */
  needs: number;
  pre: string | RegExp;
  re: RegExp;
  replacer: (...args: unknown[]) => string;
}

interface Custom {
  name: string;
  re: RegExp;
  secretGroup: boolean;
}

// One pass over a string computes which detectors could match at all, so most strings cost a
// loop over their characters instead of nine regexp calls.
const F_AT = 1; // '@': email, url_password
const F_SEP = 2; // '=' or ':': key_value in text
const F_DIGITS = 4; // 9+ digits: credit_card (13+), us_ssn (9)
const F_UPPER = 8; // a run of 20 [A-Z0-9]: aws_access_key
const F_J = 16; // 'J': jwt (eyJ…)
const F_DASHES = 32; // '-----': private_key
const F_SCHEME = 64; // 'r'/'c' then whitespace: Bearer/Basic
const F_TOK = 128; // 'h?_', 'b_', 'k_', 'x?-', 'AI': api_token (ghp_, github_, sk_live_, xoxb-, AIza)
const F_B64 = 256; // a run of 40 [A-Za-z0-9/+]: aws_secret_key
const NEEDS: Record<DetectorName, number> = {
  api_token: F_TOK,
  aws_secret_key: F_B64,
  private_key: F_DASHES,
  key_value: F_SEP,
  bearer: F_SCHEME,
  url_password: F_AT,
  jwt: F_J,
  aws_access_key: F_UPPER,
  email: F_AT,
  credit_card: F_DIGITS,
  us_ssn: F_DIGITS,
};

export function features(s: string): number {
  let f = 0;
  let digits = 0;
  let upper = 0;
  let dashes = 0;
  let b64 = 0;
  let prev = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits >= 9) f |= F_DIGITS;
      if (++upper >= 20) f |= F_UPPER;
      if (++b64 >= 40) f |= F_B64;
      dashes = 0;
    } else if (c >= 65 && c <= 90) {
      if (++upper >= 20) f |= F_UPPER;
      if (++b64 >= 40) f |= F_B64;
      if (c === 74) f |= F_J;
      else if (c === 73 && prev === 65) f |= F_TOK;
      dashes = 0;
    } else if (c >= 97 && c <= 122) {
      upper = 0;
      dashes = 0;
      if (++b64 >= 40) f |= F_B64;
    } else {
      upper = 0;
      if (c === 47 || c === 43) {
        if (++b64 >= 40) f |= F_B64;
      } else b64 = 0;
      if (c === 45) {
        if (s.charCodeAt(i - 2) === 120) f |= F_TOK; // xox?-
        if (++dashes >= 5) f |= F_DASHES;
      } else {
        dashes = 0;
        if (c === 64) f |= F_AT;
        else if (c === 61 || c === 58) f |= F_SEP;
        else if (c === 95) {
          // gh?_ (ghp_, gho_…), github_ (github_pat_), ?k_ (sk_live_, rk_test_)
          const p2 = s.charCodeAt(i - 2);
          if (p2 === 104 || prev === 98 || prev === 107) f |= F_TOK;
        } else if (
          (c === 32 || c === 9) &&
          (prev === 114 || prev === 99 || prev === 82 || prev === 67)
        )
          f |= F_SCHEME;
      }
    }
    prev = c;
  }
  return f;
}
const KEY_CACHE_MAX = 10_000;

export class Redactor {
  /** Count per detector name since the last `takeCounts`. */
  readonly counts = new Map<string, number>();
  private salt = '';
  private readonly detectors: Detector[];
  private readonly keyRe: RegExp | undefined;
  private readonly keyCache = new Map<string, boolean>();
  /** Record keys as scanned (a key may itself be a secret: a token used as a map key). */
  private readonly keyScanCache = new Map<string, string>();
  private readonly custom: Custom[];
  private readonly roots: Path[];
  /** Explicit walk stack, reused across records. */
  private readonly stack: unknown[] = [];

  constructor(private readonly opts: RedactorOptions) {
    const keys = [...new Set([...DEFAULT_KEYS, ...opts.keys])];
    // One function per detector for the filter's lifetime (String#replace callbacks).
    this.detectors = ORDER.filter((d) => opts.detectors[d]).map((name) => ({
      name,
      needs: NEEDS[name],
      pre: prefilter(name, keys),
      re: detectorRegex(name, keys),
      replacer: (...args: unknown[]) => this.replaceMatch(name, args),
    }));
    if (opts.detectors.key_value) this.keyRe = sensitiveKeyRegex(keys);
    this.custom = opts.patterns.map((p, i) => ({
      name: p.name,
      re: compileUserRegex(p.regex, `patterns[${i}].regex`, 'g'),
      secretGroup: /\(\?<secret>/.test(p.regex),
    }));
    this.roots = opts.fields.map(compilePath);
  }

  setSalt(salt: string): void {
    this.salt = salt;
  }

  private hit(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  /** The replacement for one secret value. */
  mask(value: string): string {
    if (this.opts.mode === 'mask') return this.opts.replacement;
    const h = createHmac('sha256', this.salt).update(value).digest('hex').slice(0, 16);
    return `[REDACTED:${h}]`;
  }

  private replaceMatch(det: DetectorName, args: unknown[]): string {
    const m = args[0] as string;
    const last = args[args.length - 1];
    const named = typeof last === 'object' && last !== null;
    const g = (named ? last : {}) as Record<string, string | undefined>;
    switch (det) {
      case 'key_value': {
        if (g.nk !== undefined) {
          // {"name":"DB_PASSWORD","value":"…"}
          const inner = g.nv!.slice(1, -1);
          if (inner === '') return m;
          this.hit(det);
          return `${g.nk}"${this.mask(inner)}"`;
        }
        const v = g.kv!;
        const scheme = g.kvs ?? '';
        const q = v[0] === '"' || v[0] === "'" ? v[0] : '';
        const inner = q ? v.slice(1, -1) : v.slice(scheme.length);
        if (inner === '') return m;
        this.hit(det);
        return g.kk! + g.ks! + (q ? q + this.mask(inner) + q : scheme + this.mask(inner));
      }
      case 'bearer':
        if (!plausibleToken(g.bv!)) return m;
        this.hit(det);
        return g.bs! + this.mask(g.bv!);
      case 'url_password':
        this.hit(det);
        return g.us! + this.mask(g.uv!) + '@';
      case 'credit_card': {
        if (!luhn(m)) return m;
        const at = args[args.length - (named ? 3 : 2)] as number;
        const str = args[args.length - (named ? 2 : 1)] as string;
        if (partOfLongerToken(str, at, at + m.length)) return m;
        break;
      }
      case 'aws_secret_key':
        if (!plausibleAwsSecret(m)) return m;
        break;
      case 'us_ssn':
        if (!validSsn(m)) return m;
        break;
      default:
        break;
    }
    this.hit(det);
    return this.mask(m);
  }

  /** Redact one string; returns the same string when nothing was found. */
  scan(s: string): string {
    let out = s;
    if (s.length < 3) return s;
    const f = features(s);
    if (f !== 0) {
      for (const d of this.detectors) {
        if ((f & d.needs) === 0) continue;
        const pre = d.pre;
        if (typeof pre === 'string' ? out.indexOf(pre) === -1 : !pre.test(out)) continue;
        d.re.lastIndex = 0;
        out = out.replace(d.re, d.replacer as (m: string) => string);
      }
    }
    for (const c of this.custom) {
      c.re.lastIndex = 0;
      if (!c.re.test(out)) continue;
      c.re.lastIndex = 0;
      out = out.replace(c.re, (...args: unknown[]) => {
        this.hit(c.name);
        const m = args[0] as string;
        const last = args[args.length - 1];
        const sec =
          c.secretGroup && typeof last === 'object' && last !== null
            ? (last as Record<string, string | undefined>).secret
            : undefined;
        if (sec === undefined) return this.mask(m);
        return m.replace(sec, this.mask(sec));
      });
    }
    return out;
  }

  private sensitiveKey(k: string): boolean {
    const re = this.keyRe;
    if (re === undefined) return false;
    let v = this.keyCache.get(k);
    if (v === undefined) {
      v = re.test(k);
      if (this.keyCache.size >= KEY_CACHE_MAX) this.keyCache.clear();
      this.keyCache.set(k, v);
    }
    return v;
  }

  /** A value under a sensitive key: the whole value goes. */
  private maskValue(v: unknown): unknown {
    this.hit('key_value');
    if (typeof v === 'string') return this.mask(v);
    if (typeof v === 'number' || typeof v === 'boolean') return this.mask(String(v));
    return this.opts.replacement;
  }

  /** A number that is a Luhn-valid card number. */
  private cardNumber(v: number): boolean {
    return (
      this.opts.detectors.credit_card && v >= 1e12 && Number.isSafeInteger(v) && luhn(String(v))
    );
  }

  /**
   * Redact one value in place: strings are scanned, containers walked. Returns the replacement
   * for a top-level string or number (or the value itself) and whether anything changed.
   */
  private walk(root: unknown): boolean {
    const stack = this.stack;
    let sp = 0;
    let changed = false;
    stack[sp++] = root;
    while (sp > 0) {
      const c = stack[--sp];
      stack[sp] = undefined;
      if (Array.isArray(c)) {
        for (let i = 0; i < c.length; i++) {
          const v: unknown = c[i];
          if (typeof v === 'string') {
            const r = this.scan(v);
            if (r !== v) {
              c[i] = r;
              changed = true;
            }
          } else if (typeof v === 'number') {
            if (this.cardNumber(v)) {
              this.hit('credit_card');
              c[i] = this.mask(String(v));
              changed = true;
            }
          } else if (v !== null && typeof v === 'object') {
            stack[sp++] = v;
          }
        }
      } else {
        const o = c as Fields;
        let renames: Array<[string, string]> | undefined;
        for (const k in o) {
          const rk = this.scanKey(k);
          if (rk !== k) (renames ??= []).push([k, rk]);
          const v = o[k];
          if (v === null || v === undefined) continue;
          if (this.sensitiveKey(k) && v !== '') {
            o[k] = this.maskValue(v);
            changed = true;
          } else if (typeof v === 'string') {
            const r = this.scan(v);
            if (r !== v) {
              o[k] = r;
              changed = true;
            }
          } else if (typeof v === 'number') {
            if (this.cardNumber(v)) {
              this.hit('credit_card');
              o[k] = this.mask(String(v));
              changed = true;
            }
          } else if (typeof v === 'object') {
            stack[sp++] = v;
          }
        }
        // {name: DB_PASSWORD, value: …}: a Kubernetes env var, a settings list.
        const name = o.name ?? o.key;
        if (
          typeof name === 'string' &&
          this.sensitiveKey(name) &&
          o.value !== undefined &&
          o.value !== null &&
          o.value !== '' &&
          o.value !== this.opts.replacement
        ) {
          o.value = this.maskValue(o.value);
          changed = true;
        }
        if (renames) {
          for (const [k, rk] of renames) {
            o[rk] = o[k];
            delete o[k];
          }
          changed = true;
        }
      }
    }
    return changed;
  }

  /**
   * A record key with any secret in it masked. Keys repeat record after record: the clean ones are
   * cached (a secret is not kept: it is scanned again, and counted, each time).
   */
  private scanKey(k: string): string {
    if (this.keyScanCache.has(k)) return k;
    const r = this.scan(k);
    if (r === k) {
      if (this.keyScanCache.size >= KEY_CACHE_MAX) this.keyScanCache.clear();
      this.keyScanCache.set(k, r);
    }
    return r;
  }

  /** Redact a record in place; returns whether anything changed (the caller touches it). */
  record(rec: LogRecord): boolean {
    if (this.roots.length === 0) return this.walk(rec.fields);
    let changed = false;
    for (const path of this.roots) {
      const v = get(rec.fields, path);
      if (typeof v === 'string') {
        const r = this.scan(v);
        if (r !== v) {
          set(rec.fields, path, r);
          changed = true;
        }
      } else if (typeof v === 'number' && this.cardNumber(v)) {
        this.hit('credit_card');
        set(rec.fields, path, this.mask(String(v)));
        changed = true;
      } else if (v !== null && typeof v === 'object') {
        changed = this.walk(v) || changed;
      }
    }
    return changed;
  }
}
