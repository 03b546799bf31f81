/**
 * The ways a user of @capacity/client reaches the service, each built through
 * the package's public entry points: the Node entry (connect-node: gRPC,
 * Connect over HTTP/1.1 and HTTP/2, gRPC-Web) and the fetch entry that
 * browsers get (connect-web: Connect and gRPC-Web), here over Node's fetch.
 */
import { createCapacityClient, type CapacityClient, type TokenSource } from "@capacity/client";
import { createCapacityClient as createFetchClient } from "@capacity/client/web";

/** A client under test, closable whatever its entry point. */
export type TestedClient = CapacityClient & { close(): void };

/** One way to reach the service. */
export interface Protocol {
  name: string;
  connect(baseUrl: string, auth: TokenSource): TestedClient;
}

export const PROTOCOLS: Protocol[] = [
  { name: "gRPC (Node)", connect: (baseUrl, auth) => createCapacityClient({ baseUrl, ...auth, protocol: "grpc" }) },
  {
    name: "Connect JSON over HTTP/1.1 (Node)",
    connect: (baseUrl, auth) => createCapacityClient({ baseUrl, ...auth, protocol: "connect", httpVersion: "1.1" }),
  },
  {
    name: "Connect binary over HTTP/2 (Node)",
    connect: (baseUrl, auth) => createCapacityClient({ baseUrl, ...auth, protocol: "connect", httpVersion: "2", binary: true }),
  },
  { name: "gRPC-Web over HTTP/1.1 (Node)", connect: (baseUrl, auth) => createCapacityClient({ baseUrl, ...auth, protocol: "grpc-web" }) },
  {
    name: "Connect JSON over fetch (web entry)",
    connect: (baseUrl, auth) => ({ ...createFetchClient({ baseUrl, ...auth, protocol: "connect" }), close() {} }),
  },
  { name: "gRPC-Web over fetch (web entry)", connect: (baseUrl, auth) => ({ ...createFetchClient({ baseUrl, ...auth, protocol: "grpc-web" }), close() {} }) },
];
