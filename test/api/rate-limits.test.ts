/**
 * Rate limits over real listeners: connect-node (Connect and gRPC on the main
 * port) and the grpc-js engine (CAPACITY_GRPC_PORT) refuse the same way,
 * RESOURCE_EXHAUSTED with google.rpc.RetryInfo, and a refused write writes
 * nothing. Rates are 1-3 per second with a 20 s burst, so refill during a
 * test is small next to the bucket; loops stop at the first refusal.
 */
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { countCapacities, createRequest as create } from "../helpers/capacities.js";
import { ok, type ClientKind, type Outcome, type TestClient } from "../helpers/clients.js";
import { tenant } from "../helpers/ids.js";
import { useTestServer, type TestServer } from "../helpers/server.js";

type Failure = Extract<Outcome<unknown>, { ok: false }>;

/** Calls until the first refusal (at most `max` calls): how many passed, and the refusal. */
async function untilRefused<T>(max: number, call: (i: number) => Promise<Outcome<T>>): Promise<{ passed: number; refusal: Failure }> {
  for (let i = 0; i < max; i++) {
    const out = await call(i);
    if (!out.ok) return { passed: i, refusal: out };
  }
  throw new Error(`no refusal in ${max} calls`);
}

/** The rate-limit counter on the admin port, for one method and scope. */
async function refusalsCounted(server: TestServer, method: string, scope: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.app.adminPort}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("grpc_server_rate_limited_total{") && l.includes(`grpc_method="${method}"`) && l.includes(`scope="${scope}"`));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

function expectRateLimited(f: Failure, scope: string, maxDelayMs: number): void {
  expect(f.code).toBe(Code.ResourceExhausted);
  expect(f.message).toMatch(/rate limit exceeded/);
  expect(f.retryDelayMs).toBeGreaterThan(0);
  expect(f.retryDelayMs).toBeLessThanOrEqual(maxDelayMs);
  expect(f.errorInfo).toEqual([{ reason: "RATE_LIMITED", domain: "capacity.work.v1", metadata: { scope, retry_after_ms: String(f.retryDelayMs) } }]);
}

