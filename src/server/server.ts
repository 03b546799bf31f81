/**
 * Assembles a running server from its parts: the Connect adapter (Connect,
 * gRPC and gRPC-Web) with the capacity, health and reflection services, the
 * interceptors, the HTTP/JSON API transcoded from the same methods, the HTTP
 * extras (CORS, probes, UI) and the one-port listener.
 */
import { createContextValues, type ConnectRouter } from "@connectrpc/connect";
import { Health } from "../gen/health/v1/health_pb.js";
import { callInfoKey, correlationId } from "./context.js";
import { healthRoutes, type WatchLimits } from "./health.js";
import { createHttpHandler } from "./http.js";
import { authInterceptor, observeInterceptor } from "./interceptors.js";
import { listen, type Listener } from "./listener.js";
import { peerOf, type Req } from "./requests.js";
import { REFLECTION_SERVICES, ReflectionIndex, reflectionRoutes } from "./reflection.js";
import { API_SERVICES, routes, type EngineOptions } from "./routes.js";
import { bindingsOf } from "./rest/bindings.js";
import { openApiDocument } from "./rest/openapi-document.js";
import { restHandler } from "./rest/rest-handler.js";
import { rpcHandler } from "./rpc-handler.js";

/** Everything the main port serves, and its limits (from the configuration). */
export interface ServerOptions extends EngineOptions {
  /** Connection hygiene: see ListenerOptions. */
  limits: {
    maxConcurrentStreams: number;
    maxHeaderBytes: number;
    pingIntervalMs: number;
    firstRequestTimeoutMs: number;
    maxConnections: number;
  };
  /** Open Health/Watch streams per process and per connection. */
  watchLimits: WatchLimits;
  corsOrigins: readonly string[];
  uiDir: string | undefined;
  tls: { cert: Buffer; key: Buffer } | undefined;
}

/** Every service on the port; the first is the API, the rest are public metadata. */
export const SERVED = [...API_SERVICES, Health, ...REFLECTION_SERVICES];
const PUBLIC = new Set([Health, ...REFLECTION_SERVICES].map((s) => s.typeName));

/** Starts the main port: every protocol and the HTTP extras on one listener. */
export async function startServer(options: ServerOptions): Promise<Listener> {
  const observer = options.observer;
  const reflection = new ReflectionIndex(SERVED);
  const rpc = rpcHandler({
    routes: (router: ConnectRouter) => {
      routes(options.methods, { maxDeadlineMs: options.maxDeadlineMs })(router);
      healthRoutes(options.health, options.watchLimits, (values) => values.get(callInfoKey).peer)(router);
      reflectionRoutes(reflection)(router);
    },
    interceptors: [observeInterceptor(options.observer), authInterceptor(options.admission, PUBLIC)],
    readMaxBytes: options.readMaxBytes,
    writeMaxBytes: options.maxResponseBytes,
    contextValues: (req) => {
      const info = { correlationId: correlationId(req.headers["x-request-id"]), peer: peerOf(req.socket), observed: false };
      return { values: createContextValues().set(callInfoKey, info), observed: () => info.observed, correlationId: info.correlationId };
    },
    onError: (err, req) => observer.fault(err, { path: pathOf(req), peer: peerOf(req.socket) }),
    onRefused: (reason, req, facts) =>
      observer.refused(reason, { peer: peerOf(req.socket), detail: `${pathOf(req)}: ${facts.code}`, correlationId: facts.correlationId }),
    fallback: (_req, res) => {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found\n");
    },
  });
  const rest = restHandler({
    bindings: bindingsOf(options.methods),
    admission: options.admission,
    observer,
    readMaxBytes: options.readMaxBytes,
    maxResponseBytes: options.maxResponseBytes,
    maxDeadlineMs: options.maxDeadlineMs,
    // Read now: a build without the document stops here, not on the first request for it.
    openApi: openApiDocument(),
  });
  const handler = createHttpHandler({
    rpc,
    rest,
    health: options.health,
    corsOrigins: options.corsOrigins,
    uiDir: options.uiDir,
    onError: (err, req) => observer.fault(err, { path: pathOf(req), peer: peerOf(req.socket) }),
    onRefusal: (reason, req) => observer.refused(reason, { peer: peerOf(req.socket), detail: pathOf(req) }),
  });
  return listen({
    host: options.host,
    port: options.port,
    handler,
    tls: options.tls,
    ...options.limits,
    maxDeadlineMs: options.maxDeadlineMs,
    onRefusal: (reason, facts) => observer.refused(reason, facts),
    onHandlerError: (err, req) => observer.fault(err, { path: pathOf(req), peer: peerOf(req.socket) }),
  });
}

/** The request's path for a log line: without the query, at most 200 characters. */
function pathOf(req: Req): string {
  return (req.url ?? "").split("?", 1)[0]!.slice(0, 200);
}
