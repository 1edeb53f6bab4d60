// The tap behind `/tap` and `shiplog tap`: samples of the records leaving the filters, streamed to
// a few readers. Off unless `service.http.tap: true`. A token bucket per reader bounds what is
// serialised (default 100 records/s, at most 1000/s), a reader that does not keep up is skipped
// (never buffered for), and with no reader the pipeline pays one boolean test per batch.

/** What the tap reads of a record (core's LogRecord is one). */
export interface TapRecord {
  fields: Record<string, unknown>;
  timeMs: number;
  timeNs: number;
  labels?: Record<string, string>;
}

export const TAP_DEFAULT_RATE = 100;
export const TAP_MAX_RATE = 1000;
/** Bytes a reader's socket may hold unsent before its samples are skipped. */
const SLOW_READER_BYTES = 256 * 1024;
const MAX_READERS = 8;

export interface TapReader {
  /** Does this reader want records of this input and tag going to these outputs? */
  accept(input: string, tag: string, outputs: readonly string[]): boolean;
  /** Records per second. */
  rate: number;
  /** Write one line; the bytes not yet sent afterwards. */
  write(line: string): number;
}

interface Reader extends TapReader {
  tokens: number;
  last: number;
  skipped: number;
}

export class TapHub {
  private readers: Reader[] = [];
  /** True while someone reads: the pipeline's only cost without a reader is this test. */
  active = false;

  get size(): number {
    return this.readers.length;
  }

  /** Add a reader; returns its removal, or undefined when there are too many. */
  add(r: TapReader): (() => void) | undefined {
    if (this.readers.length >= MAX_READERS) return undefined;
    const rate = Math.min(TAP_MAX_RATE, Math.max(1, Math.floor(r.rate)));
    const reader: Reader = { ...r, rate, tokens: rate, last: Date.now(), skipped: 0 };
    this.readers.push(reader);
    this.active = true;
    return () => {
      this.readers = this.readers.filter((x) => x !== reader);
      this.active = this.readers.length > 0;
    };
  }

  /** A batch left the filters. */
  publish(
    input: string,
    tag: string,
    records: readonly TapRecord[],
    outputs: readonly string[],
  ): void {
    const now = Date.now();
    for (const r of this.readers) {
      if (!r.accept(input, tag, outputs)) continue;
      r.tokens = Math.min(r.rate, r.tokens + ((now - r.last) * r.rate) / 1000);
      r.last = now;
      const take = Math.min(records.length, Math.floor(r.tokens));
      if (take <= 0) continue;
      r.tokens -= take;
      // Evenly spread over the batch, not only its head.
      const step = records.length / take;
      for (let k = 0; k < take; k++) {
        const rec = records[Math.floor(k * step)];
        let line: string;
        try {
          line = tapLine(input, tag, outputs, rec);
        } catch {
          continue;
        }
        if (r.write(line) > SLOW_READER_BYTES) {
          r.skipped += take - k;
          break;
        }
      }
    }
  }
}

function tapLine(input: string, tag: string, outputs: readonly string[], r: TapRecord): string {
  const d = new Date(r.timeMs);
  const time = Number.isNaN(d.getTime()) ? null : d.toISOString();
  let line = `{"time":${JSON.stringify(time)},"input":${JSON.stringify(input)},"tag":${JSON.stringify(tag)},"outputs":${JSON.stringify(outputs)}`;
  if (r.labels !== undefined) line += `,"labels":${JSON.stringify(r.labels)}`;
  return line + `,"record":${JSON.stringify(r.fields)}}\n`;
}

/** Is this socket address the local host? */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a.startsWith('127.');
}
