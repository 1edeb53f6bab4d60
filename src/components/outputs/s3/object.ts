// One object being built: NDJSON text of each batch is gzipped as it arrives (zlib's thread pool,
// never the event loop) into a list of compressed chunks, so an open object costs its compressed
// size plus the batches themselves, which are held by reference until the upload completed and
// they can be acknowledged. The uncompressed text is never kept.

import { createGzip, gzipSync, type Gzip } from 'node:zlib';
import { recordJson, type LogRecord, type OutputBatch } from '../../../core/record.js';

/** NDJSON of a batch's records: one line per record, reusing raw JSON when unchanged. */
export function ndjson(records: readonly LogRecord[]): string {
  let text = '';
  for (let i = 0; i < records.length; i++) text += recordJson(records[i]) + '\n';
  return text;
}

export class ObjectBuilder {
  readonly batches: OutputBatch[] = [];
  records = 0;
  /** Uncompressed NDJSON bytes so far. */
  rawBytes = 0;
  /** Sum of the batches' accounted memory (what the pipeline counts against the budget). */
  accountBytes = 0;
  /** Time of the first record: the key's strftime source. */
  firstTimeMs = 0;
  readonly openedAt = Date.now();
  timer: NodeJS.Timeout | undefined;

  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;
  private readonly gz: Gzip | undefined;
  private gzError: Error | undefined;
  private ended: Promise<void> | undefined;

  constructor(
    readonly group: string,
    readonly tag: string,
    readonly compression: 'gzip' | 'none',
  ) {
    if (compression === 'gzip') {
      const gz = createGzip({ level: 6 });
      gz.on('data', (c: Buffer) => {
        this.chunks.push(c);
        this.chunkBytes += c.length;
      });
      gz.on('error', (e) => {
        this.gzError = e;
      });
      this.gz = gz;
    }
  }

  /** Compressed bytes produced so far. */
  get compressedBytes(): number {
    return this.chunkBytes;
  }

  /** `size`: Buffer.byteLength(text), computed once by the caller. */
  add(batch: OutputBatch, text: string, size: number): void {
    if (this.records === 0) this.firstTimeMs = batch.records[0]?.timeMs ?? Date.now();
    this.batches.push(batch);
    this.records += batch.records.length;
    this.rawBytes += size;
    this.accountBytes += batch.bytes;
    if (this.gz) {
      if (!this.gzError) this.gz.write(text);
    } else {
      const b = Buffer.from(text, 'utf8');
      this.chunks.push(b);
      this.chunkBytes += b.length;
    }
  }

  /**
   * Close the object and return its body. Called once; the chunk list is released so the body
   * exists once in memory.
   */
  async finish(): Promise<Buffer> {
    if (this.gz && !this.ended) {
      const gz = this.gz;
      this.ended = new Promise<void>((resolve) => {
        if (this.gzError) return resolve();
        gz.once('end', resolve);
        gz.once('error', () => resolve());
        gz.end();
      });
    }
    await this.ended;
    if (this.gzError) {
      // Should not happen (zlib only fails on bad input or memory); the records are still held,
      // so encode them again in one go rather than lose them.
      this.chunks.length = 0;
      return gzipSync(this.batches.map((b) => ndjson(b.records)).join(''));
    }
    const body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks.length = 0;
    return body;
  }
}
