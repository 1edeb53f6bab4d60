// Summaries of measured runs (median per figure over the runs of one tool), shiplog/Fluent Bit
// ratios from the same bench invocation, the printed table and the results file.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Figures compared as shiplog / Fluent Bit (each the median over runs). */
const RATIOS = [
  'lines_per_s',
  'cpu_s_per_million',
  'peak_rss_mb',
  'steady_cpu_pct',
  'steady_rss_mb',
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round = (x) => (Math.abs(x) >= 100 ? Math.round(x) : +x.toFixed(2));

/** One tool on one workload and data set: medians of the runs that delivered everything. */
export function summarise(w, data, tool, runs) {
  const ok = runs.filter((r) => !r.error);
  const out = { workload: w.id, data, tool, description: w.description, runs: runs.length };
  const keys = new Set(ok.flatMap((r) => Object.keys(r)));
  for (const k of keys) {
    const vals = ok.map((r) => r[k]).filter((v) => typeof v === 'number' && Number.isFinite(v));
    if (vals.length === 0 || ['run', 'lines', 'expected', 'cpu_s'].includes(k)) continue;
    out[k] = round(median(vals));
  }
  if (ok.length > 1 && ok.every((r) => r.lines_per_s !== undefined)) {
    const lps = ok.map((r) => r.lines_per_s);
    out.lines_per_s_range = [Math.min(...lps), Math.max(...lps)];
  }
  const errors = runs.filter((r) => r.error).map((r) => r.error);
  if (errors.length) out.errors = errors;
  const extra = runs.filter((r) => r.extra_records).map((r) => r.extra_records);
  if (extra.length) out.extra_records = extra;
  out.per_run = runs;
  return out;
}

/** shiplog / Fluent Bit for each figure both have. */
export function compare(s, fb) {
  const out = { workload: s.workload, data: s.data };
  for (const k of RATIOS)
    if (typeof s[k] === 'number' && typeof fb[k] === 'number' && fb[k] > 0)
      out[k] = +(s[k] / fb[k]).toFixed(2);
  return out;
}

function fmt(v) {
  if (v === undefined) return '';
  if (typeof v === 'number' && v >= 1000) return v.toLocaleString('en-US');
  return String(v);
}

/** The table: one row per tool, and a ratio row under each compared workload. */
export function printTable(summaries, comparisons) {
  const cols = [
    ['lines_per_s', 'lines/s'],
    ['cpu_s_per_million', 'CPU s / M lines'],
    ['peak_rss_mb', 'peak RSS MB'],
    ['steady_cpu_pct', 'steady CPU %'],
    ['steady_rss_mb', 'steady RSS MB'],
    ['disk_write_bytes_per_line', 'disk B/line'],
  ];
  const skip = new Set([
    ...cols.map(([k]) => k),
    ...['workload', 'data', 'tool', 'description', 'per_run', 'runs', 'wall_s', 'mb_per_s'],
  ]);
  console.log(
    `\n| workload | data | tool | ${cols.map(([, h]) => h).join(' | ')} | runs | notes |`,
  );
  console.log(`|---|---|---|${cols.map(() => '---:').join('|')}|---:|---|`);
  for (const s of summaries) {
    const notes = Object.entries(s)
      .filter(([k]) => !skip.has(k))
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('–') : v}`.slice(0, 160))
      .join(' ');
    console.log(
      `| ${s.workload} | ${s.data} | ${s.tool} | ${cols.map(([k]) => fmt(s[k])).join(' | ')} | ${s.runs} | ${notes} |`,
    );
    const c =
      s.tool === 'fluent-bit' &&
      comparisons.find((x) => x.workload === s.workload && x.data === s.data);
    if (c)
      console.log(
        `| ${s.workload} | ${s.data} | **shiplog / FB** | ${cols.map(([k]) => (c[k] === undefined ? '' : `**${c[k]}×**`)).join(' | ')} | | |`,
      );
  }
}

const pair = (r) => `${r.workload}\t${r.data}`;

/** Write the results file; with `merge`, keep the entries of workloads not measured now. */
export function writeResults(file, meta, summaries, comparisons, merge) {
  let results = summaries;
  let ratios = comparisons;
  if (merge && existsSync(file)) {
    try {
      const prev = JSON.parse(readFileSync(file, 'utf8'));
      const measured = new Set(summaries.map(pair));
      results = [...(prev.results ?? []).filter((r) => !measured.has(pair(r))), ...summaries];
      ratios = [...(prev.comparisons ?? []).filter((r) => !measured.has(pair(r))), ...comparisons];
      // The invocations whose results are kept: newest first.
      const { earlier = [], ...prevMeta } = prev.meta ?? {};
      meta = { ...meta, earlier: [prevMeta, ...earlier] };
    } catch {
      // An unreadable previous file is replaced.
    }
  }
  writeFileSync(file, JSON.stringify({ meta, results, comparisons: ratios }, null, 2) + '\n');
}
