// Pure parts of the kubernetes input: line formats, timestamps, partial joins, path metadata,
// owner resolution.

import { describe, expect, it } from 'vitest';
import { makePod } from '../../../../test/receivers/kube-api.js';
import { FileMerger, startOf, type JoinSink } from './merge.js';
import { apiFields, ownerOf, podMeta } from './metadata.js';
import { newParsedLine, parseLine, TimeParser } from './parse.js';
import { excludeGlobs, narrowPaths, parsePodPath } from './path-meta.js';

describe('parseLine', () => {
  const t = new TimeParser();
  const p = newParsedLine();

  it('CRI: full line, nanosecond timestamp, stream, tag', () => {
    expect(parseLine('2026-03-05T10:15:02.123456789Z stderr F hello world', p, t)).toBe('cri');
    expect(p).toMatchObject({ stream: 'stderr', partial: false, message: 'hello world' });
    expect(p.timeMs).toBe(Date.UTC(2026, 2, 5, 10, 15, 2, 123));
    expect(p.timeNs).toBe(456789);
    expect(parseLine('2026-03-05T10:15:02.1Z stdout P  two  spaces ', p, t)).toBe('cri');
    expect(p).toMatchObject({ partial: true, message: ' two  spaces ', timeNs: 0 });
    expect(p.timeMs % 1000).toBe(100);
    expect(parseLine('2026-03-05T10:15:02.000001Z stdout F:x', p, t)).toBe('cri');
    expect(p).toMatchObject({ partial: false, message: '', timeNs: 1000 });
  });

  it('CRI: timezone offsets', () => {
    expect(parseLine('2026-03-05T12:15:02.5+02:00 stdout F x', p, t)).toBe('cri');
    expect(p.timeMs).toBe(Date.UTC(2026, 2, 5, 10, 15, 2, 500));
  });

  it('docker json-file: newline ends a line, its absence marks a 16 KiB split', () => {
    const line = JSON.stringify({
      log: 'a "quoted" line\n',
      stream: 'stdout',
      time: '2026-03-05T10:15:02.987654321Z',
    });
    expect(parseLine(line, p, t)).toBe('docker');
    expect(p).toMatchObject({
      stream: 'stdout',
      partial: false,
      message: 'a "quoted" line',
      timeNs: 654321,
    });
    const part = JSON.stringify({ log: 'chunk', stream: 'stderr', time: '2026-03-05T10:15:02Z' });
    expect(parseLine(part, p, t)).toBe('docker');
    expect(p).toMatchObject({ stream: 'stderr', partial: true, message: 'chunk' });
  });

  it('malformed lines are recognised, never thrown', () => {
    for (const bad of [
      'plain text line',
      '2026-03-05T10:15:02Z stdout',
      '2026-03-05T10:15:02Z stdin F x',
      '2026-03-05T10:15:02Z stdout X x',
      '2026-13-45Tzz:15:02Z stdout F x',
      'notatimestampatall__ stdout F x',
      '{"log":"x","stream":"stdout"}',
      '{"log":1,"stream":"stdout","time":"2026-03-05T10:15:02Z"}',
      '{not json',
      '{}',
    ])
      expect(parseLine(bad, p, t), bad).toBeUndefined();
  });
});

class Sink implements JoinSink {
  out: Array<{
    stream: string;
    message: string;
    sourceId?: string;
    truncated: boolean;
    timeNs: number;
  }> = [];
  joined(
    stream: 'stdout' | 'stderr',
    message: string,
    _ms: number,
    timeNs: number,
    sourceId: string | undefined,
    truncated: boolean,
  ) {
    this.out.push({ stream, message, sourceId, truncated, timeNs });
  }
}

describe('FileMerger', () => {
  const t = new TimeParser();
  const feed = (m: FileMerger, line: string, off: number, now = 0) => {
    const p = newParsedLine();
    expect(parseLine(line, p, t)).toBeDefined();
    m.add(p, `1:2:ab:${off}`, now);
  };

  it('joins P chunks until F per stream, and holds the checkpoint at the oldest held chunk', () => {
    const s = new Sink();
    const m = new FileMerger(1 << 20, s);
    feed(m, '2026-03-05T10:15:02.000000001Z stdout P aa', 0);
    feed(m, '2026-03-05T10:15:02.000000002Z stderr P xx', 40);
    expect(m.heldStart()).toBe(0);
    feed(m, '2026-03-05T10:15:02.000000003Z stdout F bb', 80);
    expect(m.heldStart()).toBe(40);
    feed(m, '2026-03-05T10:15:02.000000004Z stderr F yy', 120);
    expect(m.heldStart()).toBe(-1);
    expect(s.out).toEqual([
      { stream: 'stdout', message: 'aabb', sourceId: '1:2:ab:0', truncated: false, timeNs: 1 },
      { stream: 'stderr', message: 'xxyy', sourceId: '1:2:ab:40', truncated: false, timeNs: 2 },
    ]);
  });

  it('caps a join at max bytes: pieces flagged truncated, nothing dropped', () => {
    const s = new Sink();
    const m = new FileMerger(10, s);
    for (let i = 0; i < 5; i++) feed(m, `2026-03-05T10:15:02Z stdout P 0123`, i * 40);
    feed(m, `2026-03-05T10:15:02Z stdout F end`, 200);
    expect(s.out.map((o) => o.message).join('')).toBe('0123'.repeat(5) + 'end');
    expect(s.out.every((o) => o.truncated)).toBe(true);
    expect(s.out.every((o) => o.message.length <= 10)).toBe(true);
    expect(m.cutLines).toBe(1);
    feed(m, `2026-03-05T10:15:02Z stdout F whole`, 240);
    expect(s.out.at(-1)).toMatchObject({ message: 'whole', truncated: false });
  });

  it('flushes idle joins after the timeout, and everything at EOF', () => {
    const s = new Sink();
    const m = new FileMerger(1 << 20, s);
    feed(m, '2026-03-05T10:15:02Z stdout P a', 0, 1000);
    feed(m, '2026-03-05T10:15:02Z stderr P b', 30, 1500);
    expect(m.flushIdle(1400, 500)).toBe(false);
    expect(m.flushIdle(1500, 500)).toBe(true);
    expect(s.out.map((o) => o.message)).toEqual(['a']);
    expect(m.heldStart()).toBe(30);
    m.flushAll();
    expect(s.out.map((o) => o.message)).toEqual(['a', 'b']);
    expect(m.held).toBe(false);
  });

  it('startOf reads the offset from a source id', () => {
    expect(startOf('66306:1234:0011aabb:98765')).toBe(98765);
  });
});

