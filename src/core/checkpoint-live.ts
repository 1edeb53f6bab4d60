// The live checkpoint (see checkpoint-store.ts): the committed positions written within a few
// milliseconds of every commit, without fsync, so a process crash re-reads only what was read
// since the last commit, not a whole checkpoint interval. Valid only in the boot it was written
// in: a position is committed once its records are written (write(2)) to every output's queue,
// and until the kernel goes down the page cache holds those writes whether or not they reached
// the disk. After a reboot (power loss, kernel crash) the live copy is ignored and the fsynced
// checkpoints.json applies.
//
// Two slot files, `<checkpoints file>.live.0` and `.live.1`, written alternately in place
// (pwrite at offset 0, no rename): a crash in the middle of one write leaves the other intact.
// Each slot is one header line, then the JSON of the positions:
//
//   shiplog-live-checkpoint 1 <generation> <boot id> <JSON bytes> <crc32 of the JSON>\n{...}
//
// Bytes after the JSON (left from a longer earlier write) are ignored.

import { constants as fsc, promises as fsp, readFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

const MAGIC = 'shiplog-live-checkpoint 1';

/** The kernel's id of this boot (Linux); undefined elsewhere (no live checkpoint then). */
export function currentBootId(): string | undefined {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return /^[0-9a-f-]{8,64}$/i.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export interface LiveSnapshot {
  /** The store's generation (its count of changes) this snapshot was taken at. */
  gen: number;
  checkpoints: Record<string, unknown>;
}

export function encodeLive(boot: string, gen: number, json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  const head = Buffer.from(`${MAGIC} ${gen} ${boot} ${body.length} ${crc32(body)}\n`, 'latin1');
  return Buffer.concat([head, body]);
}

/** A slot's snapshot, or undefined when it is torn, corrupt, or from another boot. */
export function decodeLive(buf: Buffer, boot: string): LiveSnapshot | undefined {
  const nl = buf.indexOf(10);
  if (nl < 0 || nl > 256) return undefined;
  const f = buf.subarray(0, nl).toString('latin1').split(' ');
  if (f.length !== 6 || `${f[0]} ${f[1]}` !== MAGIC || f[3] !== boot) return undefined;
  const gen = Number(f[2]);
  const len = Number(f[4]);
  const crc = Number(f[5]);
  if (!Number.isSafeInteger(gen) || gen < 0 || !Number.isSafeInteger(len) || len < 0)
    return undefined;
  if (nl + 1 + len > buf.length) return undefined;
  const body = buf.subarray(nl + 1, nl + 1 + len);
  if (crc32(body) !== crc) return undefined;
  try {
    const c = JSON.parse(body.toString('utf8')) as unknown;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return undefined;
    return { gen, checkpoints: c as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

export class LiveCheckpoints {
  private fhs: Array<FileHandle | undefined> = [undefined, undefined];
  /** The slot the next write goes to. */
  private next = 0;

  constructor(
    /** The checkpoints file; the slots are beside it. */
    private readonly base: string,
    readonly boot: string,
  ) {}

  slotFile(i: number): string {
    return `${this.base}.live.${i}`;
  }

  /** The newest valid snapshot of this boot; the slot it is in is written last from now on. */
  async load(): Promise<LiveSnapshot | undefined> {
    let best: LiveSnapshot | undefined;
    for (const i of [0, 1]) {
      let buf: Buffer;
      try {
        buf = await fsp.readFile(this.slotFile(i));
      } catch {
        continue;
      }
      const s = decodeLive(buf, this.boot);
      if (s && (!best || s.gen > best.gen)) {
        best = s;
        this.next = 1 - i;
      }
    }
    return best;
  }

  /** Write a snapshot into the older slot. Resolves once write(2) returned. */
  async write(gen: number, json: string): Promise<void> {
    const i = this.next;
    const buf = encodeLive(this.boot, gen, json);
    const fh = (this.fhs[i] ??= await fsp.open(
      this.slotFile(i),
      fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW,
      0o640,
    ));
    let off = 0;
    while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, off)).bytesWritten;
    this.next = 1 - i;
  }

  /** Forget the open files (data_dir was created again): the next write creates them. */
  async reset(): Promise<void> {
    const fhs = this.fhs;
    this.fhs = [undefined, undefined];
    for (const fh of fhs) await fh?.close().catch(() => undefined);
  }

  /** Delete both slots (stale: there is no checkpoints file they could follow). */
  async remove(): Promise<void> {
    await this.reset();
    for (const i of [0, 1]) await fsp.unlink(this.slotFile(i)).catch(() => undefined);
  }
}
