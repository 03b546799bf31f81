/**
 * Errors on the HTTP/JSON API as grpc-gateway writes them: an HTTP status
 * from the gRPC code and a `google.rpc.Status` JSON body whose details are
 * `Any`s in their JSON form (`{"@type": "type.googleapis.com/…", …}`), so
 * REST tooling that knows Google-style APIs reads them unchanged.
 */
import { create, toJson, type JsonObject } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { EtagMismatchError, LimitExceededError } from "../../domain/errors.js";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** HTTP status per gRPC code (grpc-gateway's runtime.HTTPStatusFromCode). */
const HTTP_STATUS: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** Why a request body was refused for its size: answered 413, not 429 (retrying cannot help). */
export const REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE";

/** An error as the HTTP/JSON API answers it: status, headers and the google.rpc.Status body. */
export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: JsonObject;
}

/** The HTTP answer for a call that ended with `error` (already mapped by errors.ts). */
export function httpError(error: ConnectError): HttpError {
  let status = HTTP_STATUS[error.code] ?? 500;
  const headers: Record<string, string> = {};
  // An etag that no longer matches is a failed precondition of the request: 412, whether it came as If-Match or in the body.
  if (error.code === Code.Aborted && error.cause instanceof EtagMismatchError) status = 412;
  if (error.cause instanceof LimitExceededError && error.cause.reason === REQUEST_TOO_LARGE) status = 413;
  if (error.code === Code.Unauthenticated) headers["www-authenticate"] = 'Bearer realm="capacity"';
  const retry = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
  if (retry) headers["retry-after"] = String(Math.max(1, Math.ceil(Number(retry.seconds) + retry.nanos / 1e9)));
  const details = error.details.map((d): JsonObject => {
    if ("desc" in d) return { "@type": `type.googleapis.com/${d.desc.typeName}`, ...(toJson(d.desc, create(d.desc, d.value)) as JsonObject) };
    return { "@type": `type.googleapis.com/${d.type}`, value: Buffer.from(d.value).toString("base64") };
  });
  return { status, headers, body: { code: error.code, message: error.rawMessage, details } };
}

/** A status answered outside any call (no such path, a wrong method): the same body shape. */
export function plainStatus(code: Code, message: string): JsonObject {
  return { code, message, details: [] };
}
