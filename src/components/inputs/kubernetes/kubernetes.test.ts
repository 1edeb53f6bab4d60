// The kubernetes input against a real /var/log/pods tree in a temp dir, driven the way kubelet
// and the container runtime drive it: CRI P/F splits of lines over 16 KiB interleaved on stdout
// and stderr, docker json-file 16 KiB splits, kubelet rotation (rename to 0.log.<ts> while the
// runtime still writes, new 0.log, later gzip of the renamed file), container restarts (1.log),
// pod deletion. Every logical line must arrive exactly once, whole, with the right metadata.

import {
  closeSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, startPipeline, tempDir, type Harness } from '../../../../test/helpers/harness.js';
import {
  CHUNK,
  container,
  cri,
  docker,
  expectedTime,
  interleave,
  nextSeq,
  payload,
  stamp,
  write,
  type Container,
  type Logical,
} from '../../../../test/helpers/pods.js';
import type { LogRecord } from '../../../core/record.js';

const running: Harness[] = [];
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(
  root: string,
  extra: Record<string, unknown> = {},
  opts: { dataDir?: string; autoAck?: boolean } = {},
) {
  const h = await startPipeline(
    {
      pipeline: {
        inputs: [
          {
            type: 'kubernetes',
            id: 'pods',
            paths: [`${root}/*/*/*.log`],
            scan_interval: '100ms',
            rotate_wait: '600ms',
            partial_timeout: '30s',
            ...extra,
          },
        ],
        outputs: [{ type: 'capture', id: 'cap', auto_ack: opts.autoAck ?? true }],
      },
    },
    { dataDir: opts.dataDir },
  );
  running.push(h);
  return h;
}

async function stop(h: Harness) {
  running.splice(running.indexOf(h), 1);
  await h.stop();
}

const SIZES = [12, 300, 5000, CHUNK - 1, CHUNK, CHUNK + 1, 40_000, 70_000];
function logicals(
  c: Container,
  prefix: string,
  n: number,
  restart: number,
  streams: Array<'stdout' | 'stderr'> = ['stdout', 'stderr'],
): Logical[] {
  const out: Logical[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    out.push({
      id,
      stream: streams[i % streams.length],
      text: payload(id, SIZES[(i * 5 + prefix.length) % SIZES.length]),
      seq: nextSeq(),
      kube: { ...c.kube, restart_count: restart },
    });
  }
  return out;
}

function records(): Array<{ tag: string; record: LogRecord }> {
  return capture('cap').records;
}

function expectAll(want: Logical[]): void {
  const got = new Map<string, Array<{ tag: string; record: LogRecord }>>();
  for (const r of records()) {
    const m = r.record.fields.message as string;
    const id = m.slice(0, m.indexOf('|'));
    const list = got.get(id) ?? [];
    list.push(r);
    got.set(id, list);
  }
  const problems: string[] = [];
  for (const l of want) {
    const rs = got.get(l.id) ?? [];
    if (rs.length !== 1) {
      problems.push(`${l.id}: ${rs.length} records`);
      continue;
    }
    const { tag, record } = rs[0];
    const f = record.fields;
    if (f.message !== l.text)
      problems.push(`${l.id}: message differs (${String(f.message).length} vs ${l.text.length})`);
    if (f.stream !== l.stream) problems.push(`${l.id}: stream ${String(f.stream)}`);
    if (f.truncated !== undefined) problems.push(`${l.id}: truncated`);
    const t = expectedTime(l.seq);
    if (record.timeMs !== t.timeMs || record.timeNs !== t.timeNs)
      problems.push(`${l.id}: time ${record.timeMs}.${record.timeNs}`);
    const k = f.kubernetes as Record<string, unknown>;
    for (const [key, v] of Object.entries(l.kube))
      if (k[key] !== v) problems.push(`${l.id}: kubernetes.${key}=${String(k[key])}`);
    const wantTag = `kube.${String(l.kube.namespace_name)}.${String(l.kube.pod_name)}.${String(l.kube.container_name)}`;
    if (tag !== wantTag) problems.push(`${l.id}: tag ${tag}`);
  }
  expect(problems.slice(0, 20)).toEqual([]);
  expect(records().length).toBe(want.length);
}

async function waitFor(n: number, ms = 20_000): Promise<void> {
  return capture('cap')
    .waitFor(n, ms)
    .catch(() => undefined); // the counts are asserted by the caller, with what did arrive
}

async function metric(
  h: Harness,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = h.metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const v = await m.get();
  return v.values
    .filter((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val))
    .reduce((a, x) => a + x.value, 0);
}

