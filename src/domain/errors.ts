/**
 * The few typed errors the domain throws. They carry no transport codes: one
 * mapping (src/server/errors.ts) turns them into gRPC/Connect statuses.
 */

/** One broken rule of one request field, e.g. `capacity.allocated_pct`. */
export interface FieldViolation {
  /** Path of the field in the request, in proto (snake_case) names. */
  field: string;
  /** Human-readable rule that the value breaks. */
  description: string;
}

/** The request is malformed: INVALID_ARGUMENT with a detail per field. */
export class InvalidArgumentError extends Error {
  override name = "InvalidArgumentError";
  constructor(readonly violations: FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join("; "));
  }
}

/** The record does not exist for this caller (or belongs to another tenant or app). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** The caller's etag no longer matches: ABORTED, re-read and retry. */
export class EtagMismatchError extends Error {
  override name = "EtagMismatchError";
}

/** The record is in a state that forbids the operation (e.g. deleted). */
export class FailedPreconditionError extends Error {
  override name = "FailedPreconditionError";
}

/** The target state already holds (e.g. undelete of a live record). */
export class AlreadyExistsError extends Error {
  override name = "AlreadyExistsError";
}

/** The call's deadline passed before its work was done; nothing was written. */
export class DeadlineExceededError extends Error {
  override name = "DeadlineExceededError";
}

/**
 * The call would need more than a fixed budget allows (allocations read,
 * bytes answered): RESOURCE_EXHAUSTED. `limit` names the setting that sets
 * the budget and `max` its value, so a caller can tell which one it hit.
 */
export class LimitExceededError extends Error {
  override name = "LimitExceededError";
  constructor(
    message: string,
    /** Machine-readable reason, e.g. AVAILABILITY_TOO_LARGE. */
    readonly reason: string,
    /** The setting behind the budget, e.g. CAPACITY_AVAILABILITY_MAX_ALLOCATIONS. */
    readonly limit: string,
    readonly max: number,
  ) {
    super(message);
  }
}

/** The caller's token is missing or cannot be trusted. */
export class UnauthenticatedError extends Error {
  override name = "UnauthenticatedError";
}

/** Which rate limit refused a call: every call or only writes, of a tenant or of one of its apps. */
export type RateLimitScope = "tenant_calls" | "tenant_writes" | "app_calls" | "app_writes";

/** The caller went over a rate limit: RESOURCE_EXHAUSTED, with when to retry. Nothing was done. */
export class RateLimitedError extends Error {
  override name = "RateLimitedError";
  constructor(
    readonly scope: RateLimitScope,
    /** How long until the limit admits a call again, in milliseconds. */
    readonly retryAfterMs: number,
    message: string,
  ) {
    super(message);
  }
}

/** Collects violations and throws them together, so a caller sees every problem at once. */
export class Violations {
  private readonly list: FieldViolation[] = [];
  private dropped = 0;

  /** Records that `field` breaks the rule `description`; past MAX_VIOLATIONS only counts it, so an error stays small. */
  add(field: string, description: string): void {
    if (this.list.length < MAX_VIOLATIONS) this.list.push({ field, description });
    else this.dropped++;
  }

  /** True while nothing has been recorded. */
  get empty(): boolean {
    return this.list.length === 0;
  }

  /** Throws InvalidArgumentError with every violation, in the order recorded, if there is any. */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const more = this.dropped > 0 ? [{ field: "request", description: `${this.dropped} more violations not listed` }] : [];
    throw new InvalidArgumentError([...this.list, ...more]);
  }
}

/** The most violations one error lists (a request can break a rule once per list element). */
export const MAX_VIOLATIONS = 100;

/** A write under OVERALLOCATION_POLICY_REJECT would take a person above 100%: the first such run. */
export class OverallocatedError extends FailedPreconditionError {
  override name = "OverallocatedError";
  constructor(
    readonly personId: string,
    readonly periodStart: string,
    readonly periodEnd: string,
    readonly allocatedBp: number,
  ) {
    super(
      `person ${personId} would be allocated ${allocatedBp / 100}% from ${periodStart} to ${periodEnd}; ` +
        "OVERALLOCATION_POLICY_REJECT forbids going above 100%",
    );
  }
}
