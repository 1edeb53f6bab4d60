// A keep-alive pool that cannot hang its output (#17.1). undici 7 leaves a pool wedged after it
// rejected a request with UND_ERR_INVALID_ARG (e.g. a header value holding CR, LF, NUL or a
// character above U+00FF): every later request on that pool never settles, so the output stopped
// for good, nothing was logged and SIGTERM waited for ever. Here every request races
//   - its own watchdog (a bound well above the pool's header/body timeouts),
//   - the caller's abort signal (SIGTERM must not wait for a request that will never settle);
// and a pool that failed a request with an invalid argument, or let one outlive its watchdog, is
// replaced by a fresh one (the old one is destroyed, not closed: close waits for what is queued).
//
// `stuck` says a request outlived its watchdog and none succeeded since: that is shiplog broken,
// not the backend down (a backend that is down answers, refuses or times out within `timeout`).

import { Pool, type Dispatcher } from 'undici';

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin'>;

/** A request the watchdog gave up on (retryable: the pool was replaced). */
export class WatchdogError extends Error {
  readonly code = 'SHIPLOG_WATCHDOG';
}

export class GuardedPool {
  private pool: Pool;
  /** Set when a request outlived its watchdog; cleared by the next request that is answered. */
  private stuckSince: number | undefined;
  /** Pools replaced so far (wedged or after an invalid argument). */
  replaced = 0;

  constructor(
    private readonly make: () => Pool,
    /** A request settles within this or the pool is taken as wedged. */
    readonly watchdogMs: number,
    private readonly onReplace: (why: string) => void = () => undefined,
  ) {
    this.pool = make();
  }

  /** When a request outlived its watchdog with none answered since (ms since the epoch). */
  get stuck(): number | undefined {
    return this.stuckSince;
  }

  async request(opts: RequestOptions): Promise<Dispatcher.ResponseData> {
    const pool = this.pool;
    const signal = opts.signal as AbortSignal | undefined;
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.stuckSince ??= Date.now();
        this.replace(pool, `a request did not settle within ${this.watchdogMs} ms`);
        reject(
          new WatchdogError(
            `request did not settle within ${this.watchdogMs} ms (connection pool replaced)`,
          ),
        );
      }, this.watchdogMs);
      timer.unref?.();
      if (signal) {
        onAbort = () => reject(signal.reason ?? new Error('aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    let settled = false;
    const req = pool.request(opts as Dispatcher.RequestOptions);
    // The race's loser must not surface as an unhandled rejection.
    req.then(
      (res) => {
        // Answered after the guard settled: nobody reads this body.
        if (settled) res.body.dump().catch(() => undefined);
      },
      () => undefined,
    );
    try {
      const res = await Promise.race([req, guard]);
      this.stuckSince = undefined;
      return res;
    } catch (e) {
      if ((e as { code?: string }).code === 'UND_ERR_INVALID_ARG') {
        this.replace(pool, `invalid request argument: ${(e as Error).message}`);
      }
      throw e;
    } finally {
      settled = true;
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Close, then destroy what did not close within `graceMs` (a wedged pool never closes). */
  async close(graceMs = 1000): Promise<void> {
    const pool = this.pool;
    let t: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      pool.close().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => {
        t = setTimeout(() => r(false), graceMs);
      }),
    ]);
    clearTimeout(t);
    if (!closed) await pool.destroy().catch(() => undefined);
  }

  private replace(pool: Pool, why: string): void {
    if (pool !== this.pool) return; // another request replaced it already
    this.pool = this.make();
    this.replaced++;
    this.onReplace(why);
    pool.destroy().catch(() => undefined);
  }
}