describe('path metadata', () => {
  it('parses the kubelet layout, rotated names too', () => {
    const m = parsePodPath(
      '/var/log/pods/shop_web-7d9f-x2v_0b1c2d3e-aaaa-bbbb-cccc-000000000001/app/3.log',
    );
    expect(m).toEqual({
      namespace_name: 'shop',
      pod_name: 'web-7d9f-x2v',
      pod_id: '0b1c2d3e-aaaa-bbbb-cccc-000000000001',
      container_name: 'app',
      restart_count: 3,
    });
    expect(parsePodPath('/var/log/pods/a_b_c/d/0.log.20260305-101502')?.restart_count).toBe(0);
    expect(parsePodPath('/var/log/pods/nounderscore/d/0.log')).toBeUndefined();
    expect(parsePodPath('/var/log/app.log')).toBeUndefined();
  });

  it('namespace selection as globs', () => {
    expect(narrowPaths(['/var/log/pods/*/*/*.log'], ['a', 'b'])).toEqual([
      '/var/log/pods/{a,b}_*/*/*.log',
    ]);
    expect(narrowPaths(['/x/*.log'], ['a'])).toEqual(['/x/*.log']);
    expect(excludeGlobs(['kube-system'], { ns: 'logging', pod: 'shiplog-abcde' })).toEqual([
      '/**/kube-system_*/*/*',
      '/**/logging_shiplog-abcde_*/*/*',
    ]);
  });
});

describe('pod metadata', () => {
  it('owner: ReplicaSet ⇒ Deployment by pod-template-hash; others as they are', () => {
    expect(
      ownerOf([{ kind: 'ReplicaSet', name: 'web-7d9f6c5b8d', controller: true }], {
        'pod-template-hash': '7d9f6c5b8d',
      }),
    ).toEqual({
      kind: 'Deployment',
      name: 'web',
    });
    expect(ownerOf([{ kind: 'ReplicaSet', name: 'bare' }], {})).toEqual({
      kind: 'ReplicaSet',
      name: 'bare',
    });
    expect(ownerOf([{ kind: 'StatefulSet', name: 'db', controller: true }], {})).toEqual({
      kind: 'StatefulSet',
      name: 'db',
    });
    expect(ownerOf(undefined, {})).toBeUndefined();
  });

  it('fields from a recorded-shape Pod', () => {
    const pod = makePod({
      namespace: 'shop',
      name: 'web-7d9f6c5b8d-x2v4q',
      node: 'node-1',
      labels: { app: 'web' },
      annotations: { team: 'checkout' },
      containers: [{ name: 'app', image: 'registry.example/web:2.1', restartCount: 1 }],
      owner: { kind: 'ReplicaSet', name: 'web-7d9f6c5b8d' },
    });
    const m = podMeta(pod)!;
    expect(m).toMatchObject({
      namespace: 'shop',
      host: 'node-1',
      owner: { kind: 'Deployment', name: 'web' },
    });
    const now = apiFields(m, 'app', 1, { labels: true, annotations: true });
    expect(now).toMatchObject({
      host: 'node-1',
      container_image: 'registry.example/web:2.1',
      labels: { app: 'web', 'pod-template-hash': '7d9f6c5b8d' },
      annotations: { team: 'checkout' },
    });
    expect(String(now.docker_id)).toMatch(/^a+0$/);
    expect(String(now.container_hash)).toContain('@sha256:');
    expect(String(apiFields(m, 'app', 0, { labels: false, annotations: false }).docker_id)).toMatch(
      /^b+0$/,
    );
    expect(apiFields(m, 'app', 0, { labels: false, annotations: false }).labels).toBeUndefined();
    expect(podMeta({ metadata: {} })).toBeUndefined();
  });
});
