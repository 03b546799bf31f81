/** Two server processes on one database: etags, request_id replays and the over-allocation rule hold across them. */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { createTestClient, ok, type TestClient } from "../helpers/clients.js";
import { MYSQL_URL } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { TEST_SECRET } from "../helpers/server.js";

describe("two replicas, one database", () => {
  const replicas: ServerProcess[] = [];
  const clients: TestClient[] = [];
  let token: string;
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      replicas.push(await spawnServer({ CAPACITY_DATABASE_URL: MYSQL_URL, CAPACITY_JWT_SECRET: TEST_SECRET }));
    }
    clients.push(createTestClient("grpc-js", replicas[0]!.baseUrl), createTestClient("grpc-connect-node", replicas[1]!.baseUrl));
    token = await mintToken(TEST_SECRET, { tenantId: tenant(), sub: person() });
  }, 60_000);
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it("rejects a stale etag written through the other replica", async () => {
    const [a, b] = clients as [TestClient, TestClient];
    const c = ok(
      await a.call(
        "setCapacity",
        { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 10 } },
        token,
      ),
    );
    ok(await b.call("setCapacity", { capacity: { id: c.id, etag: c.etag, notes: "b" }, updateMask: { paths: ["notes"] } }, token));
    const stale = await a.call("setCapacity", { capacity: { id: c.id, etag: c.etag, notes: "a" }, updateMask: { paths: ["notes"] } }, token);
    expect(stale.ok ? "ok" : stale.code).toBe(Code.Aborted);
  });

  it("replays a request_id on the other replica, also when both get it at once", async () => {
    const [a, b] = clients as [TestClient, TestClient];
    const req = {
      capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 10 },
      requestId: randomUUID(),
    };
    const first = ok(await a.call("setCapacity", req, token));
    expect(ok(await b.call("setCapacity", req, token))).toEqual(first);
    const together = { ...req, requestId: randomUUID() };
    const both = await Promise.all([a, b, a, b, a, b].map((c) => c.call("setCapacity", together, token)));
    const values = both.map(ok);
    expect(new Set(values.map((v) => v.id)).size).toBe(1);
  });

  it("keeps REJECT atomic across replicas", async () => {
    const p = person();
    const attempts = Array.from({ length: 24 }, (_, i) =>
      clients[i % 2]!.call(
        "setCapacity",
        {
          capacity: {
            personId: p,
            projectId: project(),
            periodStart: `2027-02-${String(1 + (i % 5)).padStart(2, "0")}`,
            periodEnd: "2027-02-20",
            allocatedPct: 35,
          },
          overallocationPolicy: OverallocationPolicy.REJECT,
        },
        token,
      ),
    );
    const outcomes = await Promise.all(attempts);
    for (const o of outcomes) if (!o.ok) expect(o.code).toBe(Code.FailedPrecondition);
    expect(outcomes.filter((o) => o.ok).length).toBeGreaterThanOrEqual(2);
    const availability = ok(await clients[0]!.call("getPersonAvailability", { personId: p, periodStart: "2027-02-01", periodEnd: "2027-02-28" }, token));
    expect(availability.overallocatedDays).toBe(0);
  });
});
