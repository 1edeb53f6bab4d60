// Two slot files written alternately in place: the live checkpoint (checkpoint-live.ts) and a
// disk queue's pointer (queue-pointer.ts) save this way between their fsynced, renamed files. One
// pwrite(2) at offset 0 per save, no rename, no fsync; a crash in the middle of one write leaves
// the other slot intact. A slot is one header line, then the text:
//
//   <magic> [<field> ...] <text bytes> <crc32 of the text>\n<text>
//
// Bytes after the text (left from a longer earlier write) are ignored.

import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/** A slot's bytes: the header (magic, `fields`, length, crc32) and `text`. */
export function encodeSlot(
  magic: string,
  fields: ReadonlyArray<string | number>,
  text: string,
): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = [magic, ...fields, body.length, crc32(body)].join(' ');
  return Buffer.concat([Buffer.from(`${head}\n`, 'latin1'), body]);
}

/**
 * A slot's header fields (`fieldCount` of them, after the magic) and text, or undefined when it
 * is torn, corrupt or not of `magic` (or its header is longer than `maxHeader` bytes).
 */
export function decodeSlot(
  buf: Buffer,
  magic: string,
  fieldCount: number,
  maxHeader: number,
): { fields: string[]; text: string } | undefined {
  const nl = buf.indexOf(10);
  if (nl < 0 || nl > maxHeader) return undefined;
  const head = buf.subarray(0, nl).toString('latin1');
  if (!head.startsWith(`${magic} `)) return undefined;
  const f = head.slice(magic.length + 1).split(' ');
  if (f.length !== fieldCount + 2) return undefined;
  const len = Number(f[fieldCount]);
  if (!Number.isSafeInteger(len) || len < 0 || nl + 1 + len > buf.length) return undefined;
  const body = buf.subarray(nl + 1, nl + 1 + len);
  if (crc32(body) !== Number(f[fieldCount + 1])) return undefined;
  return { fields: f.slice(0, fieldCount), text: body.toString('utf8') };
}

/** The two slot files `<base>.0` and `<base>.1`, written in turn. */
export class SlotPair {
  private fhs: Array<FileHandle | undefined> = [undefined, undefined];
  /** The slot the next write goes to. */
  private next = 0;

  constructor(private readonly base: string) {}

  file(i: number): string {
    return `${this.base}.${i}`;
  }

  /** Each slot's bytes (undefined where unreadable or absent). */
  async read(): Promise<Array<Buffer | undefined>> {
    const out: Array<Buffer | undefined> = [];
    for (const i of [0, 1]) out.push(await fsp.readFile(this.file(i)).catch(() => undefined));
    return out;
  }

  /** Slot `i` holds the newest save: the next write goes to the other one. */
  newest(i: number): void {
    this.next = 1 - i;
  }

  /** Write `buf` into the older slot. Resolves once write(2) returned. */
  async write(buf: Buffer): Promise<void> {
    const i = this.next;
    const fh = (this.fhs[i] ??= await fsp.open(
      this.file(i),
      fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW,
      0o640,
    ));
    let off = 0;
    while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, off)).bytesWritten;
    this.next = 1 - i;
  }

  /** Close the files (the next write opens them again, creating them if they are gone). */
  async close(): Promise<void> {
    const fhs = this.fhs;
    this.fhs = [undefined, undefined];
    for (const fh of fhs) await fh?.close().catch(() => undefined);
  }

  /** Close and delete both slots. */
  async remove(): Promise<void> {
    await this.close();
    for (const i of [0, 1]) await fsp.unlink(this.file(i)).catch(() => undefined);
  }
}
