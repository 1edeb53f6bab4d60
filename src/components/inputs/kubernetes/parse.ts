// Container log line formats, auto-detected per line (a node can run both runtimes, and a file
// written by docker before a switch to containerd keeps its format):
//   CRI (containerd, CRI-O): `<RFC3339Nano> <stdout|stderr> <P|F>[:tags] <content>`
//   docker json-file:        `{"log":"<content>\n","stream":"stdout","time":"<RFC3339Nano>"}`
// Pure functions over strings, filling one reusable result object: no allocation beyond the
// message substring (CRI) or the JSON.parse result (docker).

export interface ParsedLine {
  stream: 'stdout' | 'stderr';
  /** A chunk of a longer line: CRI `P`, or a docker `log` without its trailing newline. */
  partial: boolean;
  message: string;
  timeMs: number;
  /** Nanoseconds within the millisecond (0..999_999). */
  timeNs: number;
}

export function newParsedLine(): ParsedLine {
  return { stream: 'stdout', partial: false, message: '', timeMs: 0, timeNs: 0 };
}

export type LineFormat = 'cri' | 'docker';

const ZONE = /^(?:Z|[+-]\d\d:\d\d)$/;
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/;

/**
 * RFC 3339 timestamps with up to 9 fraction digits, at full precision. Lines of the same second
 * share one Date.parse (cached on the whole-second text).
 */
export class TimeParser {
  private key = '';
  private keyMs = 0;
  ms = 0;
  ns = 0;

  parse(s: string): boolean {
    if (s.length < 20) return false;
    let i = 19;
    let fracMs = 0;
    let fracNs = 0;
    if (s.charCodeAt(19) === 46 /* . */) {
      i = 20;
      let digits = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        if (digits < 3) fracMs = fracMs * 10 + c;
        else if (digits < 9) fracNs = fracNs * 10 + c;
        digits++;
      }
      if (digits === 0) return false;
      for (let d = digits; d < 3; d++) fracMs *= 10;
      for (let d = Math.max(3, digits); d < 9; d++) fracNs *= 10;
    }
    const secText = s.slice(0, 19);
    const zone = s.slice(i);
    const key = secText + zone;
    if (key !== this.key) {
      if (!DATE_TIME.test(secText) || !ZONE.test(zone)) return false;
      const ms = Date.parse(key);
      if (Number.isNaN(ms)) return false;
      this.key = key;
      this.keyMs = ms;
    }
    this.ms = this.keyMs + fracMs;
    this.ns = fracNs;
    return true;
  }
}

/** Parse a CRI line into `out`. False when the line is not CRI. */
export function parseCri(line: string, out: ParsedLine, time: TimeParser): boolean {
  const a = line.indexOf(' ');
  if (a < 20) return false;
  const b = line.indexOf(' ', a + 1);
  if (b === -1) return false;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return false;
  let c = line.indexOf(' ', b + 1);
  if (c === -1) c = line.length; // `<ts> stdout F` with empty content
  const t0 = line.charCodeAt(b + 1);
  // The tag is `P` or `F`, optionally followed by `:`-separated extras (CRI log tags).
  if ((t0 !== 80 /* P */ && t0 !== 70) /* F */ || (c !== b + 2 && line.charCodeAt(b + 2) !== 58))
    return false;
  if (!time.parse(line.slice(0, a))) return false;
  out.stream = stream;
  out.partial = t0 === 80;
  out.message = c >= line.length ? '' : line.slice(c + 1);
  out.timeMs = time.ms;
  out.timeNs = time.ns;
  return true;
}

/** Parse a docker json-file line into `out`. False when it is not one. */
export function parseDocker(line: string, out: ParsedLine, time: TimeParser): boolean {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return false;
  }
  if (v === null || typeof v !== 'object') return false;
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o.log !== 'string' || typeof o.time !== 'string') return false;
  if (o.stream !== 'stdout' && o.stream !== 'stderr') return false;
  if (!time.parse(o.time)) return false;
  const log = o.log;
  // dockerd splits lines at 16 KiB; every chunk but the last lacks the trailing newline.
  const nl = log.length > 0 && log.charCodeAt(log.length - 1) === 10;
  out.stream = o.stream;
  out.partial = !nl;
  out.message = nl ? log.slice(0, log.length - 1) : log;
  out.timeMs = time.ms;
  out.timeNs = time.ns;
  return true;
}

/** Auto-detect per line: JSON object ⇒ docker, otherwise CRI. Undefined: malformed. */
export function parseLine(line: string, out: ParsedLine, time: TimeParser): LineFormat | undefined {
  if (line.charCodeAt(0) === 123 /* { */)
    return parseDocker(line, out, time) ? 'docker' : undefined;
  return parseCri(line, out, time) ? 'cri' : undefined;
}
