import { describe, expect, it } from 'vitest';
import { lineRecord, testContext } from '../_shared/testing.js';
import def from './index.js';

function make(cfg: Record<string, unknown>) {
  const ctx = testContext('pr');
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'parse_regex', id: 'pr', match: '*' }, ctx), ctx };
}

const APACHE =
  '^(?<client>\\S+) \\S+ (?<user>\\S+) \\[(?<time>[^\\]]+)\\] "(?<method>[A-Z]+) (?<path>\\S*)[^"]*" (?<status>\\d{3}) (?<bytes>\\d+|-)(?: "(?<referer>[^"]*)" "(?<agent>[^"]*)")?';
const REDIS =
  '^(?<pid>\\d+):(?<role>[XCSM]) (?<time>\\d{2} \\w{3} \\d{4} [\\d:.]+) (?<level>[.\\-*#]) (?<message>.*)$';

describe('parse_regex', () => {
  it('Apache combined access line with types and strftime time', async () => {
    const { f, ctx } = make({
      pattern: APACHE,
      types: { status: 'int', bytes: 'int' },
      time_field: 'time',
      time_format: '%d/%b/%Y:%H:%M:%S %z',
    });
    const line =
      '203.0.113.9 - frank [10/Oct/2023:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://example.com/start.html" "Mozilla/4.08"';
    const [r] = f.process([lineRecord(line)], 'apache');
    expect(r.fields).toMatchObject({
      client: '203.0.113.9',
      user: 'frank',
      method: 'GET',
      path: '/apache_pb.gif',
      status: 200,
      bytes: 2326,
      agent: 'Mozilla/4.08',
    });
    expect(r.fields.message).toBeUndefined();
    expect(r.timeMs).toBe(Date.UTC(2023, 9, 10, 20, 55, 36));
    expect(await ctx.count('modified')).toBe(1);
  });

  it('nginx line without referer, "-" bytes skipped', () => {
    const [r] = make({ pattern: APACHE }).f.process(
      [lineRecord('10.0.0.1 - - [01/May/2024:12:00:00 +0000] "POST /api HTTP/1.1" 204 -')],
      'n',
    );
    expect(r.fields).toEqual({
      client: '10.0.0.1',
      time: '01/May/2024:12:00:00 +0000',
      method: 'POST',
      path: '/api',
      status: '204',
    });
  });

  it('Redis log line', () => {
    const [r] = make({
      pattern: REDIS,
      time_field: 'time',
      time_format: '%d %b %Y %H:%M:%S.%f',
    }).f.process(
      [lineRecord('1:M 01 May 2024 12:00:00.123 * Ready to accept connections tcp')],
      'redis',
    );
    expect(r.fields).toMatchObject({
      pid: '1',
      role: 'M',
      level: '*',
      message: 'Ready to accept connections tcp',
    });
    expect(r.timeMs).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 123));
  });

  it('no match: kept and counted; config errors', async () => {
    const { f, ctx } = make({ pattern: REDIS });
    expect(f.process([lineRecord('garbage')], 't')[0].fields).toEqual({ message: 'garbage' });
    expect(await ctx.count('error')).toBe(1);
    expect(() => make({ pattern: '^(\\d+)$' })).toThrow(/named group/);
    expect(() => make({ pattern: '(?<a>x)', types: { b: 'int' } })).toThrow(/no named group/);
  });

  it('hostile line against a nested-quantifier pattern stays fast', () => {
    const { f } = make({ pattern: '^(?<w>(\\w+\\s?)+)$' });
    const t0 = performance.now();
    f.process([lineRecord('word '.repeat(5000) + '!')], 't');
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
