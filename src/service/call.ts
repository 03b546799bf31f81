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
export const SLICE_MS = 10;

/**
 * Paces a long computation: `step()` between units of work throws
 * DeadlineExceededError once the call's deadline has passed, and every
 * SLICE_MS yields to the event loop, so other calls (and other tenants) are
 * served meanwhile. Slices are measured in time, not units: one busy person
 * of a batch can cost as much as hundreds of others.
 */
export function pacer(call: Pick<Call, "deadline">, what: string): { step(): Promise<void> } {
  let sliceStart = Date.now();
  return {
    async step() {
      const now = Date.now();
      if (now >= call.deadline) throw new DeadlineExceededError(`deadline exceeded while computing ${what}`);
      if (now - sliceStart < SLICE_MS) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = Date.now();
    },
  };
}
