import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { TokenVerifier } from "../auth/verifier.js";
import { toConnectError } from "../service/errors.js";
import { callerKey, callInfoKey } from "./context.js";
import type { GrpcType, Metrics } from "./metrics.js";

/**
 * Verifies the bearer token and puts the caller into the context. Services in
 * `publicServices` (reflection, health: public metadata) need no token.
 */
export function authInterceptor(verifier: TokenVerifier, publicServices: ReadonlySet<string>): Interceptor {
  return (next) => async (req) => {
    if (!publicServices.has(req.service.typeName)) {
      req.contextValues.set(callerKey, await verifier.verify(req.header.get("authorization")));
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
 * Outermost interceptor: maps every error to a status (errors.ts), returns
 * the correlation id in `x-request-id`, logs one line per call and counts it
 * in the metrics. Never logs tokens or request bodies.
 */
export function observeInterceptor(log: Logger, metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const info = req.contextValues.get(callInfoKey);
    const labels = {
      grpc_type: GRPC_TYPES[req.method.methodKind] ?? "unary",
      grpc_service: req.service.typeName,
      grpc_method: req.method.name,
    };
    const flight = { grpc_service: labels.grpc_service, grpc_method: labels.grpc_method };
    metrics.started.inc(labels);
    metrics.inFlight.inc(flight);
    const finish = (code: string): void => {
      metrics.inFlight.dec(flight);
      metrics.handled.inc({ ...labels, grpc_code: code });
      metrics.handling.observe(labels, (performance.now() - started) / 1000);
    };
    const line = (code: string): Record<string, unknown> => {
      const caller = req.contextValues.get(callerKey);
      return {
        method: `${req.service.typeName}/${req.method.name}`,
        protocol: protocolOf(req.header.get("content-type")),
        code,
        ms: Math.round((performance.now() - started) * 100) / 100,
        tenant: caller?.tenantId,
        app: caller?.appId,
        correlationId: info.correlationId,
        peer: info.peer,
      };
    };
    try {
      const res = await next(req);
      res.header.set("x-request-id", info.correlationId);
      finish("OK");
      log.info(line("OK"), "call");
      return res;
    } catch (err) {
      const { error, internal } = toConnectError(err, info.correlationId);
      error.metadata.set("x-request-id", info.correlationId);
      const codeName = Code[error.code];
      finish(codeName);
      if (internal) log.error({ ...line(codeName), fault: fault(err) }, "call failed");
      else log.info(line(codeName), "call");
      throw error;
    }
  };
}

/**
 * What the log keeps of a server fault: its kind and driver code, and the
 * message only when it cannot carry stored values (SQL errors can quote them).
 */
function fault(err: unknown): Record<string, unknown> {
  let e: unknown = err;
  // Unwrap our own wrappers down to the driver error.
  while (e instanceof Error && e.cause instanceof Error && !("sql" in e)) e = e.cause;
  if (!(e instanceof Error)) return { value: typeof e };
  const driver = e as Error & { code?: unknown; errno?: unknown; sqlState?: unknown; sql?: unknown };
  const fromSql = driver.sql !== undefined || driver.sqlState !== undefined;
  return {
    name: driver.name,
    code: driver.code,
    errno: driver.errno,
    sqlState: driver.sqlState,
    ...(fromSql ? {} : { message: driver.message }),
  };
}
