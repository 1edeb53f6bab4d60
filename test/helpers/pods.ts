// A kubelet /var/log/pods tree for tests: containers, logical lines and their container-runtime
// forms (CRI P/F chunks, docker json-file 16 KiB splits), interleaved stdout/stderr, timestamps
// with distinct ms and ns parts. Used by the kubernetes input tests.

import { mkdirSync, writeSync } from 'node:fs';
import * as path from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const CHUNK = 16 * 1024;
export const T0 = Date.UTC(2026, 2, 5, 10, 0, 0);

/** A logical line the application wrote, and what the record must look like. */
export interface Logical {
  id: string;
  stream: 'stdout' | 'stderr';
  text: string;
  /** Index of its first chunk's timestamp. */
  seq: number;
  kube: Record<string, unknown>;
}

let seq = 0;
/** The next timestamp sequence number. */
export function nextSeq(): number {
  return seq++;
}
/** RFC3339Nano for sequence n: 10:00:00 + n µs·1000 + n ns (distinct ms and ns parts). */
export function stamp(n: number): string {
  const ms = T0 + n;
  const iso = new Date(ms).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, 23)}${String(n % 1_000_000).padStart(6, '0')}Z`;
}
export function expectedTime(n: number) {
  return { timeMs: T0 + n, timeNs: n % 1_000_000 };
}

export function payload(id: string, len: number): string {
  let s = `${id}|`;
  const alpha = 'abcdefghijklmnopqrstuvwxyz0123456789 {}"\\';
  for (let i = 0; s.length < len; i++) s += alpha[(i * 7 + id.length) % alpha.length];
  return s;
}

/** CRI lines for one logical line: 16 KiB P chunks then F, each with its own timestamp. */
export function cri(l: Logical): string[] {
  const out: string[] = [];
  for (let i = 0; i === 0 || i < l.text.length; i += CHUNK) {
    const part = l.text.slice(i, i + CHUNK);
    const last = i + CHUNK >= l.text.length;
    const n = i === 0 ? l.seq : nextSeq();
    out.push(`${stamp(n)} ${l.stream} ${last ? 'F' : 'P'} ${part}\n`);
  }
  return out;
}

/** docker json-file lines: 16 KiB chunks, only the last one ends with "\n". */
export function docker(l: Logical): string[] {
  const out: string[] = [];
  for (let i = 0; i === 0 || i < l.text.length; i += CHUNK) {
    const last = i + CHUNK >= l.text.length;
    const n = i === 0 ? l.seq : nextSeq();
    const log = l.text.slice(i, i + CHUNK) + (last ? '\n' : '');
    out.push(JSON.stringify({ log, stream: l.stream, time: stamp(n) }) + '\n');
  }
  return out;
}

export interface Container {
  dir: string;
  kube: Record<string, unknown>;
}
export function container(
  root: string,
  ns: string,
  pod: string,
  uid: string,
  name: string,
): Container {
  const dir = path.join(root, `${ns}_${pod}_${uid}`, name);
  mkdirSync(dir, { recursive: true });
  return { dir, kube: { namespace_name: ns, pod_name: pod, pod_id: uid, container_name: name } };
}

/** Interleave the chunk lines of stdout and stderr line by line (what a runtime does). */
export function interleave(ls: Logical[], fmt: (l: Logical) => string[]): string[] {
  const a = ls.filter((l) => l.stream === 'stdout').flatMap(fmt);
  const b = ls.filter((l) => l.stream === 'stderr').flatMap(fmt);
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]);
    if (i < b.length) out.push(b[i]);
  }
  return out;
}

/** Append lines in small groups with pauses, so reads see every in-between state. */
export async function write(fd: number, lines: string[], group = 3, pauseEvery = 4): Promise<void> {
  for (let i = 0; i < lines.length; i += group) {
    writeSync(fd, lines.slice(i, i + group).join(''));
    if ((i / group) % pauseEvery === 0) await sleep(2);
  }
}