describe('kubernetes input over a /var/log/pods tree', () => {
  it('CRI P/F over 16 KiB interleaved on stdout and stderr, docker json-file splits, malformed lines', async () => {
    const root = tempDir('pods-');
    const a = container(
      root,
      'shop',
      'web-7d9f6c5b8d-x2v4q',
      '0b1c2d3e-aaaa-bbbb-cccc-000000000001',
      'app',
    );
    const b = container(
      root,
      'shop',
      'legacy-0',
      '0b1c2d3e-aaaa-bbbb-cccc-000000000002',
      'dockerd',
    );
    const c = container(root, 'batch', 'odd-1', '0b1c2d3e-aaaa-bbbb-cccc-000000000003', 'weird');
    const h = await start(root);
    const la = logicals(a, 'cri', 60, 0);
    const lb = logicals(b, 'dock', 40, 0);
    const fa = openSync(path.join(a.dir, '0.log'), 'a');
    const fb = openSync(path.join(b.dir, '0.log'), 'a');
    await Promise.all([write(fa, interleave(la, cri)), write(fb, interleave(lb, docker))]);
    closeSync(fa);
    closeSync(fb);
    // Malformed lines: counted and passed on as plain messages.
    writeFileSync(
      path.join(c.dir, '0.log'),
      'bad|not a CRI line\n{"log":"bad|json without time"}\n' +
        `${stamp(nextSeq())} stdout F good|ok\n`,
    );
    await waitFor(la.length + lb.length + 3);
    await sleep(300);
    const rest = records().filter(
      (r) => (r.record.fields.kubernetes as Record<string, unknown>).namespace_name === 'batch',
    );
    expect(rest.map((r) => r.record.fields.message)).toEqual([
      'bad|not a CRI line',
      '{"log":"bad|json without time"}',
      'ok'.replace('ok', 'good|ok'),
    ]);
    expect(rest[0].record.fields.stream).toBeUndefined();
    expect(await metric(h, 'shiplog_kubernetes_malformed_lines_total', { format: 'cri' })).toBe(1);
    expect(await metric(h, 'shiplog_kubernetes_malformed_lines_total', { format: 'docker' })).toBe(
      1,
    );
    capture('cap').records.splice(
      0,
      capture('cap').records.length,
      ...records().filter((r) => !rest.includes(r)),
    );
    expectAll([...la, ...lb]);
    // A long line spans several batches: its chunks were held and joined, never split in two.
    expect(la.some((l) => l.text.length > 4 * CHUNK)).toBe(true);
  });

  it('kubelet rotation (rename while the runtime writes, new 0.log, gzip later), restart 1.log, pod deletion', async () => {
    const root = tempDir('pods-');
    const a = container(root, 'shop', 'api-0', '11111111-aaaa-bbbb-cccc-000000000001', 'api');
    const d = container(root, 'jobs', 'once-xyz', '11111111-aaaa-bbbb-cccc-000000000002', 'job');
    const h = await start(root);
    const want: Logical[] = [];
    const log0 = path.join(a.dir, '0.log');
    // Runtime writes 0.log.
    let fd = openSync(log0, 'a');
    let ls = logicals(a, 'r1', 80, 0);
    want.push(...ls);
    await write(fd, interleave(ls, cri));
    // kubelet renames it (same inode); the runtime keeps writing to its descriptor until reopened.
    const rotated = `${log0}.20260305-100000`;
    renameSync(log0, rotated);
    ls = logicals(a, 'r2', 30, 0);
    want.push(...ls);
    await write(fd, interleave(ls, cri));
    closeSync(fd);
    // ReopenContainerLog: a new 0.log.
    fd = openSync(log0, 'a');
    ls = logicals(a, 'r3', 50, 0);
    want.push(...ls);
    await write(fd, interleave(ls, cri));
    await waitFor(want.length);
    // Later kubelet gzips the renamed file (new inode, then the original is removed).
    writeFileSync(`${rotated}.gz`, gzipSync(readFileSync(rotated)));
    unlinkSync(rotated);
    ls = logicals(a, 'r4', 20, 0);
    want.push(...ls);
    await write(fd, interleave(ls, cri));
    closeSync(fd);
    // The container restarts: 1.log next to 0.log.
    const fd1 = openSync(path.join(a.dir, '1.log'), 'a');
    ls = logicals(a, 'restart', 25, 1);
    want.push(...ls);
    await write(fd1, interleave(ls, cri));
    closeSync(fd1);
    // A pod being tailed writes its last lines and its directory is removed at once: the open
    // file is drained to its end. (A pod created and removed between two scans is never seen;
    // kubelet removes log directories only when it garbage-collects the containers.)
    const fdd = openSync(path.join(d.dir, '0.log'), 'a');
    ls = logicals(d, 'gone', 40, 0);
    want.push(...ls);
    const goneLines = interleave(ls, cri);
    await write(fdd, goneLines.slice(0, 10));
    await waitFor(want.length - 40 + 1);
    await write(fdd, goneLines.slice(10), 1000);
    closeSync(fdd);
    rmSync(path.join(root, 'jobs_once-xyz_11111111-aaaa-bbbb-cccc-000000000002'), {
      recursive: true,
    });
    await waitFor(want.length);
    await sleep(1500); // past rotate_wait: drained files are closed; nothing more may arrive
    expectAll(want);
    expect(await metric(h, 'shiplog_file_rotations_total')).toBeGreaterThanOrEqual(2);
  });

  it('the checkpoint never passes a held partial line: a restart completes it exactly once', async () => {
    const root = tempDir('pods-');
    const dataDir = tempDir();
    const a = container(root, 'shop', 'cart-0', '22222222-aaaa-bbbb-cccc-000000000001', 'cart');
    const file = path.join(a.dir, '0.log');
    const before = logicals(a, 'before', 3, 0, ['stdout']);
    const held: Logical = {
      id: 'held',
      stream: 'stdout',
      text: payload('held', 3 * CHUNK + 10),
      seq: nextSeq(),
      kube: { ...a.kube, restart_count: 0 },
    };
    const chunks = cri(held);
    const head = interleave(before, cri).join('');
    writeFileSync(file, head + chunks.slice(0, 2).join(''));
    let h = await start(root, {}, { dataDir });
    await waitFor(before.length);
    await sleep(400); // more reads, acks, checkpoint interval
    await stop(h);
    const store = (
      JSON.parse(readFileSync(path.join(dataDir, 'checkpoints.json'), 'utf8')) as {
        checkpoints: Record<string, unknown>;
      }
    ).checkpoints;
    const pos = Object.entries(store).find(([k]) => k.startsWith('pods/'))?.[1] as
      { o: number } | undefined;
    expect(pos?.o).toBe(Buffer.byteLength(head));
    // The runtime finishes the line while shiplog is down.
    writeFileSync(file, chunks.slice(2).join(''), { flag: 'a' });
    capture('cap').records.length = 0;
    h = await start(root, {}, { dataDir });
    await waitFor(1);
    await sleep(400);
    expectAll([held]);
    await stop(h);
  });

  it('a partial line without its final chunk is emitted after partial_timeout; max_merged_bytes cuts pieces', async () => {
    const root = tempDir('pods-');
    const a = container(root, 'shop', 'tmo-0', '33333333-aaaa-bbbb-cccc-000000000001', 'c');
    await start(root, { partial_timeout: '300ms', max_merged_bytes: '40KiB' });
    const file = path.join(a.dir, '0.log');
    writeFileSync(file, `${stamp(nextSeq())} stderr P lonely|start `);
    writeFileSync(file, `\n`, { flag: 'a' });
    const big = payload('big', 100_000);
    const l: Logical = { id: 'big', stream: 'stdout', text: big, seq: nextSeq(), kube: a.kube };
    writeFileSync(file, cri(l).join(''), { flag: 'a' });
    await waitFor(4);
    await sleep(500);
    const got = records().map((r) => r.record.fields);
    expect(got.find((f) => String(f.message).startsWith('lonely'))).toMatchObject({
      message: 'lonely|start ',
      stream: 'stderr',
    });
    const pieces = got
      .filter((f) => String(f.message).startsWith('big') || f.truncated === true)
      .filter((f) => f.stream === 'stdout');
    expect(pieces.map((f) => f.message).join('')).toBe(big);
    expect(pieces.every((f) => f.truncated === true)).toBe(true);
    expect(pieces.every((f) => String(f.message).length <= 40 * 1024)).toBe(true);
  });

  it('namespace include/exclude, own pod, and a tag template', async () => {
    const root = tempDir('pods-');
    const keep = container(root, 'shop', 'web-0', '44444444-aaaa-bbbb-cccc-000000000001', 'app');
    const sys = container(
      root,
      'kube-system',
      'coredns-1',
      '44444444-aaaa-bbbb-cccc-000000000002',
      'coredns',
    );
    const own = container(
      root,
      'logging',
      'shiplog-abcde',
      '44444444-aaaa-bbbb-cccc-000000000003',
      'shiplog',
    );
    const other = container(
      root,
      'logging',
      'other-0',
      '44444444-aaaa-bbbb-cccc-000000000004',
      'x',
    );
    const outside = container(root, 'dev', 'dev-0', '44444444-aaaa-bbbb-cccc-000000000005', 'x');
    const env = { POD_NAMESPACE: process.env.POD_NAMESPACE, POD_NAME: process.env.POD_NAME };
    process.env.POD_NAMESPACE = 'logging';
    process.env.POD_NAME = 'shiplog-abcde';
    try {
      await start(root, {
        include_namespaces: ['shop', 'logging', 'kube-system'],
        exclude_namespaces: ['kube-system'],
        tag: 'k8s.{kubernetes.namespace_name}',
      });
    } finally {
      for (const [k, v] of Object.entries(env))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    for (const c of [keep, sys, own, other, outside])
      writeFileSync(
        path.join(c.dir, '0.log'),
        `${stamp(nextSeq())} stdout F ${String(c.kube.pod_name)}|hello\n`,
      );
    await waitFor(2);
    await sleep(500);
    expect(
      records()
        .map((r) => [r.tag, r.record.fields.message])
        .sort(),
    ).toEqual([
      ['k8s.logging', 'other-0|hello'],
      ['k8s.shop', 'web-0|hello'],
    ]);
  });
});
