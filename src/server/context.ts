import { randomUUID } from "node:crypto";
import { createContextKey } from "@connectrpc/connect";
import type { Caller } from "../auth/caller.js";

/** The verified caller, set by the auth interceptor. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "verified caller" });

/** Per-call facts the adapter knows before any interceptor runs. */
export interface CallInfo {
  /** The caller's sane `x-request-id`, else a new UUID (see correlationId). */
  correlationId: string;
  /** The remote address and port, for logs. */
  peer: string;
  /** Set once an interceptor has seen the call; a call refused before that is observed by the adapter. */
  observed: boolean;
}

/** Set by the connect-node adapter (server.ts) for each call; the default is only seen by a call that bypassed it. */
export const callInfoKey = createContextKey<CallInfo>({ correlationId: "", peer: "", observed: false }, { description: "call info" });

/** A correlation id from the caller's `x-request-id` when it is sane, else a new one. */
export function correlationId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^[\x21-\x7e]{1,128}$/.test(value) ? value : randomUUID();
}
