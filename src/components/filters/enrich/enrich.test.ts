import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { newRecord } from '../../../core/record.js';
import { testContext } from '../_shared/testing.js';
import def from './index.js';

function make(cfg: Record<string, unknown>) {
  const ctx = testContext('en');
  const config = def.options.parse(cfg);
  return { f: def.create({ ...config, type: 'enrich', id: 'en', match: '*' }, ctx), ctx };
}

describe('enrich', () => {
  it('adds static, env, template, hostname fields without overwriting; touches raw', async () => {
    process.env.SHIPLOG_TEST_REGION = 'eu-west-1';
    const { f, ctx } = make({
      add: {
        env: 'prod',
        region: '${SHIPLOG_TEST_REGION}',
        'source.where': '{agent_id}/{component}',
        n: 3,
        level: 'x',
      },
      hostname: true,
      host_ip: 'node.ip',
    });
    const rec = newRecord({ agent_id: 'agent-7', component: 'planner', level: 'info' });
    rec.raw = JSON.stringify(rec.fields);
    const [r] = f.process([rec], 't');
    expect(r.fields).toMatchObject({
      env: 'prod',
      region: 'eu-west-1',
      source: { where: 'agent-7/planner' },
      n: 3,
      level: 'info',
      hostname: os.hostname(),
    });
    expect(r.raw).toBeUndefined();
    expect(await ctx.count('modified')).toBe(1);
  });

  it('overwrite: true replaces; labels are added; missing env is a config error', () => {
    const { f } = make({ add: { level: 'x' }, labels: { cluster: 'eu-1' }, overwrite: true });
    const [r] = f.process([newRecord({ level: 'info' })], 't');
    expect(r.fields.level).toBe('x');
    expect(r.labels).toEqual({ cluster: 'eu-1' });
    expect(() => make({ add: { a: '${SHIPLOG_TEST_UNSET_VAR_Q}' } })).toThrow(/not set/);
    expect(() => make({ labels: { 'bad-name': 'x' } })).toThrow(/must match/);
  });
});
