// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function, top N, as the benchmark
// reports it beside each workload's figures.

import { readFileSync } from 'node:fs';

/** Top `n` functions by self time: [{ fn, where, self_s, pct }]. */
export function topSelf(file, n = 5) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    const cf = byId.get(p.samples[i])?.callFrame;
    if (!cf) continue;
    const where = cf.url ? `${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}\t${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => {
      const [fn, where] = key.split('\t');
      return { fn, where, self_s: +(us / 1e6).toFixed(2), pct: +((us / total) * 100).toFixed(1) };
    });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of topSelf(process.argv[2], Number(process.argv[3] ?? 25)))
    console.log(`${String(r.pct).padStart(5)}%  ${r.self_s.toFixed(2)}s  ${r.fn} ${r.where}`);
}
