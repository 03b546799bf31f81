import type { DescMethodUnary, DescService, MessageShape } from "@bufbuild/protobuf";
import type { Caller } from "../auth/caller.js";
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

/**
 * The service core of a generated service descriptor: one method per RPC,
 * under the descriptor's local name, taking the call and the request message
 * and resolving to the response message. Typed against the descriptor, so a
 * missing or mistyped RPC is a compile error, and the server adapts it to
 * every engine from one table.
 */
export type ServiceCore<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethodUnary<infer I, infer O> ? (call: Call, req: MessageShape<I>) => Promise<MessageShape<O>> : never;
};
