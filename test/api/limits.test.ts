/**
 * Bounded work over a real listener on both databases, with small configured
 * limits: capacity ids only on request, the allocation limit, the response cap
 * (every protocol, both engines), and list pages that stop short of the cap.
 */
import { toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListCapacitiesResponseSchema } from "../../src/gen/work/v1/capacity_pb.js";
import { insertCapacities, type Fixture } from "../helpers/capacities.js";
import { CLIENT_KINDS, createTestClient, ok, type Outcome, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CAP = 64 * 1024;
const MAX_ALLOCATIONS = 120;
const WINDOW = { periodStart: "2027-01-01", periodEnd: "2029-12-31" };

function refusal<T>(o: Outcome<T>) {
  if (o.ok) throw new Error("expected RESOURCE_EXHAUSTED, got an answer");
  return { code: o.code, info: o.errorInfo[0], message: o.message };
}

/** `n` allocations of 1%, starting a day apart, all to the end of 2029: n + 1 segments, ~n²/2 ids. */
function staircase(tenantId: string, personId: string, n: number): Fixture[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId,
    personId,
    periodStart: new Date(Date.UTC(2027, 0, 2 + i)).toISOString().slice(0, 10),
    periodEnd: "2029-12-31",
    allocatedBp: 100,
  }));
}

