// `shiplog replay --dry-run`: what a replay would send (records per file, the time range, the
// five most frequent reasons, what --since keeps), without claiming anything.

import { promises as fsp, existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseDeadLetter } from '../core/dead-letter.js';
import { claimedFiles, sources } from './replay-files.js';

/** --dry-run: what a replay would send, without claiming anything. */
export async function dryRun(
  dir: string,
  ids: string[],
  o: { to?: string; json: boolean },
  since: number | undefined,
  out: NodeJS.WritableStream,
): Promise<{ code: number }> {
  const files: Array<{
    from: string;
    to: string;
    records: number;
    kept: number;
    unreadable: number;
    first: string | null;
    last: string | null;
    reasons: Array<{ reason: string; count: number }>;
  }> = [];
  for (const id of ids) {
    const f = {
      from: id,
      to: o.to ?? id,
      records: 0,
      kept: 0,
      unreadable: 0,
      first: null as string | null,
      last: null as string | null,
      reasons: [] as Array<{ reason: string; count: number }>,
    };
    const reasons = new Map<string, number>();
    const claimed = path.join(dir, `${id}.replay`);
    let start = 0;
    try {
      start = (JSON.parse(await fsp.readFile(`${claimed}.offset`, 'utf8')) as { offset: number })
        .offset;
    } catch {
      start = 0;
    }
    for (const [file, from] of [
      [claimed, start],
      ...claimedFiles(dir, id)
        .filter((f) => f !== claimed)
        .map((f) => [f, 0]),
      ...sources(dir, id).map((f) => [f, 0]),
    ] as Array<[string, number]>) {
      if (!existsSync(file)) continue;
      const text = (await fsp.readFile(file)).subarray(from).toString('utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          const { entry } = parseDeadLetter(line);
          if (since !== undefined && !(Date.parse(entry.dead_lettered_at) >= since)) {
            f.kept++;
            continue;
          }
          f.records++;
          if (f.first === null || entry.dead_lettered_at < f.first)
            f.first = entry.dead_lettered_at;
          if (f.last === null || entry.dead_lettered_at > f.last) f.last = entry.dead_lettered_at;
          // Group reasons that differ only in numbers (timestamps, positions).
          const key = entry.reason.replace(/\d+(\.\d+)?/g, '#');
          reasons.set(key, (reasons.get(key) ?? 0) + 1);
        } catch {
          f.unreadable++;
        }
      }
    }
    f.reasons = [...reasons]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([reason, count]) => ({ reason, count }));
    files.push(f);
  }
  if (o.json) out.write(JSON.stringify({ dry_run: true, files }) + '\n');
  else {
    if (files.length === 0) out.write(`no dead letters to replay in ${dir}\n`);
    for (const f of files) {
      out.write(
        `would replay ${f.records} record(s) from ${f.from} through ${f.to}` +
          (f.first ? ` (dead-lettered ${f.first} .. ${f.last})` : '') +
          (f.kept ? `; ${f.kept} before --since stay` : '') +
          (f.unreadable ? `; ${f.unreadable} unreadable line(s)` : '') +
          '\n',
      );
      for (const r of f.reasons) out.write(`  ${String(r.count).padStart(8)}  ${r.reason}\n`);
    }
  }
  return { code: 0 };
}
