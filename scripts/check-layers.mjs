#!/usr/bin/env node
// Import direction and folder cycles of src/ (issue #19), run by `npm test`:
//   cli → config → components (registry, then each component) → core → telemetry
// An import may only point to its own layer or a lower one, and no two folders may import each
// other, directly or through others (a component folder is src/components/<kind>/<name>).
// Type-only imports count too: they are dependencies of the design, if not of the bundle.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const src = path.join(root, 'src');
const LAYERS = ['telemetry', 'core', 'components', 'config', 'cli'];

function files(dir) {
  const out = [];
  for (const f of readdirSync(dir)) {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.ts$/.test(f) && !/\.test\.ts$/.test(f)) out.push(p);
  }
  return out;
}

/** src/<top> or src/components/<kind>/<name> (registry and index: src/components). */
function folder(file) {
  const parts = path.relative(src, file).split(path.sep);
  if (parts[0] === 'components' && parts.length >= 4) return parts.slice(0, 3).join('/');
  return parts[0];
}
const layer = (f) => LAYERS.indexOf(f.split('/')[0]);

const edges = new Map(); // folder -> Map(folder -> example "file -> spec")
const problems = [];
const IMPORT =
  /^\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm;
for (const file of files(src)) {
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
    if (!target.startsWith(src + path.sep)) continue;
    const a = folder(file);
    const b = folder(target);
    if (a === b) continue;
    const where = `${path.relative(root, file)} → ${spec}`;
    if (layer(a) >= 0 && layer(b) >= 0 && layer(b) > layer(a))
      problems.push(`upward import (${a} → ${b}): ${where}`);
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a).has(b)) edges.get(a).set(b, where);
  }
}

// Tarjan's strongly connected components: any with two or more folders is a cycle.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const on = new Set();
function visit(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  on.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      on.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1) {
      const set = new Set(scc);
      const links = [];
      for (const a of scc)
        for (const [b, where] of edges.get(a) ?? []) if (set.has(b)) links.push(`  ${where}`);
      problems.push(`import cycle between ${scc.sort().join(', ')}:\n${links.join('\n')}`);
    }
  }
}
for (const v of edges.keys()) if (!idx.has(v)) visit(v);

// Every runtime dependency is imported by product code (no dependency sits unused).
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const all = files(src)
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');
for (const dep of Object.keys(pkg.dependencies ?? {})) {
  const q = dep.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  if (!new RegExp(`(from|import\\()\\s*['"]${q}(/[^'"]*)?['"]`).test(all))
    problems.push(`dependency ${dep} is not imported by any file in src/`);
}

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} problem(s)\n${problems.join('\n')}`);
  process.exit(1);
}
console.log(`check-layers: ${edges.size} folders, no upward import, no cycle`);
