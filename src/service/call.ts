import type { Caller } from "../auth/caller.js";
import { DeadlineExceededError } from "../domain/errors.js";
import type { Scope } from "../store/store.js";

/** One RPC as the service core sees it: who calls, and by when it must be done. */
export interface Call extends Caller {
  /** Epoch milliseconds: the caller's deadline, capped by CAPACITY_MAX_DEADLINE_MS. */
  deadline: number;
}

/** A call's deadline (epoch ms): the client's timeout, or none, capped at `maxMs`. */
export function deadlineFor(clientTimeoutMs: number | undefined, maxMs: number): number {
  return Date.now() + Math.min(clientTimeoutMs ?? maxMs, maxMs);
}

/** Whose records a call may touch, and the deadline every query inherits. */
export function scopeOf(call: Call): Scope {
  return { tenantId: call.tenantId, appId: call.appId, deadline: call.deadline };
}

/** How much work one call may do; set from the configuration. */
export interface WorkLimits {
  /** CAPACITY_MAX_RESPONSE_BYTES: the largest response message. */
  maxResponseBytes: number;
  /** CAPACITY_AVAILABILITY_MAX_ALLOCATIONS: allocations one availability call may consider. */
  availabilityMaxAllocations: number;
}

/** Longest stretch of computation before a call gives way to others. */
export const SLICE_MS = 5;

/**
 * Paced computations waiting for their next slice. One is let go per turn
 * of the event loop, so however many run at once, a turn holds at most one
 * slice of them, and every other call's I/O is served in between.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

function schedule(): void {
  if (scheduled || waiting.length === 0) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    waiting.shift()?.();
    schedule();
  });
}

function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    schedule();
  });
}

/**
 * Paces a long computation: `step()` between units of work throws
 * DeadlineExceededError once the call's deadline has passed, and after
 * SLICE_MS of work waits for its next turn (round robin with the other paced
 * calls of the process). Slices are measured in time, not units: one busy
 * person of a batch can cost as much as hundreds of others.
 */
export function pacer(call: Pick<Call, "deadline">, what: string): { step(): Promise<void> } {
  let sliceStart = Date.now();
  const check = (now: number): void => {
    if (now >= call.deadline) throw new DeadlineExceededError(`deadline exceeded while computing ${what}`);
  };
  return {
    async step() {
      const now = Date.now();
      check(now);
      if (now - sliceStart < SLICE_MS) return;
      await nextTurn();
      sliceStart = Date.now();
      check(sliceStart);
    },
  };
}
