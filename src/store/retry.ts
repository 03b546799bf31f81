/**
 * Running a transaction again after a deadlock, a busy SQLite or a lost
 * request-id race (see `isRetryable`): how many times, and how long to wait
 * in between. Every other error ends the attempts at once.
 */
import { isRetryable } from "./driver-errors.js";

/** Attempts per transaction, the first included; the last attempt's error reaches the caller. */
export const MAX_ATTEMPTS = 8;

/**
 * Jittered, growing pause before attempt `attempt + 1`: at most 5 ms per
 * attempt so far, so colliding writers spread out without the caller noticing.
 */
function backoffMs(attempt: number): number {
  return Math.random() * 5 * attempt;
}

/**
 * Calls `attempt` until it resolves, a non-retryable error ends it, or
 * `MAX_ATTEMPTS` have failed. `attempt` must be a whole transaction: each
 * call starts from nothing.
 */
export async function retrying<T>(attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!isRetryable(err) || n >= MAX_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(n)));
    }
  }
}
