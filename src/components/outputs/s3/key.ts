// Object key templates: strftime (UTC, from the object's first record) plus `{tag}`, `{tag[N]}`,
// `{uuid}` and `{hostname}`, compiled once into parts so rendering one key per object is cheap.
// Pure: no I/O; the caller supplies the time, tag, uuid and hostname.

import { invalidConfig } from '../../../core/errors.js';
import type { S3Options } from './config.js';

export interface KeyValues {
  tag: string;
  timeMs: number;
  uuid: string;
  hostname: string;
}

export interface KeyTemplate {
  readonly source: string;
  /** The key depends on the tag: objects are built per tag. */
  readonly usesTag: boolean;
  /**
   * The literal start of every key (with {hostname} filled in), up to the first part that varies
   * per object: the prefix under which this output's multipart uploads live.
   */
  readonly staticPrefix: string;
  /** Whether staticPrefix contains the hostname (the prefix belongs to this host). */
  readonly prefixHasHostname: boolean;
  render(v: KeyValues): string;
}

type Part =
  | { k: 'lit'; s: string }
  | { k: 'time'; c: string }
  | { k: 'tag'; index?: number }
  | { k: 'uuid' }
  | { k: 'hostname' };

const STRFTIME = new Set(['Y', 'm', 'd', 'H', 'M', 'S', 'j', 'y', 's']);

export class KeyTemplateError extends Error {}

export function compileKeyTemplate(source: string, hostname: string): KeyTemplate {
  const parts: Part[] = [];
  let lit = '';
  const flush = (): void => {
    if (lit) parts.push({ k: 'lit', s: lit });
    lit = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '%') {
      const d = source[i + 1];
      if (d === '%') lit += '%';
      else if (d !== undefined && STRFTIME.has(d)) {
        flush();
        parts.push({ k: 'time', c: d });
      } else {
        throw new KeyTemplateError(
          `unsupported strftime directive "%${d ?? ''}" in key "${source}" (supported: %Y %m %d %H %M %S %j %y %s %%)`,
        );
      }
      i++;
    } else if (c === '{') {
      const end = source.indexOf('}', i);
      if (end === -1) throw new KeyTemplateError(`unclosed "{" in key "${source}"`);
      const ref = source.slice(i + 1, end).trim();
      flush();
      const m = /^tag\[(\d+)\]$/.exec(ref);
      if (ref === 'tag') parts.push({ k: 'tag' });
      else if (m) parts.push({ k: 'tag', index: Number(m[1]) });
      else if (ref === 'uuid') parts.push({ k: 'uuid' });
      else if (ref === 'hostname') parts.push({ k: 'hostname' });
      else {
        throw new KeyTemplateError(
          `unknown placeholder "{${ref}}" in key "${source}" (allowed: {tag}, {tag[N]}, {uuid}, {hostname})`,
        );
      }
      i = end;
    } else if (c === '}') {
      throw new KeyTemplateError(`unmatched "}" in key "${source}"`);
    } else {
      lit += c;
    }
  }
  flush();
  if (source.startsWith('/')) throw new KeyTemplateError(`key "${source}" must not start with "/"`);

  let staticPrefix = '';
  let prefixHasHostname = false;
  for (const p of parts) {
    if (p.k === 'lit') staticPrefix += p.s;
    else if (p.k === 'hostname') {
      staticPrefix += hostname;
      prefixHasHostname = true;
    } else break;
  }
  const usesTag = parts.some((p) => p.k === 'tag');
  if (!parts.some((p) => p.k === 'uuid')) {
    // Without a uuid two objects rolled in the same second (or by two agents) overwrite each other.
    throw new KeyTemplateError(
      `key "${source}" must contain {uuid}: without it objects can overwrite each other`,
    );
  }

  return {
    source,
    usesTag,
    staticPrefix,
    prefixHasHostname,
    render(v: KeyValues): string {
      const d = new Date(v.timeMs);
      let tagParts: string[] | undefined;
      let out = '';
      for (const p of parts) {
        switch (p.k) {
          case 'lit':
            out += p.s;
            break;
          case 'time':
            out += strftime(d, p.c);
            break;
          case 'tag':
            if (p.index === undefined) out += safeSegment(v.tag);
            else {
              tagParts ??= v.tag.split('.');
              out += safeSegment(tagParts[p.index] ?? '');
            }
            break;
          case 'uuid':
            out += v.uuid;
            break;
          case 'hostname':
            out += v.hostname;
            break;
        }
      }
      return out;
    },
  };
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function strftime(d: Date, c: string): string {
  switch (c) {
    case 'Y':
      return String(d.getUTCFullYear());
    case 'y':
      return pad(d.getUTCFullYear() % 100);
    case 'm':
      return pad(d.getUTCMonth() + 1);
    case 'd':
      return pad(d.getUTCDate());
    case 'H':
      return pad(d.getUTCHours());
    case 'M':
      return pad(d.getUTCMinutes());
    case 'S':
      return pad(d.getUTCSeconds());
    case 'j': {
      const start = Date.UTC(d.getUTCFullYear(), 0, 1);
      return pad(Math.floor((d.getTime() - start) / 86_400_000) + 1, 3);
    }
    case 's':
      return String(Math.floor(d.getTime() / 1000));
    default:
      return '';
  }
}

/**
 * A tag becomes part of a key: keep it a single, readable path segment. "/" would add levels and
 * ".." or an empty segment make keys that some tools mishandle.
 */
function safeSegment(s: string): string {
  if (s === '') return '_';
  if (s === '.' || s === '..') return s.replace(/\./g, '_');
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // "/" and "\\" would add path levels; control characters make keys tools mishandle.
    out += c === 0x2f || c === 0x5c || c < 0x20 || c === 0x7f ? '_' : s[i];
  }
  return out;
}

/**
 * Check what the schema cannot (the key template, SSE options) and compile the key. Runs in
 * `create()` (so `shiplog validate` reports it) without loading the AWS SDK.
 */
export function checkOptions(
  config: Pick<S3Options, 'key' | 'compression' | 'server_side_encryption' | 'kms_key_id'>,
  hostname: string,
): KeyTemplate {
  const source =
    config.compression === 'none' && config.key.endsWith('.gz')
      ? config.key.slice(0, -3)
      : config.key;
  let key: KeyTemplate;
  try {
    key = compileKeyTemplate(source, hostname);
  } catch (e) {
    if (e instanceof KeyTemplateError) throw invalidConfig('key', e.message);
    throw e;
  }
  if (config.server_side_encryption === undefined && config.kms_key_id)
    throw invalidConfig('kms_key_id', 'kms_key_id needs server_side_encryption: aws:kms');
  return key;
}
