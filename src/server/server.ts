/**
 * Assembles a running server from its parts: the Connect adapter (Connect,
 * gRPC and gRPC-Web), the interceptors and the one-port listener.
 */
import { randomUUID } from "node:crypto";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { TokenVerifier } from "../auth/verifier.js";
import { callInfoKey } from "./context.js";
import { authInterceptor, observeInterceptor } from "./interceptors.js";
import { listen, type Listener } from "./listener.js";
import { routes, type Services } from "./routes.js";

export interface ServerOptions {
  host: string;
  port: number;
  services: Services;
  verifier: TokenVerifier;
  log: Logger;
  readMaxBytes: number;
}

/** A correlation id from the caller's `x-request-id` when it is sane, else a new one. */
function correlationId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^[\x21-\x7e]{1,128}$/.test(value) ? value : randomUUID();
}

export async function startServer(options: ServerOptions): Promise<Listener> {
  const handler = connectNodeAdapter({
    routes: routes(options.services),
    interceptors: [observeInterceptor(options.log), authInterceptor(options.verifier)],
    readMaxBytes: options.readMaxBytes,
    contextValues: (req) =>
      createContextValues().set(callInfoKey, {
        correlationId: correlationId(req.headers["x-request-id"]),
        peer: `${req.socket.remoteAddress ?? ""}:${req.socket.remotePort ?? ""}`,
      }),
  });
  return listen({ host: options.host, port: options.port, handler });
}
