// The one retry helper: exponential backoff with full jitter (AWS architecture blog's "Full
// Jitter": sleep = random(0, min(max, initial * 2^attempt))), honouring a server's Retry-After,
// bounded by an optional max_elapsed, stopped by an AbortSignal.

import type { RetryConfig } from './component.js';

/** Thrown by an attempt that should be retried; `delayMs` comes from Retry-After when present. */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly delayMs?: number,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

export function backoffDelay(
  attempt: number,
  cfg: RetryConfig,
  random: () => number = Math.random,
): number {
  const cap = Math.min(cfg.max, cfg.initial * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * cap);
}

/**
 * Parse an HTTP Retry-After header (delta-seconds or an HTTP-date) into milliseconds.
 * RFC 9110 §10.2.3.
 */
export function parseRetryAfter(
  value: string | string[] | undefined | null,
  now = Date.now(),
): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

export interface RetryOptions {
  retry: RetryConfig;
  signal?: AbortSignal;
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class RetryTimeoutError extends Error {
  constructor(readonly last: Error) {
    super(`gave up after retry.max_elapsed: ${last.message}`);
    this.name = 'RetryTimeoutError';
  }
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Run `attempt` until it resolves. Any thrown error is retried (RetryableError may carry a
 * delay). Rejects with RetryTimeoutError once max_elapsed has passed, or with the signal's
 * reason when aborted. A plain loop: the delay (full jitter, Retry-After), the time limit and the
 * abort are all ours, so a retry library would only count attempts.
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  const sleep = opts.sleep ?? abortableSleep;
  const started = performance.now();
  for (let n = 1; ; n++) {
    if (opts.signal?.aborted) throw opts.signal.reason as Error;
    try {
      return await attempt(n);
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      const error = e instanceof Error ? e : new Error(String(e));
      let delay =
        error instanceof RetryableError && error.delayMs !== undefined
          ? error.delayMs
          : backoffDelay(n, opts.retry, opts.random);
      if (opts.retry.max_elapsed !== undefined) {
        const left = opts.retry.max_elapsed - (performance.now() - started);
        if (left <= 0) throw new RetryTimeoutError(error);
        delay = Math.min(delay, left);
      }
      opts.onRetry?.(error, n, delay);
      await sleep(delay, opts.signal);
    }
  }
}
