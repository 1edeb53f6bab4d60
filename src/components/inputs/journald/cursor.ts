// Journal cursors compared (#23.9). A cursor is `s=<seqnum id>;i=<seqnum>;b=<boot id>;m=<monotonic>;
// t=<realtime µs>;x=<hash>` (hex numbers). Within one seqnum id the seqnum orders entries exactly;
// across ids the realtime is the best order there is.
//
// Why resuming does not use `--after-cursor`: journalctl 252, given a cursor whose journal file
// was vacuumed while shiplog was stopped, moves to the next later entry and then skips one more
// (entry 1000 of a test lost in 2 of 2 runs). `--cursor` prints from the cursor's entry (or the
// nearest one when it is gone); entries not after the saved cursor are dropped here.

export interface CursorPos {
  seqnumId: string;
  seqnum: bigint;
  realtime: bigint;
}

export function parseCursor(c: string): CursorPos | undefined {
  let s: string | undefined;
  let i: string | undefined;
  let t: string | undefined;
  for (const part of c.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (k === 's') s = v;
    else if (k === 'i') i = v;
    else if (k === 't') t = v;
  }
  if (!s || !i || !t || !/^[0-9a-f]+$/i.test(i) || !/^[0-9a-f]+$/i.test(t)) return undefined;
  return { seqnumId: s, seqnum: BigInt(`0x${i}`), realtime: BigInt(`0x${t}`) };
}

/** Is `a` after `b` in the journal? */
export function isAfter(a: CursorPos, b: CursorPos): boolean {
  if (a.seqnumId === b.seqnumId) return a.seqnum > b.seqnum;
  return a.realtime > b.realtime;
}

/** The cursor of a journalctl JSON line, without parsing the rest of it. */
export function lineCursor(line: string): string | undefined {
  const at = line.indexOf('"__CURSOR":"');
  if (at < 0) return undefined;
  const from = at + 12;
  const end = line.indexOf('"', from);
  return end < 0 ? undefined : line.slice(from, end);
}
