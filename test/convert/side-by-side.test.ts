// The runnable configs of the corpus through Fluent Bit 5.1.1 (shared/anchors) and through
// shiplog on its converted config, the same input lines each: the records must be the same
// (fields; Loki labels, lines and timestamps; Elasticsearch indices and documents). Differences
// by design are removed from the comparison explicitly and documented in
// docs/migrating-from-fluent-bit.md.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/harness.js';
import { LokiReceiver, type ReceivedEntry } from '../receivers/loki.js';
import { EsReceiver } from '../receivers/elasticsearch.js';
import {
  canonical,
  convertFile,
  convertFixture,
  FIXTURES,
  FLUENT_BIT,
  fluentBitRuns,
  jsonLines,
  runFluentBit,
  runShiplogUntil,
  writeLines,
} from './lib.js';

const runs = fluentBitRuns();
if (!runs && process.env.CI)
  throw new Error(`Fluent Bit anchor not runnable: ${FLUENT_BIT ?? 'not found'}`);

describe.skipIf(!runs)('side by side with Fluent Bit', () => {
  it('classic @INCLUDE/@SET config: tail → parser json → modify → grep → record_modifier → nest → stdout, same records', async () => {
    const dir = tempDir('shiplog-sbs-');
    const log = path.join(dir, 'app.log');
    writeLines(log, [
      '{"ts":"2026-12-01T08:00:00.123+0000","level":"info","msg":"started","user_id":"u1","session":"s1","password":"hunter2","internal":true,"context":{"a":1,"b":[1,2,{"c":null}]}}',
      '{"ts":"2026-12-01T08:00:01.000+0000","level":"debug","msg":"noise"}',
      'not json at all',
      '{"ts":"2026-12-01T08:00:02.500+0000","level":"error","message":"already named","user_id":"u2","count":42,"ratio":0.5,"ok":false}',
      '{"level":"warn","msg":"unicode é ✓ \\u00e9","session":"s3"}',
    ]);
    const expected = 4; // the debug line is dropped by grep
    const fb = jsonLines(
      await runFluentBit(
        path.join(FIXTURES, 'classic-include/fluent-bit.conf'),
        { APP_LOG: log, DATA_DIR: path.join(dir, 'fb') },
        (out) => jsonLines(out).length >= expected,
      ),
    );
    const { config } = convertFixture('classic-include/fluent-bit.conf', dir);
    const sl = jsonLines(
      await runShiplogUntil(
        config,
        { APP_LOG: log, DATA_DIR: path.join(dir, 'sl') },
        (out) => jsonLines(out).length >= expected,
      ),
    );
    expect(sl.map(canonical).sort()).toEqual(fb.map(canonical).sort());
    expect(fb).toHaveLength(expected);
    // Spot checks that the comparison compares something.
    expect(fb.find((r) => r.message === 'started')).toMatchObject({
      env: 'production',
      cluster: 'eu-1',
      ctx: { user_id: 'u1', session: 's1' },
    });
    expect(sl.some((r) => 'password' in r || 'internal' in r)).toBe(false);
    expect(sl).toContainEqual({ log: 'not json at all', env: 'production', cluster: 'eu-1' });
  }, 180_000);

  it('grep rule order, modify/record_modifier on existing fields, Skip_Long_Lines: the same records kept and changed', async () => {
    const dir = tempDir('shiplog-sbs-');
    const log = path.join(dir, 'app.log');
    const conf = path.join(dir, 'fluent-bit.conf');
    writeFileSync(
      conf,
      [
        '[SERVICE]',
        '    Flush 1',
        '    storage.path ${DATA_DIR}',
        '    Parsers_File parsers.conf',
        '[INPUT]',
        '    Name           tail',
        '    Path           ${APP_LOG}',
        '    Tag            app',
        '    Parser         plain_json',
        '    Read_from_Head On',
        '    Skip_Long_Lines On',
        '[FILTER]',
        '    Name    grep',
        '    Match   app',
        '    Exclude path ^/healthz',
        '    Regex   level ^(warn|error)$',
        '    Exclude msg ^ignored',
        '[FILTER]',
        '    Name   modify',
        '    Match  *',
        '    Rename a b',
        '    Copy   c c_copy',
        '    Add    env prod',
        '[FILTER]',
        '    Name   record_modifier',
        '    Match  *',
        '    Record level overwritten',
        '[OUTPUT]',
        '    Name          stdout',
        '    Match         *',
        '    Format        json_lines',
        '    json_date_key false',
        '',
      ].join('\n'),
    );
    writeLines(path.join(dir, 'parsers.conf'), [
      '[PARSER]',
      '    Name   plain_json',
      '    Format json',
    ]);
    writeLines(log, [
      '{"level":"error","msg":"kept","a":"1","b":"2","c":"3"}',
      '{"level":"warn","path":"/healthz","msg":"dropped by the exclude before the regex"}',
      '{"level":"info","msg":"dropped by the regex"}',
      '{"level":"error","msg":"ignored: the exclude after the regex never runs","a":"1","c":"3"}',
      '{"level":"warn","env":"staging"}',
      // Longer than Buffer_Max_Size (32k): Fluent Bit skips it, shiplog cuts it and drops it.
      `{"level":"error","msg":"long","pad":"${'x'.repeat(40_000)}"}`,
      '{"level":"error","msg":"after the long line"}',
    ]);
    const expected = 4;
    const env = (sub: string) => ({ APP_LOG: log, DATA_DIR: path.join(dir, sub) });
    const fb = jsonLines(
      await runFluentBit(conf, env('fb'), (out) => jsonLines(out).length >= expected),
    );
    const { config, report } = convertFile(conf, dir);
    const sl = jsonLines(
      await runShiplogUntil(config, env('sl'), (out) => jsonLines(out).length >= expected),
    );
    // By design, Rename onto an existing field: Fluent Bit skips it, shiplog replaces the field
    // (reported). The record that has both a and b shows it; every other record is identical.
    const conflict = (r: Record<string, unknown>) => r.msg === 'kept';
    expect(fb.find(conflict)).toMatchObject({ a: '1', b: '2' });
    expect(sl.find(conflict)).toMatchObject({ b: '1' });
    expect(sl.find(conflict)).not.toHaveProperty('a');
    const rest = (rs: Array<Record<string, unknown>>) =>
      rs
        .filter((r) => !conflict(r))
        .map(canonical)
        .sort();
    expect(rest(sl)).toEqual(rest(fb));
    expect(fb).toHaveLength(expected);
    expect(fb.map((r) => r.msg).sort()).toEqual([
      'after the long line',
      'ignored: the exclude after the regex never runs',
      'kept',
      undefined,
    ]);
    expect(report.findings.map((f) => f.directive)).toEqual(
      expect.arrayContaining(['Rename a b', 'Exclude msg ^ignored']),
    );
  }, 180_000);

  describe('to Loki', () => {
    let loki: LokiReceiver;
    beforeAll(async () => {
      loki = await LokiReceiver.start();
    });
    afterAll(async () => {
      await loki.close();
    });

    it('YAML config: tail → parser regex (time, types) → modify → grep → nest → loki (labels from nested fields), same labels, lines and timestamps', async () => {
      const dir = tempDir('shiplog-sbs-');
      const log = path.join(dir, 'access.log');
      const t = (minutesAgo: number): { text: string; ns: bigint } => {
        const d = new Date(Math.floor(Date.now() / 1000) * 1000 - minutesAgo * 60_000);
        const mon = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
        const p = (n: number) => String(n).padStart(2, '0');
        return {
          text: `${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`,
          ns: BigInt(d.getTime()) * 1_000_000n,
        };
      };
      const times = [t(30), t(29), t(28), t(27)];
      writeLines(log, [
        `10.0.0.1 [${times[0].text}] "GET /api/users" 200 512 info`,
        `10.0.0.2 [${times[1].text}] "GET /healthz" 200 2 info`,
        `10.0.0.3 [${times[2].text}] "POST /api/orders" 500 128 error`,
        `10.0.0.4 [${times[3].text}] "DELETE /api/orders/7" 404 0 warn`,
      ]);
      const expected = 3; // /healthz is excluded
      const env = (sub: string) => ({
        ACCESS_LOG: log,
        DATA_DIR: path.join(dir, sub),
        LOKI_HOST: '127.0.0.1',
        LOKI_PORT: new URL(loki.url).port,
      });
      const take = async (run: () => Promise<unknown>): Promise<ReceivedEntry[]> => {
        loki.entries.length = 0;
        await run();
        return loki.entries.splice(0);
      };
      const fb = await take(() =>
        runFluentBit(
          path.join(FIXTURES, 'yaml-loki/fluent-bit.yaml'),
          env('fb'),
          () => loki.entries.length >= expected,
        ),
      );
      const { config } = convertFixture('yaml-loki/fluent-bit.yaml', dir);
      const sl = await take(() =>
        runShiplogUntil(config, env('sl'), () => loki.entries.length >= expected),
      );
      const view = (es: ReceivedEntry[]) =>
        es
          .map((e) => ({
            labels: e.labels,
            ts: e.ts.toString(),
            line: JSON.parse(e.line) as unknown,
          }))
          .sort((a, b) => a.ts.localeCompare(b.ts));
      expect(view(sl)).toEqual(view(fb));
      expect(view(fb)).toEqual([
        {
          labels: { job: 'web', level: 'info', http_method: 'GET' },
          ts: times[0].ns.toString(),
          line: {
            client: '10.0.0.1',
            http: { path: '/api/users' },
            code: 200,
            size: 512,
            service: 'web',
          },
        },
        {
          labels: { job: 'web', level: 'error', http_method: 'POST' },
          ts: times[2].ns.toString(),
          line: {
            client: '10.0.0.3',
            http: { path: '/api/orders' },
            code: 500,
            size: 128,
            service: 'web',
          },
        },
        {
          labels: { job: 'web', level: 'warn', http_method: 'DELETE' },
          ts: times[3].ns.toString(),
          line: {
            client: '10.0.0.4',
            http: { path: '/api/orders/7' },
            code: 404,
            size: 0,
            service: 'web',
          },
        },
      ]);
    }, 180_000);
  });

  describe('to Elasticsearch', () => {
    let es: EsReceiver;
    beforeAll(async () => {
      es = await EsReceiver.start();
    });
    afterAll(async () => {
      await es.close();
    });

    it('tail Parser (Time_Key) → es Logstash_Format: same indices (by record time) and documents', async () => {
      const dir = tempDir('shiplog-sbs-');
      const log = path.join(dir, 'app.log');
      writeLines(log, [
        '{"timestamp":"2026-11-30T23:59:59.500+0000","level":"info","msg":"before midnight","n":1}',
        '{"timestamp":"2026-12-01T00:00:01.250+0000","level":"warn","msg":"after midnight","tags":["a","b"]}',
        '{"timestamp":"2026-12-01T10:00:00.000+0000","level":"error","msg":"later","nested":{"k":"v"}}',
      ]);
      const env = (sub: string) => ({
        APP_LOG: log,
        DATA_DIR: path.join(dir, sub),
        ES_PORT: new URL(es.url).port,
      });
      const take = async (run: () => Promise<unknown>) => {
        es.indices.clear();
        await run();
        const out: Array<{ index: string; doc: Record<string, unknown> }> = [];
        for (const [index, docs] of es.indices)
          for (const d of docs.values()) out.push({ index, doc: d });
        es.indices.clear();
        return out;
      };
      const fb = await take(() =>
        runFluentBit(
          path.join(FIXTURES, 'es-logstash/fluent-bit.conf'),
          env('fb'),
          () => es.count() >= 3,
        ),
      );
      const { config } = convertFixture('es-logstash/fluent-bit.conf', dir);
      const sl = await take(() => runShiplogUntil(config, env('sl'), () => es.count() >= 3));
      // @timestamp: the same instant; Fluent Bit writes milliseconds with 3 digits, shiplog RFC 3339.
      const view = (docs: typeof fb) =>
        docs
          .map(({ index, doc }) => {
            const { ['@timestamp']: ts, ...rest } = doc;
            return { index, ts: Date.parse(String(ts)), doc: canonical(rest) };
          })
          .sort((a, b) => a.ts - b.ts);
      expect(view(sl)).toEqual(view(fb));
      expect(view(fb).map((d) => [d.index, new Date(d.ts).toISOString()])).toEqual([
        ['app-2026.11.30', '2026-11-30T23:59:59.500Z'],
        ['app-2026.12.01', '2026-12-01T00:00:01.250Z'],
        ['app-2026.12.01', '2026-12-01T10:00:00.000Z'],
      ]);
    }, 180_000);
  });
});
