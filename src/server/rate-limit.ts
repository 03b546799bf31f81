/**
 * Per-process rate limits on API calls: token buckets keyed by tenant and by
 * (tenant, app), one set for every call and one for writes. A call is admitted
 * only if every bucket that applies to it holds a token; a refused call takes
 * none. The limits are per process: with N replicas or workers behind a
 * balancer a tenant gets up to N times the configured rate (docs/operations.md).
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { Caller } from "../auth/caller.js";
import type { RateLimitConfig } from "../config.js";
import { RateLimitedError, type RateLimitScope } from "../domain/errors.js";
import type { Metrics } from "./metrics.js";

/**
 * Whether a method writes: every RPC that the proto does not mark
 * `idempotency_level = NO_SIDE_EFFECTS` (today SetCapacity, DeleteCapacity,
 * UndeleteCapacity, ConfirmCapacity), so a new write RPC is limited as one.
 */
export function isWrite(method: DescMethod): boolean {
  return method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, in milliseconds. */
  at: number;
}

/**
 * Token buckets of one rate, kept in a Map in least-recently-used order and
 * bounded to `maxKeys` entries. Refill is computed on use, so idle keys cost
 * nothing but their entry.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly perMs: number;

  constructor(
    perSecond: number,
    burstMs: number,
    private readonly maxKeys: number,
  ) {
    this.perMs = perSecond / 1000;
    // A bucket always holds at least one call, whatever the burst.
    this.capacity = Math.max(1, perSecond * (burstMs / 1000));
  }

  /** The key's bucket, refilled up to `now` and marked most recently used. */
  private bucket(key: string, now: number): Bucket {
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(this.capacity, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    } else {
      b = { tokens: this.capacity, at: now };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    return b;
  }

  /** Milliseconds until the key's bucket holds a token (0: it holds one now). */
  wait(key: string, now: number): number {
    const b = this.bucket(key, now);
    return b.tokens >= 1 ? 0 : (1 - b.tokens) / this.perMs;
  }

  /** Takes a token; call only after `wait` returned 0 at the same `now`. */
  take(key: string): void {
    this.buckets.get(key)!.tokens -= 1;
  }

  /** Buckets held now (at most `maxKeys`). */
  get size(): number {
    return this.buckets.size;
  }
}

interface Limit {
  scope: RateLimitScope;
  perSecond: number;
  buckets: TokenBuckets;
  key: (caller: Caller) => string;
  writesOnly: boolean;
}

const tenantKey = (c: Caller): string => c.tenantId;
// tenant ids and app ids never contain a NUL (domain/ids isScopeId), so the key is unambiguous.
const appKey = (c: Caller): string => `${c.tenantId}\0${c.appId ?? ""}`;

/**
 * The limits of one process. `admit` is synchronous and cheap (a few Map
 * operations), and runs after the token is verified: keys come only from
 * verified tenants and apps, and `maxKeys` bounds them even so.
 */
export class RateLimiter {
  private readonly limits: Limit[];

  constructor(
    config: RateLimitConfig,
    private readonly metrics?: Metrics,
    private readonly clock: () => number = () => performance.now(),
  ) {
    const make = (scope: RateLimitScope, perSecond: number, key: Limit["key"], writesOnly: boolean): Limit[] =>
      perSecond > 0 ? [{ scope, perSecond, key, writesOnly, buckets: new TokenBuckets(perSecond, config.burstMs, config.maxKeys) }] : [];
    this.limits = [
      ...make("tenant_calls", config.tenantCallsPerS, tenantKey, false),
      ...make("app_calls", config.appCallsPerS, appKey, false),
      ...make("tenant_writes", config.tenantWritesPerS, tenantKey, true),
      ...make("app_writes", config.appWritesPerS, appKey, true),
    ];
  }

  /**
   * Charges one call of `method` to the caller's buckets, or throws
   * RateLimitedError naming the limit that refused and when to retry; a
   * refused call is charged nothing.
   */
  admit(caller: Caller, method: DescMethod): void {
    if (this.limits.length === 0) return;
    const now = this.clock();
    const write = isWrite(method);
    let refusal: { limit: Limit; waitMs: number } | undefined;
    for (const limit of this.limits) {
      if (limit.writesOnly && !write) continue;
      const waitMs = limit.buckets.wait(limit.key(caller), now);
      if (waitMs > 0 && (!refusal || waitMs > refusal.waitMs)) refusal = { limit, waitMs };
    }
    if (refusal) {
      const { scope, perSecond } = refusal.limit;
      this.metrics?.rateLimited.inc({ grpc_service: method.parent.typeName, grpc_method: method.name, scope });
      const retryAfterMs = Math.max(1, Math.ceil(refusal.waitMs));
      throw new RateLimitedError(scope, retryAfterMs, `rate limit exceeded: ${describe(scope)} (${perSecond}/s per process); retry in ${retryAfterMs} ms`);
    }
    for (const limit of this.limits) if (!limit.writesOnly || write) limit.buckets.take(limit.key(caller));
  }
}

function describe(scope: RateLimitScope): string {
  switch (scope) {
    case "tenant_calls":
      return "calls of this tenant";
    case "tenant_writes":
      return "writes of this tenant";
    case "app_calls":
      return "calls of this app";
    case "app_writes":
      return "writes of this app";
  }
}
