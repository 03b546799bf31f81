/**
 * The timeout a request asks for in its headers, read the way each protocol
 * writes it: gRPC and gRPC-Web `grpc-timeout` (at most 8 digits and a unit),
 * Connect `connect-timeout-ms` (at most 10 digits). Anything malformed counts
 * as no timeout; the RPC layer answers it.
 */
import type { IncomingHttpHeaders } from "node:http";

const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** Milliseconds the request allows itself, or undefined when it names none (or names one badly). */
export function timeoutFromHeaders(headers: IncomingHttpHeaders): number | undefined {
  const grpc = headers["grpc-timeout"];
  if (typeof grpc === "string") {
    const m = /^(\d{1,8})([HMSmun])$/.exec(grpc);
    return m ? Number(m[1]) * GRPC_UNITS[m[2]!]! : undefined;
  }
  const connect = headers["connect-timeout-ms"];
  if (typeof connect === "string" && /^\d{1,10}$/.test(connect)) return Number(connect);
  return undefined;
}
