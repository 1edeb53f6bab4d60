import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY } from './config.js';
import { compileKeyTemplate, KeyTemplateError } from './key.js';

const T = Date.UTC(2024, 0, 2, 3, 4, 5, 678); // 2024-01-02T03:04:05.678Z

describe('s3 key template', () => {
  it('renders the default key from the first record time in UTC', () => {
    const k = compileKeyTemplate(DEFAULT_KEY, 'node-1');
    expect(k.render({ tag: 'app.web', timeMs: T, uuid: 'U', hostname: 'node-1' })).toBe(
      'shiplog/app.web/2024/01/02/030405-U.ndjson.gz',
    );
    expect(k.usesTag).toBe(true);
    expect(k.staticPrefix).toBe('shiplog/');
    expect(k.prefixHasHostname).toBe(false);
  });

  it('supports %j %y %s %% and {tag[N]}', () => {
    const k = compileKeyTemplate('%y-%j/%s/100%%/{tag[0]}/{tag[2]}/{tag[9]}/{uuid}', 'h');
    expect(k.render({ tag: 'kube.ns.pod', timeMs: T, uuid: 'u', hostname: 'h' })).toBe(
      `24-002/${Math.floor(T / 1000)}/100%/kube/pod/_/u`,
    );
    const dec31 = Date.UTC(2024, 11, 31, 23, 59, 59); // leap year: day 366
    expect(k.render({ tag: 'a', timeMs: dec31, uuid: 'u', hostname: 'h' })).toMatch(/^24-366\//);
  });

  it('fills {hostname} into the static prefix and marks it as this host', () => {
    const k = compileKeyTemplate('archive/{hostname}/{tag}/{uuid}', 'node-7');
    expect(k.staticPrefix).toBe('archive/node-7/');
    expect(k.prefixHasHostname).toBe(true);
    const k2 = compileKeyTemplate('logs-%Y/{hostname}/{uuid}', 'node-7');
    expect(k2.staticPrefix).toBe('logs-');
    expect(k2.prefixHasHostname).toBe(false);
    expect(k2.usesTag).toBe(false);
  });

  it('keeps a tag one safe path segment', () => {
    const k = compileKeyTemplate('{tag}/{uuid}', 'h');
    expect(k.render({ tag: 'a/b\\c\n', timeMs: T, uuid: 'u', hostname: 'h' })).toBe('a_b_c_/u');
    expect(k.render({ tag: '..', timeMs: T, uuid: 'u', hostname: 'h' })).toBe('__/u');
    expect(k.render({ tag: '', timeMs: T, uuid: 'u', hostname: 'h' })).toBe('_/u');
  });

  it('rejects unknown placeholders, bad directives, missing {uuid}', () => {
    expect(() => compileKeyTemplate('{level}/{uuid}', 'h')).toThrow(
      /unknown placeholder "\{level\}"/,
    );
    expect(() => compileKeyTemplate('%Q/{uuid}', 'h')).toThrow(
      /unsupported strftime directive "%Q"/,
    );
    expect(() => compileKeyTemplate('{tag}/%Y', 'h')).toThrow(/must contain \{uuid\}/);
    expect(() => compileKeyTemplate('{tag/{uuid}', 'h')).toThrow(KeyTemplateError);
    expect(() => compileKeyTemplate('a}/{uuid}', 'h')).toThrow(/unmatched/);
    expect(() => compileKeyTemplate('/abs/{uuid}', 'h')).toThrow(/must not start with/);
  });
});
