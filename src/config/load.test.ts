import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/errors.js';
import { interpolate, parseConfig } from './load.js';
import { parseDuration, parseSize } from '../core/units.js';

function errorOf(yaml: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(yaml, 'conf/x.yaml', { env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a config error');
}

const minimal = (input: string, output = '    - type: stdout') =>
  `pipeline:\n  inputs:\n${input}\n  outputs:\n${output}\n`;

describe('units', () => {
  it('parses sizes and durations', () => {
    expect(parseSize('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseSize('1MB')).toBe(1_000_000);
    expect(parseSize('512KiB')).toBe(524_288);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('12 parsecs')).toBeUndefined();
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration(2)).toBe(2000);
    expect(parseDuration('5 minutes')).toBeUndefined();
    expect(parseDuration('fast')).toBeUndefined();
  });
});

describe('interpolation', () => {
  it('replaces ${VAR} and ${VAR:-default}, keeps $${ literal, reports missing names', () => {
    const missing: string[] = [];
    expect(interpolate('a-${X}-${Y:-dflt}-$${Z}', { X: 'x' }, missing)).toBe('a-x-dflt-${Z}');
    expect(missing).toEqual([]);
    interpolate('${NOPE}', {}, missing);
    expect(missing).toEqual(['NOPE']);
  });

  it('turns a plain all-variable scalar into a number', () => {
    const c = parseConfig(minimal('    - type: demo\n      rate: ${RATE}'), 'x.yaml', {
      env: { RATE: '250' },
    });
    expect(c.pipeline.inputs[0].rate).toBe(250);
  });
});

describe('config errors', () => {
  it('a typo in a key names file:line:col, the key path and the nearest allowed key', () => {
    const msg = errorOf(minimal('    - type: demo\n      id: gen\n      raet: 5'));
    expect(msg).toContain(
      'conf/x.yaml:5:7: pipeline.inputs[0].raet: unknown key "raet"; did you mean "rate"?',
    );
    expect(msg).toContain('allowed keys:');
    expect(msg).toContain('[SHIPLOG_CONFIG_UNKNOWN_KEY]');
  });

  it('unknown keys in nested objects and in service are caught too', () => {
    expect(errorOf('service:\n  memroy_limit: 1MiB\n' + minimal('    - type: demo'))).toContain(
      'conf/x.yaml:2:3: service.memroy_limit: unknown key "memroy_limit"; did you mean "memory_limit"?',
    );
    expect(
      errorOf(minimal('    - type: demo', '    - type: stdout\n      retry:\n        maxx: 5s')),
    ).toContain('pipeline.outputs[0].retry.maxx: unknown key "maxx"; did you mean "max"?');
  });

  it('a missing env var without default', () => {
    const msg = errorOf('service:\n  data_dir: ${SHIPLOG_NOT_SET}\n' + minimal('    - type: demo'));
    expect(msg).toContain('conf/x.yaml:2:13');
    expect(msg).toContain('environment variable SHIPLOG_NOT_SET is not set and has no default');
  });

  it('a bad duration says what was expected', () => {
    const msg = errorOf('service:\n  shutdown_timeout: 5 minutes\n' + minimal('    - type: demo'));
    expect(msg).toContain(
      'conf/x.yaml:2:21: service.shutdown_timeout: expected a duration such as 500ms, 5s, 1m, 2h or 7d, got text of 9 characters (not shown)',
    );
  });

  it('a secret pasted into a size or duration key is not echoed (#17.17)', () => {
    for (const key of ['memory_limit', 'shutdown_timeout']) {
      const msg = errorOf(
        `service:\n  ${key}: glpat-S3cretT0kenValue\n` + minimal('    - type: demo'),
      );
      expect(msg).toContain(`service.${key}:`);
      expect(msg).not.toContain('S3cretT0ken');
    }
  });

  it('an unknown component type suggests the nearest one', () => {
    const msg = errorOf(minimal('    - type: dmeo'));
    expect(msg).toContain(
      'conf/x.yaml:3:13: pipeline.inputs[0].type: unknown input type "dmeo"; did you mean "demo"?',
    );
    expect(msg).toContain('[SHIPLOG_CONFIG_UNKNOWN_TYPE]');
  });

  it('a duplicate id', () => {
    const msg = errorOf(minimal('    - type: demo\n      id: a\n    - type: demo\n      id: a'));
    expect(msg).toContain('duplicate id "a" (already used at pipeline.inputs[0])');
    expect(msg).toContain('[SHIPLOG_CONFIG_DUPLICATE_ID]');
  });

  it('wrong value types and missing sections', () => {
    expect(errorOf(minimal('    - type: demo\n      rate: fast'))).toMatch(
      /pipeline.inputs\[0\].rate: expected a number, got "fast"/,
    );
    expect(errorOf('service: {}\n')).toContain('expected a "pipeline" mapping');
    expect(errorOf('pipeline:\n  inputs: []\n  outputs:\n    - type: stdout\n')).toContain(
      'at least one input is required',
    );
    expect(errorOf('pipeline: [\n')).toContain('SHIPLOG_CONFIG_YAML');
  });

  it('defaults ids and tags', () => {
    const c = parseConfig(minimal('    - type: demo\n    - type: demo'), 'x.yaml', { env: {} });
    expect(c.pipeline.inputs.map((i) => [i.id, i.tag])).toEqual([
      ['demo_0', 'demo_0'],
      ['demo_1', 'demo_1'],
    ]);
    expect(c.pipeline.outputs[0].buffer.when_full).toBe('block');
    expect(c.pipeline.outputs[0].retry).toEqual({ initial: 1000, max: 60_000 });
    expect(c.service.memory_limit).toBe(256 * 1024 * 1024);
  });
});
