import { describe, expect, it } from 'vitest';
import { Ledger, MAX_TAGS_PER_INPUT, OTHER_TAGS } from './ledger.js';

describe('Ledger', () => {
  it('every record read is in exactly one column', () => {
    const l = new Ledger();
    l.inputType('app', 'file');
    const r = l.row('app', 'web');
    r.read += 100;
    r.filtered += 10; // 2 of them dead-lettered by a parser
    r.dropped += 5;
    r.inFlight += 85;
    r.inFlight -= 80; // acknowledged
    l.deadLettered('web', 2, 'filter');
    l.deadLettered('web', 3, 'output');
    const [s] = l.snapshot();
    expect(s).toMatchObject({ input: 'app', type: 'file', tag: 'web', read: 100, filtered: 8 });
    expect(s).toMatchObject({ dropped: 5, dead: 5, in_flight: 5, delivered: 77 });
    expect(s.filtered + s.dropped + s.delivered + s.dead + s.in_flight).toBe(s.read);
  });

  it('stays O(inputs x tags): tags beyond the cap share one row', () => {
    const l = new Ledger();
    for (let i = 0; i < MAX_TAGS_PER_INPUT + 500; i++) l.row('pods', `kube.ns.pod-${i}`).read++;
    const rows = l.snapshot();
    expect(rows).toHaveLength(MAX_TAGS_PER_INPUT + 1);
    expect(rows.find((r) => r.tag === OTHER_TAGS)?.read).toBe(500);
    expect(rows.reduce((n, r) => n + r.read, 0)).toBe(MAX_TAGS_PER_INPUT + 500);
  });

  it("keeps an output's last warning, cut to 200 characters", () => {
    const l = new Ledger();
    l.outputEvent('loki', 'send failed; retrying', { reason: 'x'.repeat(500), delay_ms: 2000 });
    const n = l.outputs.get('loki')!;
    expect(n.lastError!.length).toBe(200);
    expect(n.retryDelayMs).toBe(2000);
  });
});
