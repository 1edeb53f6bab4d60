// Dead letters: records a backend (or a filter) rejected permanently, appended to
// `data_dir/dead_letter/<component>.ndjson` with the reason, one JSON object per record, so they
// are never silently dropped and never block the stream.

import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Metrics } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { recordJson, type LogRecord } from './record.js';

export interface DeadLetter {
  record: LogRecord;
  reason: string;
  tag?: string;
}

export interface DeadLetterWriter {
  readonly file: string;
  /** Append; resolves once written (so the caller may then acknowledge the records). */
  write(items: DeadLetter[]): Promise<void>;
}

export function createDeadLetterWriter(
  dataDir: string,
  component: string,
  log: Logger,
  metrics: Metrics,
): DeadLetterWriter {
  const dir = path.join(dataDir, 'dead_letter');
  const file = path.join(dir, `${component}.ndjson`);
  let chain: Promise<void> = Promise.resolve();
  let dirMade = false;
  return {
    file,
    write(items: DeadLetter[]): Promise<void> {
      if (items.length === 0) return Promise.resolve();
      const now = new Date().toISOString();
      let text = '';
      for (const it of items) {
        const t = new Date(it.record.timeMs);
        const time = Number.isNaN(t.getTime()) ? null : t.toISOString();
        let record: string;
        try {
          record = recordJson(it.record);
        } catch (e) {
          // A record that cannot be serialised must still be accounted for, never block the stream.
          record = JSON.stringify({ unserialisable: (e as Error).message });
        }
        text += `{"dead_lettered_at":${JSON.stringify(now)},"component":${JSON.stringify(component)},"tag":${JSON.stringify(it.tag ?? null)},"reason":${JSON.stringify(it.reason)},"time":${JSON.stringify(time)},"record":${record}}\n`;
      }
      // Serialise appends so lines never interleave; a failed write is retried (never dropped).
      const run = async (): Promise<void> => {
        for (let attempt = 0; ; attempt++) {
          try {
            if (!dirMade) {
              await fsp.mkdir(dir, { recursive: true });
              dirMade = true;
            }
            await fsp.appendFile(file, text, { mode: 0o640 });
            metrics.outputRecords.inc({ component, result: 'dead_lettered' }, items.length);
            log.warn('records dead-lettered', {
              file,
              reason: items[0].reason,
              count: items.length,
            });
            return;
          } catch (e) {
            log.error('dead-letter write failed; retrying', { file, error: (e as Error).message });
            await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)));
          }
        }
      };
      chain = chain.then(run);
      return chain;
    },
  };
}
