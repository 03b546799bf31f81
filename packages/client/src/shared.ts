/**
 * What both entry points export: the resource client over a transport, the
 * error decoder, the auth interceptors, and the generated types of the API
 * and of its error details.
 */
export { Code, ConnectError } from "@connectrpc/connect";
export type { Interceptor, Transport } from "@connectrpc/connect";
export * from "./auth.js";
export * from "./errors.js";
export * from "./resources.js";
export * from "./gen/work/v1/capacity_pb.js";
export * from "./gen/google/rpc/error_details_pb.js";
