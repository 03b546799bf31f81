import { createContextKey } from "@connectrpc/connect";
import type { Caller } from "../auth/caller.js";

/** The verified caller, set by the auth interceptor. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "verified caller" });

/** Per-call facts the adapter knows before any interceptor runs. */
export interface CallInfo {
  correlationId: string;
  peer: string;
}

export const callInfoKey = createContextKey<CallInfo>({ correlationId: "", peer: "" }, { description: "call info" });
