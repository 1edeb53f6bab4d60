// Backoff sleeps that end early when a failing backend answers again (see sender.ts): while
// workers sleep, the output's probe (an empty push, `GET /`) runs every PROBE_INTERVAL_MS, and
// its first success wakes every sleeper, so delivery resumes within that interval of the
// backend's return however long the backoff had grown.

import type { Logger } from '../telemetry/logger.js';

/** How often a failing backend is probed while workers back off (delivery resumes within it). */
export const PROBE_INTERVAL_MS = 5000;

export class ProbedSleep {
  private readonly sleepers = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly probe: (signal: AbortSignal) => Promise<boolean>,
    /** Aborted at stop: probing ends. */
    private readonly signal: AbortSignal,
    private readonly log: Logger,
  ) {}

  /** Sleep `ms`, or until the probe succeeds; rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(t);
        this.sleepers.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        clearTimeout(t);
        this.sleepers.delete(wake);
        reject(signal?.reason as Error);
      };
      const t = setTimeout(wake, ms);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.add(wake);
      this.probeSoon();
    });
  }

  private probeSoon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      void (async () => {
        let ok = false;
        try {
          ok = await this.probe(this.signal);
        } catch {
          ok = false;
        }
        this.timer = undefined;
        if (ok) {
          this.log.info('backend answers again; retrying now', { waiting: this.sleepers.size });
          for (const w of [...this.sleepers]) w();
        } else if (this.sleepers.size > 0 && !this.signal.aborted) this.probeSoon();
      })();
    }, PROBE_INTERVAL_MS);
    this.timer.unref();
  }
}
