// Errors with stable codes and sentences a user can act on.

export type ErrorCode =
  | 'SHIPLOG_CONFIG_INVALID'
  | 'SHIPLOG_CONFIG_UNKNOWN_KEY'
  | 'SHIPLOG_CONFIG_YAML'
  | 'SHIPLOG_CONFIG_ENV'
  | 'SHIPLOG_CONFIG_UNKNOWN_TYPE'
  | 'SHIPLOG_CONFIG_DUPLICATE_ID'
  | 'SHIPLOG_CONFIG_FILE'
  | 'SHIPLOG_START_FAILED';

export interface ConfigProblem {
  code: ErrorCode;
  /** `file:line:col` when known. */
  where?: string;
  /** Dotted key path, e.g. `pipeline.inputs[0].read_from`. */
  path?: string;
  message: string;
}

export class ShiplogError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ShiplogError';
  }
}

/** One or more config problems; `message` lists them all, one per line. */
export class ConfigError extends ShiplogError {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems[0]?.code ?? 'SHIPLOG_CONFIG_INVALID', problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/** One invalid-value problem at `path` (relative to the component; the pipeline adds its location). */
export function invalidConfig(path: string, message: string): ConfigError {
  return new ConfigError([{ code: 'SHIPLOG_CONFIG_INVALID', path, message }]);
}

export function formatProblem(p: ConfigProblem): string {
  const loc = [p.where, p.path].filter(Boolean).join(': ');
  return `${loc ? loc + ': ' : ''}${p.message} [${p.code}]`;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d = Array.from({ length: m + 1 }, (_, i) => [i, ...new Array<number>(n).fill(0)]);
  for (let j = 1; j <= n; j++) d[0][j] = j;
  for (let i = 1; i <= m; i++)
    for (let j = 1; j <= n; j++)
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
  return d[m][n];
}

export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