describe.each(ENGINES)("bounded work on %s", (engine) => {
  let server: TestServer;
  let clients: TestClient[];
  const t = tenant();
  const stairs = person(); // 100 staircase allocations: ~5,000 ids with ids, 101 segments without
  const over = person(); // MAX_ALLOCATIONS + 1 allocations
  const listed = person(); // 40 records with long notes
  let token: string;

  beforeAll(async () => {
    server = await startTestServer(engine, {
      env: { CAPACITY_GRPC_PORT: "0", CAPACITY_MAX_RESPONSE_BYTES: String(CAP), CAPACITY_AVAILABILITY_MAX_ALLOCATIONS: String(MAX_ALLOCATIONS) },
    });
    clients = [
      ...CLIENT_KINDS.map((k) => createTestClient(k, server.baseUrl)),
      { ...createTestClient("grpc-js", `http://127.0.0.1:${server.app.grpcPort}`), kind: "grpc-js engine" },
    ];
    token = await server.token(t);
    await insertCapacities(server.db.knex, [
      ...staircase(t, stairs, 100),
      ...staircase(t, over, MAX_ALLOCATIONS + 1),
      ...Array.from({ length: 40 }, (_, i) => ({
        tenantId: t,
        personId: listed,
        periodStart: `2027-02-${String(1 + (i % 28)).padStart(2, "0")}`,
        periodEnd: "2027-03-31",
        allocatedBp: 100,
        // Quotes and newlines grow in JSON; 3,000 characters each, 40 of them: about twice the cap.
        notes: `note ${i} "quoted"\n`.padEnd(3000, "é"),
      })),
    ]);
  }, 120_000);
  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await server?.close();
  });

  it("lists capacity ids only with include_capacity_ids, single and batch, on every client", async () => {
    for (const client of clients) {
      const plain = ok(await client.call("getPersonAvailability", { personId: stairs, periodStart: "2027-01-01", periodEnd: "2027-01-31" }, token));
      expect(plain.segments).toHaveLength(31);
      expect(plain.segments.flatMap((s) => s.capacityIds)).toEqual([]);
      const withIds = ok(await client.call("getPersonAvailability", { personId: stairs, periodStart: "2027-01-01", periodEnd: "2027-01-31", includeCapacityIds: true }, token));
      expect(withIds.segments.map((s) => s.capacityIds.length)).toEqual(Array.from({ length: 31 }, (_, i) => i));
      expect(withIds.segments.map(({ capacityIds: _, ...rest }) => rest)).toEqual(plain.segments.map(({ capacityIds: _, ...rest }) => rest));
      const batch = { personIds: [stairs, person()], periodStart: "2027-01-01", periodEnd: "2027-01-10" };
      const batchPlain = ok(await client.call("batchGetPersonAvailability", batch, token));
      expect(batchPlain.availabilities.flatMap((a) => a.segments.flatMap((s) => s.capacityIds))).toEqual([]);
      const batchIds = ok(await client.call("batchGetPersonAvailability", { ...batch, includeCapacityIds: true }, token));
      expect(batchIds.availabilities[0]!.segments.at(-1)!.capacityIds).toHaveLength(9);
    }
  });

  it("refuses more allocations than CAPACITY_AVAILABILITY_MAX_ALLOCATIONS with RESOURCE_EXHAUSTED naming the limit", async () => {
    for (const client of clients) {
      const single = refusal(await client.call("getPersonAvailability", { personId: over, ...WINDOW }, token));
      expect(single).toMatchObject({
        code: Code.ResourceExhausted,
        info: { reason: "AVAILABILITY_TOO_LARGE", domain: "capacity.work.v1", metadata: { limit: "CAPACITY_AVAILABILITY_MAX_ALLOCATIONS", max: String(MAX_ALLOCATIONS) } },
      });
      expect(single.message).toContain(`more than ${MAX_ALLOCATIONS} capacities`);
      // 100 + 40 in the batch: each person alone is fine, together they are over.
      const batch = refusal(await client.call("batchGetPersonAvailability", { personIds: [stairs, person(), listed], ...WINDOW }, token));
      expect(batch).toMatchObject({ code: Code.ResourceExhausted, info: { metadata: { limit: "CAPACITY_AVAILABILITY_MAX_ALLOCATIONS" } } });
      // A shorter window considers fewer: the person answers.
      expect(ok(await client.call("getPersonAvailability", { personId: over, periodStart: "2027-01-01", periodEnd: "2027-03-31" }, token)).segments.length).toBe(90); // a new allocation every day
    }
  });

  it("refuses an availability answer over the response cap on every protocol and both engines, and answers without ids", async () => {
    for (const client of clients) {
      const refused = refusal(await client.call("getPersonAvailability", { personId: stairs, ...WINDOW, includeCapacityIds: true }, token));
      expect(refused, client.kind).toMatchObject({
        code: Code.ResourceExhausted,
        info: { reason: "AVAILABILITY_TOO_LARGE", metadata: { limit: "CAPACITY_MAX_RESPONSE_BYTES", max: String(CAP) } },
      });
      expect(refused.message).toMatch(/include_capacity_ids off/);
      const plain = ok(await client.call("getPersonAvailability", { personId: stairs, ...WINDOW }, token));
      expect(plain.segments).toHaveLength(101);
    }
  });

  it("caps every response in the encoding it is sent in: a JSON answer that binary fits is RESOURCE_EXHAUSTED", async () => {
    // 300 people without allocations: about 30 KB in binary, about 75 KB in JSON.
    const req = { personIds: Array.from({ length: 300 }, () => person()), ...WINDOW };
    for (const client of clients) {
      const got = await client.call("batchGetPersonAvailability", req, token);
      if (client.kind === "connect-json-http1") {
        expect(refusal(got).code).toBe(Code.ResourceExhausted);
        expect(refusal(got).message).toMatch(/larger than configured writeMaxBytes 65536/);
      } else {
        expect(ok(got).availabilities).toHaveLength(300);
      }
    }
  });

  it("stops a list page before the response cap and continues it with next_page_token", async () => {
    for (const client of clients) {
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = ok(await client.call("listCapacities", { personId: listed, pageSize: 1000, pageToken }, token));
        expect(page.capacities.length, client.kind).toBeGreaterThan(0);
        expect(toBinary(ListCapacitiesResponseSchema, page).byteLength).toBeLessThanOrEqual(CAP);
        seen.push(...page.capacities.map((c) => c.id));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "");
      expect(pages, client.kind).toBeGreaterThan(1);
      expect(seen).toHaveLength(40);
      expect(new Set(seen).size).toBe(40);
    }
  });
});
