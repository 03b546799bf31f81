import type { Interceptor } from "@connectrpc/connect";
import type { Admission } from "./admission.js";
import { callerKey, callInfoKey } from "./context.js";
import type { GrpcType } from "./metrics.js";
import type { Observer } from "./observe.js";

/**
 * Admits the call (bearer token, then rate limits) and puts the caller into
 * the context. Services in `publicServices` (reflection, health: public
 * metadata) need no token and are not rate limited.
 */
export function authInterceptor(admission: Admission, publicServices: ReadonlySet<string>): Interceptor {
  return (next) => async (req) => {
    if (!publicServices.has(req.service.typeName)) {
      await admission.admit(req.method, req.header.get("authorization"), (caller) => req.contextValues.set(callerKey, caller));
    }
    return next(req);
  };
}

function protocolOf(contentType: string | null): string {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}

const GRPC_TYPES: Record<string, GrpcType> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/**
 * Outermost interceptor: observes the call (metrics, one log line, error →
 * status mapping) and returns the correlation id in `x-request-id`.
 */
export function observeInterceptor(observer: Observer): Interceptor {
  return (next) => async (req) => {
    const info = req.contextValues.get(callInfoKey);
    info.observed = true;
    const call = observer.start({
      service: req.service.typeName,
      method: req.method.name,
      type: GRPC_TYPES[req.method.methodKind] ?? "unary",
      protocol: protocolOf(req.header.get("content-type")),
      correlationId: info.correlationId,
      peer: info.peer,
    });
    try {
      const res = await next(req);
      res.header.set("x-request-id", info.correlationId);
      call.end(req.contextValues.get(callerKey));
      return res;
    } catch (err) {
      const error = call.end(req.contextValues.get(callerKey), err)!;
      error.metadata.set("x-request-id", info.correlationId);
      throw error;
    }
  };
}
