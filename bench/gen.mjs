// Deterministic workload data, two data sets:
// - `agent` (default): lines shaped like the agent logs on our nodes — ISO `timestamp`, skewed
//   upper-case `level`, `correlation_id` (`req-` + 32 hex), `agent_id` (`A7-haiku-009`),
//   `component`, `message`, a nested `context` (`task_id`, `duration_ms` float, `batch_size`) and
//   `seq`; ~280 bytes a line on average, lengths vary. Every line is a pure function of its index
//   (seeded PRNG), so any range can be generated on its own and both tools read the same bytes.
// - `flat`: the older generator, flat lower-case fields padded to exactly 280 bytes.

const SEED = 0x5eed_2026;

/** splitmix32 over (seed, i): a fresh PRNG stream per line. */
function rng(i) {
  let s = (SEED ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

// ---- agent ----

/** INFO dominant: 80 % INFO, 10 % DEBUG, 7 % WARN, 3 % ERROR. */
function agentLevel(r) {
  const p = r % 100;
  return p < 80 ? 'INFO' : p < 90 ? 'DEBUG' : p < 97 ? 'WARN' : 'ERROR';
}
const AGENT_COMPONENTS = [
  'planner',
  'executor',
  'retriever',
  'memory',
  'scheduler',
  'gateway',
  'tool-runner',
  'evaluator',
];
const AGENT_MESSAGES = [
  'task accepted',
  'tool call completed',
  'retrieved documents',
  'plan step finished',
  'upstream responded slowly',
  'cache miss',
  'retrying after transient error',
  'checkpoint written',
  'rate limit approaching',
  'request completed',
];
const MODELS = ['haiku', 'sonnet', 'opus'];
/** 100 agents: `A<1-9>-<model>-<nnn>`. */
const AGENTS = Array.from(
  { length: 100 },
  (_, k) => `A${(k % 9) + 1}-${MODELS[k % 3]}-${String(k).padStart(3, '0')}`,
);
const HEX = '0123456789abcdef';

function hex(r, digits) {
  let s = '';
  for (let d = 0; d < digits; d++) s += HEX[(r >>> (d * 4)) & 15];
  return s;
}

/** The i-th agent line (with '\n') at time `ts` (an ISO string). */
export function agentLine(i, ts) {
  const next = rng(i);
  const a = next();
  const b = next();
  const corr = hex(next(), 8) + hex(next(), 8) + hex(next(), 8) + hex(next(), 8);
  const duration = ((b % 250_000) / 1000 + 0.5).toFixed(3);
  return (
    `{"timestamp":"${ts}","level":"${agentLevel(a)}","correlation_id":"req-${corr}",` +
    `"agent_id":"${AGENTS[(a >>> 8) % AGENTS.length]}","component":"${AGENT_COMPONENTS[(a >>> 16) % AGENT_COMPONENTS.length]}",` +
    `"message":"${AGENT_MESSAGES[(b >>> 20) % AGENT_MESSAGES.length]}",` +
    `"context":{"task_id":"task-${hex(next(), 8)}","duration_ms":${duration},"batch_size":${1 << ((a >>> 28) % 7)}},` +
    `"seq":${i}}\n`
  );
}

// ---- flat ----

const FLAT_LEVELS = ['info', 'info', 'info', 'info', 'debug', 'warn', 'error', 'info'];
const FLAT_MESSAGES = [
  'task accepted',
  'tool call completed',
  'retrieved documents',
  'plan step finished',
  'upstream slow',
  'request completed',
];

/** The i-th flat line, exactly `len` bytes including '\n'. */
export function line(i, len = 280, ts = '2026-11-22T10:00:00.000Z') {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  let s = `{"timestamp":"${ts}","level":"${FLAT_LEVELS[h % FLAT_LEVELS.length]}","component":"${AGENT_COMPONENTS[(h >>> 3) % AGENT_COMPONENTS.length]}","agent_id":"agent-${h % 100}","correlation_id":"c-${i.toString(16).padStart(10, '0')}","seq":${i},"message":"${FLAT_MESSAGES[(h >>> 7) % FLAT_MESSAGES.length]}","pad":"`;
  const need = len - 1 - s.length - 2;
  s += 'x'.repeat(Math.max(0, need)) + '"}';
  return s + '\n';
}

// ---- data sets ----

export const datasets = {
  agent: {
    description: 'agent records (~280 B, nested context, upper-case skewed levels)',
    line: agentLine,
  },
  flat: {
    description: 'flat 280 B lines (lower-case fields, padding)',
    line: (i, ts) => line(i, 280, ts),
  },
};

/**
 * `n` lines of `set` from index `from`, as one Buffer. Line i carries the time `tsMs(i)` (ms);
 * by default all lines carry now.
 */
export function lines(set, from, n, tsMs) {
  const make = datasets[set].line;
  const now = Date.now();
  let lastMs = NaN;
  let iso = '';
  let s = '';
  for (let i = from; i < from + n; i++) {
    const ms = tsMs ? tsMs(i) : now;
    if (ms !== lastMs) iso = new Date((lastMs = ms)).toISOString();
    s += make(i, iso);
  }
  return Buffer.from(s);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // node bench/gen.mjs [agent|flat] [n]: print n lines and their mean length on stderr.
  const set = process.argv[2] ?? 'agent';
  const buf = lines(set, 0, Number(process.argv[3] ?? 10), (i) => Date.UTC(2026, 10, 22) + i);
  process.stdout.write(buf);
  const count = buf.toString().split('\n').length - 1;
  process.stderr.write(`${count} lines, ${(buf.length / count).toFixed(1)} bytes/line\n`);
}
