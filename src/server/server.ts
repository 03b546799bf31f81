/**
 * Assembles a running server from its parts: the Connect adapter (Connect,
 * gRPC and gRPC-Web) with the capacity, health and reflection services, the
 * interceptors, the HTTP extras (CORS, probes, UI) and the one-port listener.
 */
import { createContextValues, type ConnectRouter } from "@connectrpc/connect";
import type { TokenVerifier } from "../auth/verifier.js";
import { Health } from "../gen/health/v1/health_pb.js";
import { CapacityService as CapacityServiceDef } from "../gen/work/v1/capacity_pb.js";
import { callInfoKey, correlationId } from "./context.js";
import { healthRoutes, type HealthMonitor } from "./health.js";
import { createHttpHandler } from "./http.js";
import { authInterceptor, observeInterceptor } from "./interceptors.js";
import { listen, type Listener } from "./listener.js";
import type { Observer } from "./observe.js";
import { REFLECTION_SERVICES, ReflectionIndex, reflectionRoutes } from "./reflection.js";
import { routes, type Services } from "./routes.js";
import { rpcHandler } from "./rpc-handler.js";

export interface ServerOptions {
  host: string;
  port: number;
  services: Services;
  verifier: TokenVerifier;
  health: HealthMonitor;
  observer: Observer;
  readMaxBytes: number;
  /** Larger response messages are RESOURCE_EXHAUSTED (connect-node's writeMaxBytes). */
  maxResponseBytes: number;
  maxDeadlineMs: number;
  /** HTTP/2 streams per connection, header size limit, keepalive ping interval. */
  limits: { maxConcurrentStreams: number; maxHeaderBytes: number; pingIntervalMs: number };
  corsOrigins: readonly string[];
  uiDir: string | undefined;
  tls: { cert: Buffer; key: Buffer } | undefined;
}

/** Every service on the port; the first is the API, the rest are public metadata. */
export const SERVED = [CapacityServiceDef, Health, ...REFLECTION_SERVICES];
const PUBLIC = new Set([Health, ...REFLECTION_SERVICES].map((s) => s.typeName));

export async function startServer(options: ServerOptions): Promise<Listener> {
  const reflection = new ReflectionIndex(SERVED);
  const rpc = rpcHandler({
    routes: (router: ConnectRouter) => {
      routes(options.services, { maxDeadlineMs: options.maxDeadlineMs })(router);
      healthRoutes(options.health)(router);
      reflectionRoutes(reflection)(router);
    },
    interceptors: [observeInterceptor(options.observer), authInterceptor(options.verifier, PUBLIC)],
    readMaxBytes: options.readMaxBytes,
    writeMaxBytes: options.maxResponseBytes,
    contextValues: (req) =>
      createContextValues().set(callInfoKey, {
        correlationId: correlationId(req.headers["x-request-id"]),
        peer: `${req.socket.remoteAddress ?? ""}:${req.socket.remotePort ?? ""}`,
      }),
    fallback: (_req, res) => {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found\n");
    },
  });
  const handler = createHttpHandler({ rpc, health: options.health, corsOrigins: options.corsOrigins, uiDir: options.uiDir });
  return listen({ host: options.host, port: options.port, handler, tls: options.tls, ...options.limits });
}
