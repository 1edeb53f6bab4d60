// Opening a disk queue (see queue.ts): what its directory holds after a restart. Segments wholly
// behind the saved pointer are deleted, every frame after it is walked (records counted, a torn
// tail cut, corrupt frames noted), and the read position is where delivery resumes.

import { promises as fsp, constants as fsc } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from '../telemetry/logger.js';
import {
  HEADER,
  anyValidAfter,
  readFrame,
  readPointer,
  segmentFile,
  segmentIds,
  type Pointer,
} from './queue-frame.js';

export interface Segment {
  id: number;
  /** Bytes in the file (written). */
  size: number;
  fh: FileHandle | undefined;
}

export interface LoadedQueue {
  /** The segments on disk, oldest first (none written yet). */
  segments: Segment[];
  /** Where delivery resumes. */
  read: Pointer;
  /** Highest segment id a saved pointer names (0 without one): new segment ids go past it. */
  pointerSegment: number;
  /** Save number of the pointer loaded (0 without one): the next save is numbered after it. */
  seq: number;
  /** Frames delivered beyond the saved prefix (`"<segment>:<offset>"`): skipped when read. */
  delivered: Set<string>;
  /** Records in the frames after the pointer (corrupt and delivered ones excluded). */
  records: number;
  /** Bad frames found by the scan: their records were never counted. */
  uncounted: Set<string>;
}

export async function loadQueue(dir: string, log: Logger): Promise<LoadedQueue> {
  await fsp.mkdir(dir, { recursive: true });
  const ids = await segmentIds(dir);
  const saved = await readPointer(dir);
  const pointer = saved?.pointer;
  const q: LoadedQueue = {
    segments: [],
    read: { segment: 0, offset: 0 },
    pointerSegment: saved?.maxSegment ?? 0,
    seq: saved?.seq ?? 0,
    delivered: saved?.delivered ?? new Set(),
    records: 0,
    uncounted: new Set(),
  };
  for (const id of ids) {
    if (pointer && id < pointer.segment) {
      await fsp.unlink(segmentFile(dir, id)).catch(() => undefined);
      continue;
    }
    const st = await fsp.stat(segmentFile(dir, id));
    q.segments.push({ id, size: st.size, fh: undefined });
  }
  // Only frames of segments still on disk can be passed; ids of new segments never reach them.
  const present = new Set(q.segments.map((x) => x.id));
  for (const key of q.delivered)
    if (!present.has(Number(key.slice(0, key.indexOf(':'))))) q.delivered.delete(key);
  const start = q.segments[0];
  q.read =
    pointer && start && pointer.segment === start.id
      ? { segment: start.id, offset: pointer.offset <= start.size ? pointer.offset : 0 }
      : { segment: start?.id ?? 0, offset: 0 };
  // Walk every frame after the pointer: count records, cut a torn tail.
  for (let s = 0; s < q.segments.length; s++) {
    const seg = q.segments[s];
    const from = seg.id === q.read.segment ? q.read.offset : 0;
    await scan(dir, q, seg, from, s === q.segments.length - 1, log);
  }
  return q;
}

async function scan(
  dir: string,
  q: LoadedQueue,
  seg: Segment,
  from: number,
  last: boolean,
  log: Logger,
): Promise<void> {
  const fh = await fsp.open(segmentFile(dir, seg.id), fsc.O_RDWR);
  try {
    let off = from;
    const head = Buffer.alloc(HEADER);
    while (off < seg.size) {
      const frame = await readFrame(fh, off, seg.size, head);
      if (frame.ok) {
        if (!q.delivered.has(`${seg.id}:${off}`)) q.records += frame.records;
        off = frame.end;
        continue;
      }
      // A bad frame at the end of the last segment is a torn write: cut it.
      if (last && !(await anyValidAfter(fh, frame, seg.size, head))) {
        log.warn('queue: torn tail truncated (crash during a write)', {
          file: segmentFile(dir, seg.id),
          at: off,
          bytes: seg.size - off,
        });
        await fh.truncate(off);
        seg.size = off;
        break;
      }
      // Otherwise skipped when it is read (reported then); keep counting what follows.
      q.uncounted.add(`${seg.id}:${off}`);
      if (frame.end <= off || frame.end > seg.size) break;
      off = frame.end;
    }
  } finally {
    await fh.close();
  }
}
