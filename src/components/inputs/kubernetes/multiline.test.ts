// The kubernetes input's `multiline` option (#18) over a real /var/log/pods tree: Java and Python
// traces interleaved with ordinary lines on stdout and stderr of a CRI and a docker json-file
// container, with partial-line splits (CRI P/F, docker chunks without "\n") inside trace lines.
// Every trace must arrive as one record with its first line's time, every ordinary line as one
// record, per stream in order; a restart in the middle of a trace delivers every line once.

import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../../core/record.js';
import { ORDINARY, TRACES } from '../../../../test/fixtures/traces.js';
import { capture, startPipeline, tempDir, type Harness } from '../../../../test/helpers/harness.js';
import {
  container,
  expectedTime,
  nextSeq,
  stamp,
  write,
  type Container,
} from '../../../../test/helpers/pods.js';

const running: Harness[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(root: string, dataDir?: string, multiline: Record<string, unknown> = {}) {
  const h = await startPipeline(
    {
      pipeline: {
        inputs: [
          {
            type: 'kubernetes',
            id: 'pods',
            paths: [`${root}/*/*/*.log`],
            scan_interval: '100ms',
            partial_timeout: '30s',
            multiline: { parsers: ['java', 'python'], flush_timeout: '30s', ...multiline },
          },
        ],
        outputs: [{ type: 'capture', id: 'cap' }],
      },
    },
    { dataDir },
  );
  running.push(h);
  return h;
}

async function stop(h: Harness) {
  running.splice(running.indexOf(h), 1);
  await h.stop();
}

type Stream = 'stdout' | 'stderr';
type Format = 'cri' | 'docker';

/** What one stream must deliver: records in order, each with the seq of its first line. */
interface Expected {
  text: string;
  seq: number;
}

/**
 * The runtime's lines for one application line; `split` cuts it in two partial chunks (CRI P
 * then F, docker without then with "\n"), each with its own timestamp. Returns the first seq.
 */
function encode(fmt: Format, stream: Stream, text: string, split: boolean, out: string[]): number {
  const first = nextSeq();
  const parts = split && text.length > 20 ? [text.slice(0, 13), text.slice(13)] : [text];
  parts.forEach((part, i) => {
    const n = i === 0 ? first : nextSeq();
    const last = i === parts.length - 1;
    if (fmt === 'cri') out.push(`${stamp(n)} ${stream} ${last ? 'F' : 'P'} ${part}\n`);
    else
      out.push(JSON.stringify({ log: part + (last ? '\n' : ''), stream, time: stamp(n) }) + '\n');
  });
  return first;
}

/** One stream's workload: ordinary lines and traces, mostly split inside trace lines. */
function stream(fmt: Format, s: Stream, tag: string, n: number) {
  const lines: string[] = [];
  const want: Expected[] = [];
  const traces = [...TRACES.java, ...TRACES.python];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 2) {
      const t = traces[(i + (s === 'stderr' ? 1 : 0)) % traces.length];
      let seq = -1;
      t.forEach((l, j) => {
        const q = encode(fmt, s, l, j % 4 !== 3, lines);
        if (j === 0) seq = q;
      });
      want.push({ text: t.join('\n'), seq });
    } else {
      const text = `${ORDINARY[i % ORDINARY.length]} ${tag}-${i}`;
      want.push({ text, seq: encode(fmt, s, text, i % 2 === 0, lines) });
    }
  }
  // The last line ends the last trace.
  const end = `${tag} done`;
  want.push({ text: end, seq: encode(fmt, s, end, false, lines) });
  return { lines, want };
}

/** Runtime lines of stdout and stderr interleaved in runs of 1..3 (P/F chunks split apart). */
function interleave(a: string[], b: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  for (let k = 0; i < a.length || j < b.length; k++) {
    for (let n = 0; n < 1 + (k % 3) && i < a.length; n++) out.push(a[i++]);
    for (let n = 0; n < 1 + ((k + 1) % 3) && j < b.length; n++) out.push(b[j++]);
  }
  return out;
}