describe("tenant limits", () => {
  const suite = useTestServer("sqlite", {
    env: {
      CAPACITY_GRPC_PORT: "0",
      CAPACITY_RATE_TENANT_CALLS_PER_S: "3", // 60 calls in a burst
      CAPACITY_RATE_TENANT_WRITES_PER_S: "1", // 20 writes in a burst
      CAPACITY_RATE_APP_CALLS_PER_S: "0",
      CAPACITY_RATE_APP_WRITES_PER_S: "0",
      CAPACITY_RATE_BURST_MS: "20000",
    },
  });
  let server: TestServer;
  beforeAll(() => {
    server = suite.server;
  });

  const kinds: Array<[string, ClientKind, "main" | "grpc-engine"]> = [
    ["Connect on connect-node", "connect-json-http1", "main"],
    ["gRPC on connect-node", "grpc-connect-node", "main"],
    ["gRPC on the grpc-js engine", "grpc-js", "grpc-engine"],
  ];

  it.each(kinds)(
    "%s: writes past the limit are RESOURCE_EXHAUSTED with RetryInfo, write nothing, count, and leave reads and other tenants alone",
    async (_name, kind, port) => {
      const client: TestClient = suite.client(kind, port);
      const t = tenant();
      const token = await server.token(t);
      const countedBefore = await refusalsCounted(server, "SetCapacity", "tenant_writes");
      let last = create();
      const { passed, refusal } = await untilRefused(60, () => client.call("setCapacity", (last = create()), token));
      expect(passed).toBeGreaterThanOrEqual(20);
      expectRateLimited(refusal, "tenant_writes", 1000);
      // What was refused wrote nothing: exactly the acknowledged writes are stored, not the refused one.
      expect(await countCapacities(server.db.knex, t)).toBe(passed);
      expect(await server.db.knex("capacities").where({ tenant_id: t, person_id: last.capacity.personId })).toEqual([]);
      // Reads of the same tenant still pass.
      let record = ok(await client.call("listCapacities", { pageSize: 1 }, token)).capacities[0]!;
      // Deletes and undeletes are writes too (the bucket refills 1/s, so toggling meets a refusal at once
      // or within a few calls), and the refused one changes nothing.
      const toggled = await untilRefused(30, async () => {
        const out = record.isDeleted
          ? await client.call("undeleteCapacity", { id: record.id, etag: record.etag }, token)
          : await client.call("deleteCapacity", { id: record.id, etag: record.etag }, token);
        if (out.ok) record = out.value;
        return out;
      });
      expectRateLimited(toggled.refusal, "tenant_writes", 1000);
      const after = ok(await client.call("getCapacity", { id: record.id }, token));
      expect([after.etag, after.isDeleted]).toEqual([record.etag, record.isDeleted]);
      // Another tenant still writes.
      ok(await client.call("setCapacity", create(), await server.token(tenant())));
      expect(await refusalsCounted(server, "SetCapacity", "tenant_writes")).toBe(countedBefore + 1);
      const toggles = (await refusalsCounted(server, "DeleteCapacity", "tenant_writes")) + (await refusalsCounted(server, "UndeleteCapacity", "tenant_writes"));
      expect(toggles).toBeGreaterThanOrEqual(1);
    },
  );

  it("refuses reads past the tenant's call limit, on every engine alike", async () => {
    const t = tenant();
    const token = await server.token(t);
    const connect = suite.client("connect-binary-http2");
    const engine = suite.client("grpc-js", "grpc-engine");
    const { passed, refusal } = await untilRefused(120, () => connect.call("listCapacities", { pageSize: 1 }, token));
    expect(passed).toBeGreaterThanOrEqual(60);
    expectRateLimited(refusal, "tenant_calls", 1000 / 3 + 1);
    // The grpc-js engine charges the same bucket: it refuses within the few calls refilled meanwhile, not after 60.
    const onEngine = await untilRefused(60, () => engine.call("listCapacities", { pageSize: 1 }, token));
    expect(onEngine.passed).toBeLessThan(20);
    expectRateLimited(onEngine.refusal, "tenant_calls", 1000 / 3 + 1);
    // The HTTP/JSON API charges the same bucket: refused within the few calls refilled meanwhile, with 429,
    // Retry-After (whole seconds) and the same details.
    let rest = await fetch(`${server.baseUrl}/api/v1/work/capacity?page_size=1`, { headers: { authorization: `Bearer ${token}` } });
    for (let passed = 0; rest.status === 200 && passed < 20; passed++) {
      await rest.arrayBuffer();
      rest = await fetch(`${server.baseUrl}/api/v1/work/capacity?page_size=1`, { headers: { authorization: `Bearer ${token}` } });
    }
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const status = (await rest.json()) as { code: number; details: Array<Record<string, unknown>> };
    expect(status.code).toBe(Code.ResourceExhausted);
    expect(status.details.map((d) => d["@type"])).toEqual(["type.googleapis.com/google.rpc.RetryInfo", "type.googleapis.com/google.rpc.ErrorInfo"]);
    expect(status.details[1]).toMatchObject({ reason: "RATE_LIMITED", metadata: { scope: "tenant_calls" } });
    ok(await connect.call("listCapacities", {}, await server.token(tenant())));
    expect(await refusalsCounted(server, "ListCapacities", "tenant_calls")).toBeGreaterThanOrEqual(1);
  });
});

describe("app limits", () => {
  const suite = useTestServer("sqlite", {
    env: {
      CAPACITY_RATE_TENANT_WRITES_PER_S: "3", // 60 writes in a burst
      CAPACITY_RATE_APP_WRITES_PER_S: "1", // 20 writes in a burst
      CAPACITY_RATE_BURST_MS: "20000",
    },
  });
  let server: TestServer;
  let client: TestClient;
  beforeAll(() => {
    server = suite.server;
    client = suite.client("grpc-connect-node");
  });

  it("limits one app of a tenant without holding back the tenant's other apps", async () => {
    const t = tenant();
    const crm = await server.token(t, { appId: "crm" });
    const { passed, refusal } = await untilRefused(60, () => client.call("setCapacity", create(), crm));
    expect(passed).toBeGreaterThanOrEqual(20);
    expectRateLimited(refusal, "app_writes", 1000);
    ok(await client.call("setCapacity", create(), await server.token(t, { appId: "erp" })));
    ok(await client.call("setCapacity", create(), await server.token(t)));
    const stored: Array<{ app_id: string }> = await server.db.knex("capacities").where("tenant_id", t).select("app_id");
    expect(stored.filter((r) => r.app_id === "crm")).toHaveLength(passed);
    expect(stored).toHaveLength(passed + 2);
    expect(await refusalsCounted(server, "SetCapacity", "app_writes")).toBe(1);
  });
});
