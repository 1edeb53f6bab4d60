// Size (`64MiB`, `1MB`, `512KiB`, bytes as a number) and duration (`500ms`, `5s`, `1m`, `2h`, `7d`;
// a bare number is seconds) types for config schemas. Parsed values are numbers: bytes and ms.

import { z } from 'zod';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export function parseSize(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const mult = SIZE_UNITS[m[2].toLowerCase()];
  return mult === undefined ? undefined : Math.floor(Number(m[1]) * mult);
}

export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  const s = v.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== s.length) return undefined;
  return Math.round(total);
}

/** A size in bytes: `64MiB`, `1MB`, `512KiB`, `4096`. */
export function size(description: string) {
  return z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const n = parseSize(v);
      if (n === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a size such as 64MiB, 1MB, 512KiB or a number of bytes, got ${JSON.stringify(v)}`,
        });
        return z.NEVER;
      }
      return n;
    })
    .meta({ description, 'x-shiplog-unit': 'size' });
}

/** A duration in milliseconds: `500ms`, `5s`, `1m30s`, `2h`, `7d`; a bare number is seconds. */
export function duration(description: string) {
  return z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const n = parseDuration(v);
      if (n === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as 500ms, 5s, 1m, 2h or 7d, got ${JSON.stringify(v)}`,
        });
        return z.NEVER;
      }
      return n;
    })
    .meta({ description, 'x-shiplog-unit': 'duration' });
}
