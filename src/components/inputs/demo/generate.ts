// Realistic agent-log records (the shape the agents on our nodes write): level, component,
// agent_id, correlation_id, a message and a context object. Deterministic from a seed.

import type { Fields } from '../../../core/record.js';

const LEVELS = ['info', 'info', 'info', 'info', 'info', 'debug', 'debug', 'warn', 'error', 'info'];
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
  'retrieved documents from vector store',
  'plan step finished',
  'upstream responded slowly',
  'cache miss; fetching from origin',
  'retrying request after transient error',
  'session checkpoint written',
  'rate limit approaching for tenant',
  'request completed',
];
const TOOLS = ['search', 'http_get', 'sql_query', 'python', 'summarise', 'embed'];

export class DemoGenerator {
  private state: number;
  private seq = 0;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  private next(): number {
    // xorshift32: cheap and deterministic.
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  record(timestamp: string): Fields {
    const r = this.next();
    const seq = this.seq++;
    return {
      timestamp,
      level: LEVELS[r % LEVELS.length],
      component: COMPONENTS[(r >>> 4) % COMPONENTS.length],
      agent_id: `agent-${(r >>> 8) % 100}`,
      correlation_id: `c-${seq.toString(16).padStart(8, '0')}-${(r >>> 12).toString(16)}`,
      message: MESSAGES[(r >>> 16) % MESSAGES.length],
      context: {
        tool: TOOLS[(r >>> 20) % TOOLS.length],
        duration_ms: (r >>> 3) % 2000,
        attempt: 1 + ((r >>> 24) % 3),
        seq,
      },
    };
  }
}
