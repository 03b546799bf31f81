import { Code, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { TokenVerifier } from "../auth/verifier.js";
import { toConnectError } from "../service/errors.js";
import { callerKey, callInfoKey } from "./context.js";

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

/**
 * Outermost interceptor: maps every error to a status (errors.ts), returns
 * the correlation id in `x-request-id`, and logs one line per call. Never
 * logs tokens or request bodies.
 */
export function observeInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const info = req.contextValues.get(callInfoKey);
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
      log.info(line("OK"), "call");
      return res;
    } catch (err) {
      const { error, internal } = toConnectError(err, info.correlationId);
      error.metadata.set("x-request-id", info.correlationId);
      const codeName = Code[error.code];
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
