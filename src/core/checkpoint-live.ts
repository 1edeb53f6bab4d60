// The live checkpoint (see checkpoint-store.ts): the committed positions written within a few
// milliseconds of every commit, without fsync, so a process crash re-reads only what was read
// since the last commit, not a whole checkpoint interval. Valid only in the boot it was written
// in: a position is committed once its records are written (write(2)) to every output's queue,
// and until the kernel goes down the page cache holds those writes whether or not they reached
// the disk. After a reboot (power loss, kernel crash) the live copy is ignored and the fsynced
// checkpoints.json applies.
//
// Two slot files, `<checkpoints file>.live.0` and `.live.1` (slot-pair.ts: written alternately in
// place, a crash in the middle of one write leaves the other intact), each one header line, then
// the JSON of the positions:
//
//   shiplog-live-checkpoint 1 <generation> <boot id> <JSON bytes> <crc32 of the JSON>\n{...}

import { readFileSync } from 'node:fs';
import { SlotPair, decodeSlot, encodeSlot } from './slot-pair.js';

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
  return encodeSlot(MAGIC, [gen, boot], json);
}

/** A slot's snapshot, or undefined when it is torn, corrupt, or from another boot. */
export function decodeLive(buf: Buffer, boot: string): LiveSnapshot | undefined {
  const slot = decodeSlot(buf, MAGIC, 2, 256);
  if (!slot || slot.fields[1] !== boot) return undefined;
  const gen = Number(slot.fields[0]);
  if (!Number.isSafeInteger(gen) || gen < 0) return undefined;
  try {
    const c = JSON.parse(slot.text) as unknown;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return undefined;
    return { gen, checkpoints: c as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

export class LiveCheckpoints {
  private readonly slots: SlotPair;

  constructor(
    /** The checkpoints file; the slots are beside it. */
    base: string,
    readonly boot: string,
  ) {
    this.slots = new SlotPair(`${base}.live`);
  }

  slotFile(i: number): string {
    return this.slots.file(i);
  }

  /** The newest valid snapshot of this boot; the slot it is in is written last from now on. */
  async load(): Promise<LiveSnapshot | undefined> {
    let best: LiveSnapshot | undefined;
    const bufs = await this.slots.read();
    for (const i of [0, 1]) {
      const buf = bufs[i];
      const s = buf && decodeLive(buf, this.boot);
      if (s && (!best || s.gen > best.gen)) {
        best = s;
        this.slots.newest(i);
      }
    }
    return best;
  }

  /** Write a snapshot into the older slot. Resolves once write(2) returned. */
  write(gen: number, json: string): Promise<void> {
    return this.slots.write(encodeLive(this.boot, gen, json));
  }

  /** Forget the open files (data_dir was created again): the next write creates them. */
  reset(): Promise<void> {
    return this.slots.close();
  }

  /** Delete both slots (stale: there is no checkpoints file they could follow). */
  remove(): Promise<void> {
    return this.slots.remove();
  }
}
