/**
 * The Node entry point: gRPC (HTTP/2), Connect (HTTP/1.1 or HTTP/2) and
 * gRPC-Web (HTTP/1.1 or HTTP/2) through @connectrpc/connect-node, with the
 * connections owned by the client so that `close()` can let them go.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { clientInterceptors, type CommonClientOptions } from "./auth.js";
import { createCapacityClientFromTransport, type CapacityClient } from "./resources.js";

export * from "./shared.js";

/** Options of the Node client. */
export interface CapacityClientOptions extends CommonClientOptions {
  /** The wire protocol: gRPC, Connect, or gRPC-Web. */
  protocol: "grpc" | "connect" | "grpc-web";
  /**
   * HTTP/1.1 or HTTP/2 (prior knowledge on `http://`, ALPN on `https://`) for
   * Connect and gRPC-Web; default `1.1`. gRPC is always HTTP/2.
   */
  httpVersion?: "1.1" | "2";
}

/** The Node client: the API, plus `close()`. */
export interface NodeCapacityClient extends CapacityClient {
  /** Closes the client's connections; calls made afterwards open new ones. */
  close(): void;
}

/**
 * A client of the Capacity service for Node.
 *
 * @example
 * const client = createCapacityClient({ baseUrl: "http://127.0.0.1:8080", protocol: "grpc", token });
 * const capacity = await client.work.capacity.get("cap_01J…");
 */
export function createCapacityClient(options: CapacityClientOptions): NodeCapacityClient {
  const httpVersion = options.protocol === "grpc" ? "2" : (options.httpVersion ?? "1.1");
  if (options.protocol === "grpc" && options.httpVersion === "1.1") throw new TypeError("gRPC needs HTTP/2: leave httpVersion out or set it to 2");
  const common = {
    baseUrl: options.baseUrl,
    interceptors: clientInterceptors(options),
    ...(options.binary !== undefined && { useBinaryFormat: options.binary }),
    ...(options.timeoutMs !== undefined && { defaultTimeoutMs: options.timeoutMs }),
  };
  let transport: Transport;
  let close: () => void;
  if (httpVersion === "2") {
    const sessionManager = new Http2SessionManager(options.baseUrl);
    const h2 = { ...common, httpVersion, sessionManager } as const;
    transport =
      options.protocol === "grpc" ? createGrpcTransport(h2) : options.protocol === "connect" ? createConnectTransport(h2) : createGrpcWebTransport(h2);
    close = () => sessionManager.abort();
  } else {
    const agent = new URL(options.baseUrl).protocol === "https:" ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const h1 = { ...common, httpVersion, nodeOptions: { agent } } as const;
    transport = options.protocol === "connect" ? createConnectTransport(h1) : createGrpcWebTransport(h1);
    close = () => agent.destroy();
  }
  return { ...createCapacityClientFromTransport(transport), close };
}
