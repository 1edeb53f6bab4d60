// Multiline joins under SIGKILL (#18): a pods tree (a CRI file with `P`/`F` splits inside trace
// lines and a docker json-file), Java, Python and Go traces interleaved with ordinary lines on
// stdout and stderr, the kubernetes input (metadata from the fake API server) → multiline
// filter → Loki, and the same with the kubernetes input's own `multiline` option. shiplog is
// killed repeatedly, also while a trace is half written. Every trace must arrive as exactly one
// record, every ordinary line as one record, nothing lost.

import { promises as fsp, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TRACES } from '../fixtures/traces.js';
import { KubeApiServer, makePod } from '../receivers/kube-api.js';
import { LokiReceiver } from '../receivers/loki.js';
import { report, scale, scenarioDir, Shiplog, sleep, writeConfig } from './lib.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Expected {
  text: string;
  trace: boolean;
}

const KEY = /"w":"([a-z]+)","seq":(\d+)/g;
/** Blank lines are compared away (a runtime may or may not keep empty log lines). */
const norm = (s: string): string =>
  s
    .split('\n')
    .filter((l) => l !== '')
    .join('\n');

class PodFile {
  constructor(
    readonly file: string,
    readonly format: 'cri' | 'docker',
    private readonly random: () => number,
  ) {}

  /** The container-runtime form of `lines` on `stream`: CRI lines (some split P/F) or docker json. */
  encode(lines: string[], stream: 'stdout' | 'stderr'): string {
    let out = '';
    for (const l of lines) {
      const ts = new Date().toISOString();
      if (this.format === 'docker') {
        out += JSON.stringify({ log: l + '\n', stream, time: ts }) + '\n';
        continue;
      }
      const cri = ts.replace('Z', '123456Z');
      if (l.length > 30 && this.random() < 0.5) {
        const cut = 10 + Math.floor(this.random() * (l.length - 20));
        out += `${cri} ${stream} P ${l.slice(0, cut)}\n${cri} ${stream} F ${l.slice(cut)}\n`;
      } else out += `${cri} ${stream} F ${l}\n`;
    }
    return out;
  }

  async append(lines: string[], stream: 'stdout' | 'stderr'): Promise<void> {
    if (lines.length > 0) await fsp.appendFile(this.file, this.encode(lines, stream));
  }
}

// Longer than any stall of a loaded host between reading two halves of a trace: a trace split by
// the timer is by design, not what this test is about (the last lines end them).
const JOIN = { parsers: ['java', 'python', 'go'], flush_timeout: '15s' };

