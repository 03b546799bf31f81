/** The token buckets and the limiter's rules, on a clock the test moves. */
import { describe, expect, it } from "vitest";
import type { RateLimitConfig } from "../../src/config.js";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";
import { RateLimitedError } from "../../src/domain/errors.js";
import { Metrics } from "../../src/server/metrics.js";
import { isWrite, RateLimiter, TokenBuckets } from "../../src/server/rate-limit.js";

const SERVICE = "work.v1.CapacityService";
const off: RateLimitConfig = { tenantCallsPerS: 0, tenantWritesPerS: 0, appCallsPerS: 0, appWritesPerS: 0, burstMs: 1000, maxKeys: 1000 };
const caller = (tenantId: string, appId?: string) => ({ tenantId, personId: "per_01M8FMTT425T0SWT9WYGC66PKF", appId });

/** A limiter on a fake clock, and a function that says how a call ended. */
function limiter(config: Partial<RateLimitConfig>, metrics?: Metrics) {
  const clock = { now: 0 };
  const l = new RateLimiter({ ...off, ...config }, metrics, () => clock.now);
  const call = (c: ReturnType<typeof caller>, method = "GetCapacity"): string => {
    try {
      l.admit(
        c,
        CapacityService.methods.find((m) => m.name === method)!,
      );
      return "ok";
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      return `${err.scope} ${err.retryAfterMs}`;
    }
  };
  return { clock, call };
}

describe("TokenBuckets", () => {
  it("allows a burst of rate × burst, then one call per 1/rate, refilled on use", () => {
    const b = new TokenBuckets(10, 500, 100); // 5 tokens, one every 100 ms
    for (let i = 0; i < 5; i++) {
      expect(b.wait("k", 0)).toBe(0);
      b.take("k");
    }
    expect(b.wait("k", 0)).toBe(100);
    expect(b.wait("k", 60)).toBeCloseTo(40);
    expect(b.wait("k", 100)).toBe(0);
    b.take("k");
    // A long idle time refills only up to the burst.
    expect(b.wait("k", 60_000)).toBe(0);
    for (let i = 0; i < 5; i++) b.take("k");
    expect(b.wait("k", 60_000)).toBeCloseTo(100);
  });

  it("holds at most maxKeys buckets, forgetting the least recently used (which comes back full)", () => {
    const b = new TokenBuckets(1, 1000, 3);
    for (const k of ["a", "b", "c"]) {
      b.wait(k, 0);
      b.take(k);
    }
    expect(b.wait("a", 0)).toBe(1000); // touches a: b is now the least recently used
    for (let i = 0; i < 1000; i++) b.wait(`attacker-${i}`, 0);
    expect(b.size).toBe(3);
    expect(b.wait("b", 0)).toBe(0);
  });

  it("holds at least one call whatever the burst", () => {
    const b = new TokenBuckets(1, 1, 10);
    expect(b.wait("k", 0)).toBe(0);
    b.take("k");
    expect(b.wait("k", 0)).toBe(1000);
  });
});

describe("RateLimiter", () => {
  it("treats exactly the RPCs without NO_SIDE_EFFECTS in the proto as writes", () => {
    expect(CapacityService.methods.filter(isWrite).map((m) => m.name)).toEqual(["SetCapacity", "DeleteCapacity", "UndeleteCapacity", "ConfirmCapacity"]);
  });

  it("refuses a tenant past its call rate with the time to wait, and charges nothing for the refusal", () => {
    const { clock, call } = limiter({ tenantCallsPerS: 2, burstMs: 1000 });
    expect([call(caller("t")), call(caller("t")), call(caller("t"))]).toEqual(["ok", "ok", "tenant_calls 500"]);
    clock.now = 250;
    expect(call(caller("t"))).toBe("tenant_calls 250");
    clock.now = 500; // exactly one token back, not spent by the two refusals
    expect([call(caller("t")), call(caller("t"))]).toEqual(["ok", "tenant_calls 500"]);
  });

  it("keeps tenants apart", () => {
    const { call } = limiter({ tenantCallsPerS: 1, burstMs: 1000 });
    expect([call(caller("a")), call(caller("a")), call(caller("b"))]).toEqual(["ok", "tenant_calls 1000", "ok"]);
  });

  it("counts writes in their own bucket and in the calls bucket; reads pass when writes are spent", () => {
    const { call } = limiter({ tenantCallsPerS: 5, tenantWritesPerS: 2, burstMs: 1000 });
    const t = caller("t");
    expect(["SetCapacity", "DeleteCapacity", "UndeleteCapacity", "ConfirmCapacity"].map((m) => call(t, m))).toEqual([
      "ok",
      "ok",
      "tenant_writes 500",
      "tenant_writes 500",
    ]);
    expect([call(t, "ListCapacities"), call(t, "GetPersonAvailability"), call(t, "GetCapacity")]).toEqual(["ok", "ok", "ok"]);
    // 5 calls admitted (2 writes, 3 reads): the calls bucket is spent, for writes too.
    expect(call(t, "GetCapacity")).toBe("tenant_calls 200");
  });

  it("limits each app of a tenant on its own, tokens without app_id counting as one more app", () => {
    const { call } = limiter({ tenantWritesPerS: 10, appWritesPerS: 1, burstMs: 1000 });
    expect([call(caller("t", "crm"), "SetCapacity"), call(caller("t", "crm"), "SetCapacity")]).toEqual(["ok", "app_writes 1000"]);
    expect([call(caller("t", "erp"), "SetCapacity"), call(caller("t"), "SetCapacity"), call(caller("u", "crm"), "SetCapacity")]).toEqual(["ok", "ok", "ok"]);
    expect(call(caller("t"), "SetCapacity")).toBe("app_writes 1000");
  });

  it("names the limit with the longest wait when several refuse", () => {
    const { call } = limiter({ tenantCallsPerS: 4, appCallsPerS: 1, burstMs: 1000 });
    expect(call(caller("t", "crm"))).toBe("ok");
    expect(call(caller("t", "crm"))).toBe("app_calls 1000");
  });

  it("lets everything through when every limit is 0", () => {
    const { call } = limiter({});
    expect(Array.from({ length: 10_000 }, () => call(caller("t"), "SetCapacity")).every((r) => r === "ok")).toBe(true);
  });

  it("counts refusals by service, method and scope", async () => {
    const metrics = new Metrics();
    const { call } = limiter({ tenantWritesPerS: 1, burstMs: 1000 }, metrics);
    for (let i = 0; i < 4; i++) call(caller("t"), "SetCapacity");
    const values = (await metrics.rateLimited.get()).values;
    expect(values).toEqual([{ labels: { grpc_service: SERVICE, grpc_method: "SetCapacity", scope: "tenant_writes" }, value: 3 }]);
  });
});
