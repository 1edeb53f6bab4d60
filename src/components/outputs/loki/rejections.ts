// Reading a Loki 400 back onto the entries of the push it answers: Loki stores the valid
// entries of a push and lists the others (distributor and ingester messages), so only those are
// dead-lettered and nothing is resent.

import type { Entry, Push, Stream } from './push.js';

/**
 * Map the messages of a Loki 400 body to the entries of `push` they reject. Loki validates each
 * entry, stores the valid ones and answers 400 listing the others (distributor: age, future,
 * line size, label errors; ingester: out of order / too far behind). Returns chunk index → reason,
 * or undefined when the body names nothing we can attribute (the caller then treats every entry
 * as rejected).
 */
export function attributeRejections(body: string, push: Push): Map<number, string> | undefined {
  const byLabels = new Map<string, Stream>();
  for (const s of push.streams) byLabels.set(s.labels, s);
  const out = new Map<number, string>();
  const pendingIgnored: Array<{ t: [number, number]; msg: string; behind?: string }> = [];
  let understood = 0;
  for (const raw of body.split('\n')) {
    const msg = raw.trim().replace(/,$/, '');
    if (!msg) continue;
    let m: RegExpExecArray | null;
    const reject = (
      st: Stream | undefined,
      pred: (e: Entry) => boolean,
      why: string = msg,
    ): boolean => {
      if (!st) return false;
      let hit = false;
      for (const e of st.entries) {
        if (pred(e)) {
          hit = true;
          if (!out.has(e.index)) out.set(e.index, `loki 400: ${why}`);
        }
      }
      return hit;
    };
    if (
      (m =
        /^entry for stream '(\{.*\})' has timestamp too old: (\S+), oldest acceptable timestamp is: (\S+)$/.exec(
          msg,
        ))
    ) {
      const cutoff = Date.parse(m[3]);
      const st = byLabels.get(m[1]);
      if (reject(st, (e) => e.seconds * 1000 < cutoff || rfc3339s(e) === m![2])) understood++;
    } else if ((m = /^entry for stream '(\{.*\})' has timestamp too new: (\S+)$/.exec(msg))) {
      const ts = m[2];
      if (reject(byLabels.get(m[1]), (e) => rfc3339s(e) === ts)) understood++;
    } else if (
      (m =
        /^Max entry size '(\d+)' bytes exceeded for stream '(\{.*\})' while adding an entry with length '(\d+)' bytes$/.exec(
          msg,
        ))
    ) {
      const len = Number(m[3]);
      if (reject(byLabels.get(m[2]), (e) => Buffer.byteLength(e.line) === len)) understood++;
    } else if ((m = /^entry with timestamp (.+?) ignored, reason: '(.*)',?$/.exec(msg))) {
      // Ingester format: entries listed first, then "total ignored … for stream: {…}".
      const t = parseGoTime(m[1]);
      if (t)
        pendingIgnored.push({
          t,
          msg,
          behind: /oldest acceptable timestamp is: (\S+?)'?,?$/.exec(msg)?.[1],
        });
    } else if ((m = /total ignored: (\d+) out of \d+ for stream: (\{.*\})$/.exec(msg))) {
      const st = byLabels.get(m[2]);
      const listed = pendingIgnored.splice(0);
      let hit = false;
      for (const p of listed) {
        const same = (e: Entry): boolean => e.seconds === p.t[0] && e.nanos === p.t[1];
        let n = 0;
        for (const e of st?.entries ?? []) if (same(e)) n++;
        // Loki names entries by timestamp only: when several share it, all of them are
        // dead-lettered (a superset is safe; counting a refused entry as stored would lose it).
        const why =
          n > 1
            ? `${p.msg} (${n} entries share this timestamp; Loki does not say which one)`
            : p.msg;
        if (reject(st, same, why)) hit = true;
        // Loki lists at most a few entries; "too far behind" names the cutoff for the rest.
        if (p.behind !== undefined) {
          const cutoff = Date.parse(p.behind);
          if (reject(st, (e) => e.seconds * 1000 < cutoff, p.msg)) hit = true;
        }
      }
      if (hit) understood++;
    } else if (
      (m =
        /^(?:entry for )?stream '(\{.*\})' has (?:\d+ label names; limit \d+|duplicate label name: .*|label name too long: .*|label value too long: .*)$/.exec(
          msg,
        )) ||
      (m = /^Error parsing labels '(\{.*\})' with error: .*$/.exec(msg))
    ) {
      if (reject(byLabels.get(m[1]), () => true)) understood++;
    }
  }
  return understood > 0 ? out : undefined;
}

/** The entry time as Go's time.RFC3339 in UTC (second precision), as Loki prints it. */
function rfc3339s(e: Entry): string {
  return new Date(e.seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Go's time.Time String(): `2006-01-02 15:04:05.999999999 -0700 MST` → [seconds, nanos]. */
export function parseGoTime(s: string): [number, number] | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))? ([+-]\d{2})(\d{2})/.exec(s);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4]}:${m[5]}`);
  if (Number.isNaN(ms)) return undefined;
  return [ms / 1000, Number((m[3] ?? '').padEnd(9, '0'))];
}
