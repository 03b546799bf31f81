/**
 * A failed call, read the way the service describes its failures: the status
 * code, the message, the request id the server logged it under, and the
 * google.rpc details the service attaches (BadRequest on INVALID_ARGUMENT,
 * ErrorInfo and PreconditionFailure on FAILED_PRECONDITION, RetryInfo and
 * ErrorInfo on RESOURCE_EXHAUSTED).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
  type BadRequest_FieldViolation,
  type ErrorInfo,
  type PreconditionFailure_Violation,
} from "./gen/google/rpc/error_details_pb.js";

/** gRPC's names of the status codes, as the service's documentation spells them. */
const CODE_NAMES: Record<Code, string> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

/** A failed call, decoded. Each detail is present only when the status carried it. */
export interface DecodedError {
  /** The status code (compare with `Code.NotFound` and so on). */
  code: Code;
  /** The code's gRPC name, such as `INVALID_ARGUMENT`. */
  codeName: string;
  /** The server's message, without the `[code]` prefix ConnectError adds. */
  message: string;
  /** The server's correlation id for the call (`x-request-id`), also in its log; quote it when reporting a fault. */
  requestId: string | undefined;
  /** google.rpc.BadRequest: each offending field and its rule. */
  badRequest?: BadRequest_FieldViolation[];
  /** google.rpc.ErrorInfo: machine-readable reasons (`OVERALLOCATED`, `RATE_LIMITED`, …) with their metadata. */
  errorInfo?: ErrorInfo[];
  /** google.rpc.RetryInfo: how long to wait before retrying, in milliseconds. */
  retryDelayMs?: number;
  /** google.rpc.PreconditionFailure: what the write would have broken. */
  preconditionFailure?: PreconditionFailure_Violation[];
  /** The error as connect-es sees it. */
  cause: ConnectError;
}

/**
 * Reads a rejected call's error. Anything that is not a ConnectError (a
 * TypeError thrown by your own code, say) comes back as `UNKNOWN` with its
 * message.
 */
export function decodeError(err: unknown): DecodedError {
  const e = ConnectError.from(err);
  const decoded: DecodedError = {
    code: e.code,
    codeName: CODE_NAMES[e.code],
    message: e.rawMessage,
    requestId: e.metadata.get("x-request-id") ?? undefined,
    cause: e,
  };
  const violations = e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
  if (violations.length > 0) decoded.badRequest = violations;
  const infos = e.findDetails(ErrorInfoSchema);
  if (infos.length > 0) decoded.errorInfo = infos;
  const delay = e.findDetails(RetryInfoSchema)[0]?.retryDelay;
  if (delay !== undefined) decoded.retryDelayMs = Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
  const preconditions = e.findDetails(PreconditionFailureSchema).flatMap((d) => d.violations);
  if (preconditions.length > 0) decoded.preconditionFailure = preconditions;
  return decoded;
}
