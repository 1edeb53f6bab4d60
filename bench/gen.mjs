// Deterministic workload data: agent JSON log lines of a fixed length (280 bytes with the newline).

const LEVELS = ['info', 'info', 'info', 'info', 'debug', 'warn', 'error', 'info'];
const COMPONENTS = [
  'planner',
  'executor',
  'retriever',
  'memory',
  'scheduler',
  'gateway',
  'tool-runner',
  'evaluator',
];
const MESSAGES = [
  'task accepted',
  'tool call completed',
  'retrieved documents',
  'plan step finished',
  'upstream slow',
  'request completed',
];

/** The i-th line, exactly `len` bytes including '\n'. */
export function line(i, len = 280, ts = '2026-11-22T10:00:00.000Z') {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  let s = `{"timestamp":"${ts}","level":"${LEVELS[h % LEVELS.length]}","component":"${COMPONENTS[(h >>> 3) % COMPONENTS.length]}","agent_id":"agent-${h % 100}","correlation_id":"c-${i.toString(16).padStart(10, '0')}","seq":${i},"message":"${MESSAGES[(h >>> 7) % MESSAGES.length]}","pad":"`;
  const need = len - 1 - s.length - 2;
  s += 'x'.repeat(Math.max(0, need)) + '"}';
  return s + '\n';
}

/** `n` lines starting at `from`, as one Buffer. */
export function lines(from, n, len = 280, ts) {
  let s = '';
  for (let i = from; i < from + n; i++) s += line(i, len, ts);
  return Buffer.from(s);
}
