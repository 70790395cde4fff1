/**
 * How long to wait before trying again after a failure: exponential backoff
 * with jitter, capped, and a server's own "retry after" honoured. Used for
 * downloads; written generically so any other retried operation shares it.
 */

export interface RetryPolicy {
  /** Failed attempts in a row before giving up. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };

/**
 * The wait before the next attempt after `failuresInARow` (1 or more) failures:
 * `baseDelayMs * 2^(failures-1)` capped at `maxDelayMs`, spread by ±25% so that
 * many clients failing together do not retry together. A delay the other side
 * asked for (`requestedMs`, e.g. HTTP Retry-After) replaces it, within the same cap.
 */
export function backoffDelayMs(policy: RetryPolicy, failuresInARow: number, requestedMs?: number, random: () => number = Math.random): number {
  if (requestedMs !== undefined) return Math.round(Math.min(policy.maxDelayMs, requestedMs));
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failuresInARow - 1));
  return Math.round(backoff * (0.75 + random() * 0.5));
}