describe.each([
  { mode: 'filter' as const, seed: 18 },
  { mode: 'input option' as const, seed: 19 },
])('multiline ($mode): pods tree under SIGKILL', ({ mode, seed }) => {
  it('traces in CRI (P/F splits) and docker files, stdout and stderr, killed mid-trace: lost 0, in pieces 0', async () => {
    const random = rng(seed);
    const { dir, data, logs } = scenarioDir(
      mode === 'filter' ? 'multiline-kill' : 'multiline-input-kill',
    );
    const receiver = await LokiReceiver.start();
    cleanups.push(() => receiver.close());
    const api = await KubeApiServer.start({ token: 'sekret' });
    cleanups.push(() => api.close());
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'sekret\n');
    const pods = [
      {
        ns: 'shop',
        name: 'orders-7d9f6c5b8d-x2x4p',
        uid: 'a1b2c3d4-0000-4000-8000-000000000001',
        format: 'cri' as const,
        w: 'a',
      },
      {
        ns: 'shop',
        name: 'web-0',
        uid: 'a1b2c3d4-0000-4000-8000-000000000002',
        format: 'docker' as const,
        w: 'b',
      },
    ];
    const files: PodFile[] = [];
    for (const p of pods) {
      api.add(makePod({ namespace: p.ns, name: p.name, uid: p.uid, node: 'node-1' }));
      const d = path.join(logs, 'pods', `${p.ns}_${p.name}_${p.uid}`, 'app');
      await fsp.mkdir(d, { recursive: true });
      await fsp.writeFile(path.join(d, '0.log'), '');
      files.push(new PodFile(path.join(d, '0.log'), p.format, random));
    }
    const cfg = writeConfig(dir, {
      dataDir: data,
      inputs: [
        {
          type: 'kubernetes',
          id: 'pods',
          paths: [path.join(logs, 'pods', '*', '*', '*.log')],
          scan_interval: '200ms',
          exclude_own_pod: false,
          ...(mode === 'input option' ? { multiline: JOIN } : {}),
          metadata: {
            enabled: true,
            api_server: api.url,
            node_name: 'node-1',
            token_file: tokenFile,
            initial_wait: '2s',
          },
        },
      ],
      filters: mode === 'filter' ? [{ type: 'multiline', match: 'kube.*', ...JOIN }] : [],
      lokiUrl: receiver.url,
      loki: { line_format: 'message' },
    });
    const ship = new Shiplog(cfg);
    cleanups.push(() => ship.dispose());
    await ship.start();

    const expected = new Map<string, Expected>();
    const seq = new Map<string, number>();
    const kinds = ['java', 'python', 'go'] as const;
    const events = scale(240, 1600);
    const killEvery = scale(40, 150);
    let kills = 0;
    let midTrace = 0;
    const restart = async (): Promise<void> => {
      await ship.kill('SIGKILL');
      kills++;
      await sleep(100);
      await ship.start();
    };
    for (let e = 0; e < events; e++) {
      const fi = Math.floor(random() * files.length);
      const f = files[fi];
      const stream = random() < 0.5 ? 'stdout' : 'stderr';
      const w = `${pods[fi].w}${stream === 'stdout' ? 'o' : 'e'}`;
      const n = seq.get(w) ?? 0;
      seq.set(w, n + 1);
      const marker = `{"w":"${w}","seq":${n}}`;
      const key = `${w}:${n}`;
      if (random() < 0.7) {
        const line = `{"w":"${w}","seq":${n},"level":"info","msg":"ordinary line"}`;
        expected.set(key, { text: line, trace: false });
        await f.append([line], stream);
      } else {
        const kind = kinds[Math.floor(random() * kinds.length)];
        const samples = TRACES[kind];
        const t = samples[Math.floor(random() * samples.length)].slice();
        t[0] = `${t[0]} ${marker}`;
        expected.set(key, { text: t.join('\n'), trace: true });
        const half = 1 + Math.floor(random() * (t.length - 1));
        await f.append(t.slice(0, half), stream);
        // The other stream of the same file goes on while this trace is half written.
        const other = stream === 'stdout' ? 'stderr' : 'stdout';
        const ow = `${pods[fi].w}${other === 'stdout' ? 'o' : 'e'}`;
        const on = seq.get(ow) ?? 0;
        seq.set(ow, on + 1);
        const oline = `{"w":"${ow}","seq":${on},"level":"warn","msg":"meanwhile"}`;
        expected.set(`${ow}:${on}`, { text: oline, trace: false });
        await f.append([oline], other);
        await sleep(20 + Math.floor(random() * 150));
        if (random() < 0.08) {
          midTrace++;
          await restart();
        }
        await f.append(t.slice(half), stream);
      }
      if (e > 0 && e % killEvery === 0) await restart();
      await sleep(Math.floor(random() * 15));
    }
    // A last ordinary line per stream ends every open trace (else flush_timeout does).
    for (let fi = 0; fi < files.length; fi++)
      for (const stream of ['stdout', 'stderr'] as const) {
        const w = `${pods[fi].w}${stream === 'stdout' ? 'o' : 'e'}`;
        const n = seq.get(w) ?? 0;
        seq.set(w, n + 1);
        const line = `{"w":"${w}","seq":${n},"level":"info","msg":"last"}`;
        expected.set(`${w}:${n}`, { text: line, trace: false });
        await files[fi].append([line], stream);
      }

    // Wait until every key arrived (or time out), then stop gracefully.
    const got = new Map<string, number>();
    let inPieces = 0;
    let merged = 0;
    let wrong = 0;
    const bad: string[] = [];
    const take = (): void => {
      for (const entry of receiver.entries.splice(0)) {
        const keys = [...entry.line.matchAll(KEY)];
        if (keys.length === 0) {
          inPieces++;
          if (bad.length < 10) bad.push(`no key: ${entry.line.slice(0, 120)}`);
          continue;
        }
        if (keys.length > 1) {
          merged++;
          if (bad.length < 10) bad.push(`merged: ${entry.line.slice(0, 200)}`);
        }
        const key = `${keys[0][1]}:${keys[0][2]}`;
        const exp = expected.get(key);
        if (!exp || norm(exp.text) !== norm(entry.line)) {
          if (exp?.trace) inPieces++;
          else wrong++;
          if (bad.length < 10) bad.push(`differs (${key}): ${entry.line.slice(0, 200)}`);
        }
        got.set(key, (got.get(key) ?? 0) + 1);
      }
    };
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      take();
      if ([...expected.keys()].every((k) => got.has(k))) break;
      await sleep(200);
    }
    const stopped = await ship.stop();
    await sleep(300);
    take();
    const lost = [...expected.keys()].filter((k) => !got.has(k));
    const duplicated = [...got.values()].reduce((a, n) => a + n - 1, 0);
    const traces = [...expected.values()].filter((x) => x.trace).length;
    await fsp.writeFile(path.join(dir, 'stderr.log'), ship.stderr);
    report({
      scenario: `multiline ${mode}: pods tree (CRI P/F + docker), ${traces} traces, ${kills} SIGKILLs (${midTrace} mid-trace)`,
      written: expected.size,
      delivered: got.size,
      lost: lost.length,
      duplicated,
      peakRssMiB: ship.peakRssMiB,
      note: `traces in pieces ${inPieces}, merged ${merged}, altered ${wrong}`,
    });
    expect(stopped.code).toBe(0);
    expect(bad, dir).toEqual([]);
    expect(lost, dir).toEqual([]);
    expect(inPieces).toBe(0);
    expect(merged).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(5);
  }, 300_000);
});
