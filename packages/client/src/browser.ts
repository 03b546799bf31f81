/**
 * The browser entry point: Connect and gRPC-Web over `fetch`, through
 * @connectrpc/connect-web (gRPC proper needs HTTP/2 trailers, which browsers
 * do not expose). Also usable wherever `fetch` is (Deno, workers, Node) as
 * `@capacity/client/web`.
 */
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { clientInterceptors, type CommonClientOptions } from "./auth.js";
import { createCapacityClientFromTransport, type CapacityClient } from "./resources.js";

export * from "./shared.js";

/** Options of the browser client. */
export interface CapacityClientOptions extends CommonClientOptions {
  /** The wire protocol: Connect or gRPC-Web. */
  protocol: "connect" | "grpc-web";
  /** The `fetch` to call; the global one by default. */
  fetch?: typeof globalThis.fetch;
}

/**
 * A client of the Capacity service over `fetch`.
 *
 * @example
 * const client = createCapacityClient({ baseUrl: location.origin, protocol: "grpc-web", getToken: () => session.token() });
 * for await (const c of client.work.capacity.listAll({ personId })) show(c);
 */
export function createCapacityClient(options: CapacityClientOptions): CapacityClient {
  const transportOptions = {
    baseUrl: options.baseUrl,
    interceptors: clientInterceptors(options),
    ...(options.binary !== undefined && { useBinaryFormat: options.binary }),
    ...(options.timeoutMs !== undefined && { defaultTimeoutMs: options.timeoutMs }),
    ...(options.fetch !== undefined && { fetch: options.fetch }),
  };
  const transport = options.protocol === "connect" ? createConnectTransport(transportOptions) : createGrpcWebTransport(transportOptions);
  return createCapacityClientFromTransport(transport);
}
