/**
 * The one place where errors become statuses. Domain errors keep their
 * message; anything else (a driver error, a bug) becomes INTERNAL with only a
 * correlation id, so SQL and driver text never reach a caller.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  AlreadyExistsError,
  DeadlineExceededError,
  EtagMismatchError,
  FailedPreconditionError,
  InvalidArgumentError,
  LimitExceededError,
  NotFoundError,
  OverallocatedError,
  RateLimitedError,
  UnauthenticatedError,
} from "../domain/errors.js";
import { BadRequestSchema, ErrorInfoSchema, PreconditionFailureSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { StoreUnavailableError } from "../store/store.js";

/** `google.rpc.ErrorInfo.domain` of this service's machine-readable reasons. */
export const ERROR_DOMAIN = "capacity.work.v1";

/** How an error ends a call, and whether the server must log it as its own fault. */
export interface MappedError {
  error: ConnectError;
  /** True when the cause is a server fault (INTERNAL): log it with the correlation id. */
  internal: boolean;
}

/** The status, message and details a caller gets for `err`; anything unknown is INTERNAL with only the correlation id. */
export function toConnectError(err: unknown, correlationId: string): MappedError {
  if (err instanceof ConnectError) return { error: err, internal: err.code === Code.Internal || err.code === Code.Unknown };
  type Details = ConstructorParameters<typeof ConnectError>[3];
  const known = (code: Code, e: Error, details?: Details): MappedError => ({
    error: new ConnectError(e.message, code, undefined, details, e),
    internal: false,
  });
  if (err instanceof InvalidArgumentError) {
    const detail = create(BadRequestSchema, {
      fieldViolations: err.violations.map((v) => ({ field: v.field, description: v.description })),
    });
    return known(Code.InvalidArgument, err, [{ desc: BadRequestSchema, value: detail }]);
  }
  if (err instanceof OverallocatedError) {
    const info = create(ErrorInfoSchema, {
      reason: "OVERALLOCATED",
      domain: ERROR_DOMAIN,
      metadata: {
        person_id: err.personId,
        period_start: err.periodStart,
        period_end: err.periodEnd,
        allocated_pct: String(err.allocatedBp / 100),
      },
    });
    const precondition = create(PreconditionFailureSchema, {
      violations: [{ type: "OVERALLOCATED", subject: `persons/${err.personId}`, description: err.message }],
    });
    return known(Code.FailedPrecondition, err, [
      { desc: ErrorInfoSchema, value: info },
      { desc: PreconditionFailureSchema, value: precondition },
    ]);
  }
  if (err instanceof RateLimitedError) {
    // RetryInfo is what gRPC clients and proxies read; ErrorInfo names the limit for people and dashboards.
    const retry = create(RetryInfoSchema, {
      retryDelay: { seconds: BigInt(Math.floor(err.retryAfterMs / 1000)), nanos: (err.retryAfterMs % 1000) * 1_000_000 },
    });
    const info = create(ErrorInfoSchema, {
      reason: "RATE_LIMITED",
      domain: ERROR_DOMAIN,
      metadata: { scope: err.scope, retry_after_ms: String(err.retryAfterMs) },
    });
    return known(Code.ResourceExhausted, err, [
      { desc: RetryInfoSchema, value: retry },
      { desc: ErrorInfoSchema, value: info },
    ]);
  }
  if (err instanceof LimitExceededError) {
    const info = create(ErrorInfoSchema, {
      reason: err.reason,
      domain: ERROR_DOMAIN,
      metadata: { limit: err.limit, max: String(err.max) },
    });
    return {
      error: new ConnectError(err.message, Code.ResourceExhausted, undefined, [{ desc: ErrorInfoSchema, value: info }], err),
      internal: false,
    };
  }
  if (err instanceof NotFoundError) return known(Code.NotFound, err);
  if (err instanceof EtagMismatchError) return known(Code.Aborted, err);
  if (err instanceof FailedPreconditionError) return known(Code.FailedPrecondition, err);
  if (err instanceof AlreadyExistsError) return known(Code.AlreadyExists, err);
  if (err instanceof UnauthenticatedError) return known(Code.Unauthenticated, err);
  if (err instanceof DeadlineExceededError) return known(Code.DeadlineExceeded, err);
  if (err instanceof StoreUnavailableError) {
    return {
      error: new ConnectError(`database unavailable; retry later (correlation id ${correlationId})`, Code.Unavailable, undefined, undefined, err),
      internal: true,
    };
  }
  return {
    error: new ConnectError(`internal error (correlation id ${correlationId})`, Code.Internal, undefined, undefined, err),
    internal: true,
  };
}
