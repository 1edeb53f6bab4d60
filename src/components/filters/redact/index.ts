// `redact`: mask secrets and personal data before anything leaves the node — bearer tokens,
// passwords and API keys in `k=v` text and JSON keys, URL passwords, JWTs, AWS key ids, private key
// blocks, e-mails, Luhn-valid card numbers, US SSNs, custom patterns — in the message and in
// nested fields. `mode: hash` replaces with a salted HMAC so equal values still correlate.

import { readFile } from 'node:fs/promises';
import type { Counter } from 'prom-client';
import { counter } from '../../_shared/metrics/index.js';
import { defineFilter, type Filter } from '../../../core/component.js';
import { touch, type LogRecord } from '../../../core/record.js';
import type { Metrics } from '../../../telemetry/metrics.js';
import { configError } from '../_shared/regex.js';
import { Results } from '../_shared/results.js';
import { options } from './config.js';
import { Redactor } from './redactor.js';

const COUNTER = 'shiplog_redactions_total';

/** Per-detector counter, registered once per metrics registry (several redact filters share it). */
function redactionCounter(metrics: Metrics): Counter<'component' | 'detector'> {
  return counter(metrics.registry, COUNTER, 'Secrets and personal data redacted, by detector.', [
    'component',
    'detector',
  ]);
}

export default defineFilter({
  kind: 'filter',
  type: 'redact',
  description:
    'Masks (or hashes) secrets and personal data in the message and nested fields: tokens, passwords, keys, e-mails, card numbers, SSNs, custom patterns.',
  options,
  create(config, ctx): Filter {
    const redactor = new Redactor(config);
    if (config.mode === 'hash' && config.salt_file === undefined) {
      const salt = process.env[config.salt_env];
      if (!salt) {
        throw configError(
          'salt_env',
          `mode: hash needs a salt: set the environment variable ${config.salt_env} or salt_file`,
        );
      }
      redactor.setSalt(salt);
    }
    const results = new Results(ctx.metrics, ctx.id);
    const counter = redactionCounter(ctx.metrics);
    return {
      async start() {
        if (config.mode === 'hash' && config.salt_file !== undefined) {
          const salt = (await readFile(config.salt_file, 'utf8')).trim();
          if (!salt) throw configError('salt_file', `salt file ${config.salt_file} is empty`);
          redactor.setSalt(salt);
        }
      },
      async stop() {},
      process(records: LogRecord[]): LogRecord[] {
        // Fails closed: a record redaction throws on is dropped (never passed on unredacted, and
        // not dead-lettered either: the dead letter would hold the secret), counted and logged.
        let changed = 0;
        let failed = 0;
        let firstError: unknown;
        let out = records;
        for (let i = 0; i < records.length; i++) {
          const rec = records[i];
          let hit: boolean;
          try {
            hit = redactor.record(rec);
          } catch (e) {
            if (failed++ === 0) {
              firstError = e;
              out = records.slice(0, i);
            }
            continue;
          }
          if (hit) {
            touch(rec);
            changed++;
          }
          if (failed > 0) out.push(rec);
        }
        if (failed > 0) {
          results.add('error', failed);
          results.dropped('redact_failed', failed);
          ctx.log.error('redact failed on records; dropped (never shipped unredacted)', {
            count: failed,
            error: String((firstError as Error)?.message ?? firstError).slice(0, 200),
          });
        }
        results.add('modified', changed);
        results.add('passed', out.length - changed);
        if (redactor.counts.size > 0) {
          for (const [detector, n] of redactor.counts)
            counter.inc({ component: ctx.id, detector }, n);
          redactor.counts.clear();
        }
        return out;
      },
    };
  },
});
