// `rate_limit` of the HTTP outputs: at most `requests` requests per `per` window (like Vector's
// request.rate_limit_num / rate_limit_duration_secs), retries included. Enforced by the sender
// (core/sender.ts) with a bottleneck reservoir.

import { z } from 'zod';
import { duration } from '../../../core/units.js';

export const rateLimit = z
  .strictObject({
    requests: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .describe('Requests allowed in each window (attempts and retries alike).'),
    per: duration('The window.').prefault('1s'),
  })
  .optional()
  .describe(
    'Cap the request rate to the backend (e.g. a gateway with a quota). Unset: no cap; workers and backoff alone pace requests.',
  );

/** The sender's form of a parsed `rate_limit`. */
export function senderRateLimit(
  r: z.output<typeof rateLimit>,
): { requests: number; perMs: number } | undefined {
  return r ? { requests: r.requests, perMs: r.per } : undefined;
}