/** Records of one container and stream, in arrival order (`earlier`: of a previous run). */
function got(c: Container, s: Stream, earlier: Array<{ record: LogRecord }> = []) {
  return [...earlier, ...capture('cap').records]
    .filter(
      (r) =>
        (r.record.fields.kubernetes as Record<string, unknown>).pod_name === c.kube.pod_name &&
        r.record.fields.stream === s,
    )
    .map((r) => r.record);
}

function expectStream(
  c: Container,
  s: Stream,
  want: Expected[],
  earlier: Array<{ record: LogRecord }> = [],
): void {
  const rs = got(c, s, earlier);
  expect(rs.map((r) => r.fields.message)).toEqual(want.map((w) => w.text));
  expect(rs.map((r) => [r.timeMs, r.timeNs])).toEqual(
    want.map((w) => {
      const t = expectedTime(w.seq);
      return [t.timeMs, t.timeNs];
    }),
  );
  expect(rs.filter((r) => r.fields.truncated !== undefined)).toEqual([]);
}

describe('kubernetes input: multiline', () => {
  it('CRI and docker containers, traces interleaved on stdout and stderr with P/F splits inside trace lines: every trace one record, every ordinary line one', async () => {
    const root = tempDir('pods-');
    const cs = [
      container(root, 'shop', 'orders-0', '55555555-aaaa-bbbb-cccc-000000000001', 'app'),
      container(root, 'shop', 'legacy-0', '55555555-aaaa-bbbb-cccc-000000000002', 'app'),
    ];
    const fmts: Format[] = ['cri', 'docker'];
    await start(root);
    const wants: Array<Record<Stream, Expected[]>> = [];
    const jobs: Array<Promise<void>> = [];
    let total = 0;
    for (const [i, c] of cs.entries()) {
      const o = stream(fmts[i], 'stdout', `${fmts[i]}-o`, 40);
      const e = stream(fmts[i], 'stderr', `${fmts[i]}-e`, 40);
      wants.push({ stdout: o.want, stderr: e.want });
      total += o.want.length + e.want.length;
      const fd = openSync(path.join(c.dir, '0.log'), 'a');
      jobs.push(write(fd, interleave(o.lines, e.lines), 5, 2).finally(() => closeSync(fd)));
    }
    await Promise.all(jobs);
    await capture('cap')
      .waitFor(total, 20_000)
      .catch(() => undefined);
    await sleep(300);
    for (const [i, c] of cs.entries()) {
      expectStream(c, 'stdout', wants[i].stdout);
      expectStream(c, 'stderr', wants[i].stderr);
    }
    expect(capture('cap').records.length).toBe(total);
    // Traces were there, and spanned reads.
    expect(wants[0].stdout.filter((w) => w.text.includes('\n')).length).toBeGreaterThan(10);
  });

  for (const fmt of ['cri', 'docker'] as const) {
    it(`${fmt}: a restart in the middle of a trace delivers the trace whole and every other line once`, async () => {
      const root = tempDir('pods-');
      const dataDir = tempDir();
      const c = container(root, 'shop', `kill-${fmt}`, '66666666-aaaa-bbbb-cccc-000000000001', 'a');
      const file = path.join(c.dir, '0.log');
      const t = TRACES.java[0];
      const head: string[] = [];
      const before = `${ORDINARY[0]} before`;
      const seqBefore = encode(fmt, 'stdout', before, true, head);
      const traceHead: string[] = [];
      const seqTrace = encode(fmt, 'stdout', t[0], true, traceHead);
      for (const l of t.slice(1, 5)) encode(fmt, 'stdout', l, true, traceHead);
      // The other stream goes on while the trace is half written, also a split line.
      const other: Expected[] = [];
      const otherLines: string[] = [];
      for (let i = 0; i < 3; i++) {
        const text = `${ORDINARY[1]} meanwhile-${i}`;
        other.push({ text, seq: encode(fmt, 'stderr', text, true, otherLines) });
      }
      writeFileSync(file, [...head, ...interleave(traceHead, otherLines)].join(''));
      let h = await start(root, dataDir);
      await capture('cap')
        .waitFor(4, 10_000)
        .catch(() => undefined);
      await sleep(400);
      const first = [...capture('cap').records];
      expect(first.map((r) => r.record.fields.message)).toEqual([
        before,
        ...other.map((o) => o.text),
      ]);
      await stop(h);
      // The checkpoint stays at the trace's first byte and names what stderr delivered.
      const store = (
        JSON.parse(readFileSync(path.join(dataDir, 'checkpoints.json'), 'utf8')) as {
          checkpoints: Record<string, { o: number; k?: number[] }>;
        }
      ).checkpoints;
      const pos = Object.entries(store).find(([k]) => k.startsWith('pods/'))?.[1];
      expect(pos?.o).toBe(Buffer.byteLength(head.join('')));
      expect(pos?.k?.[1]).toBeGreaterThan(pos!.o);
      // The application finishes the trace and both streams go on while shiplog is down.
      const rest: string[] = [];
      for (const l of t.slice(5)) encode(fmt, 'stdout', l, true, rest);
      const after = `${ORDINARY[2]} after`;
      const seqAfter = encode(fmt, 'stdout', after, false, rest);
      const errAfter = `${ORDINARY[3]} err-after`;
      const seqErrAfter = encode(fmt, 'stderr', errAfter, true, rest);
      writeFileSync(file, rest.join(''), { flag: 'a' });
      h = await start(root, dataDir);
      await capture('cap')
        .waitFor(3, 10_000)
        .catch(() => undefined);
      await sleep(400);
      // Across both runs: every line once, the trace whole.
      expectStream(
        c,
        'stdout',
        [
          { text: before, seq: seqBefore },
          { text: t.join('\n'), seq: seqTrace },
          { text: after, seq: seqAfter },
        ],
        first,
      );
      expectStream(c, 'stderr', [...other, { text: errAfter, seq: seqErrAfter }], first);
      await stop(h);
    });
  }

  it('a trace nothing follows is emitted after flush_timeout, and the checkpoint then passes it', async () => {
    const root = tempDir('pods-');
    const dataDir = tempDir();
    const c = container(root, 'shop', 'tail-0', '77777777-aaaa-bbbb-cccc-000000000001', 'a');
    const file = path.join(c.dir, '0.log');
    const lines: string[] = [];
    const t = TRACES.python[1];
    const seq = encode('cri', 'stderr', t[0], true, lines);
    for (const l of t.slice(1)) encode('cri', 'stderr', l, true, lines);
    writeFileSync(file, lines.join(''));
    const h = await start(root, dataDir, { flush_timeout: '300ms' });
    await capture('cap')
      .waitFor(1, 10_000)
      .catch(() => undefined);
    await sleep(1200); // acknowledged, then a checkpoint interval
    expectStream(c, 'stderr', [{ text: t.join('\n'), seq }]);
    await stop(h);
    const store = (
      JSON.parse(readFileSync(path.join(dataDir, 'checkpoints.json'), 'utf8')) as {
        checkpoints: Record<string, { o: number; k?: number[] }>;
      }
    ).checkpoints;
    const pos = Object.entries(store).find(([k]) => k.startsWith('pods/'))?.[1];
    expect(pos?.o).toBe(Buffer.byteLength(lines.join('')));
    expect(pos?.k).toBeUndefined();
  });

  it('refuses a multiline option the shared engine refuses', async () => {
    await expect(
      start(tempDir('pods-'), undefined, { parsers: [], start_pattern: '(a)\\1' }),
    ).rejects.toThrow(/backreference/);
  });
});
