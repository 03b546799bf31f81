/**
 * The response cap over a real listener on both databases, with a small
 * configured cap: every protocol and both engines refuse an answer over it in
 * their own encoding, and list pages stop short of it. Capacity ids on request
 * and the allocation limit are rules of the service core:
 * test/service/person-availability.test.ts.
 */
import { toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { ListCapacitiesResponseSchema } from "../../src/gen/work/v1/capacity_pb.js";
import { insertCapacities, staircase } from "../helpers/capacities.js";
import { CLIENT_KINDS, failure, ok, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { useTestServer } from "../helpers/server.js";

const CAP = 64 * 1024;
const WINDOW = { periodStart: "2027-01-01", periodEnd: "2029-12-31" };

describe.each(ENGINES)("bounded work on %s", (engine) => {
  const suite = useTestServer(engine, { env: { CAPACITY_GRPC_PORT: "0", CAPACITY_MAX_RESPONSE_BYTES: String(CAP) } });
  let clients: TestClient[];
  const t = tenant();
  const stairs = person(); // 100 staircase allocations: ~5,000 ids with ids, 101 segments without
  const listed = person(); // 40 records with long notes
  let token: string;

  beforeAll(async () => {
    clients = [...CLIENT_KINDS.map((k) => suite.client(k)), suite.client("grpc-js", "grpc-engine")];
    token = await suite.server.token(t);
    await insertCapacities(suite.server.db.knex, [
      ...staircase(t, stairs, 100),
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

  it("refuses an availability answer over the response cap on every protocol and both engines, and answers without ids", async () => {
    for (const client of clients) {
      const refused = failure(await client.call("getPersonAvailability", { personId: stairs, ...WINDOW, includeCapacityIds: true }, token));
      expect(refused, client.kind).toMatchObject({
        code: Code.ResourceExhausted,
        errorInfo: [{ reason: "AVAILABILITY_TOO_LARGE", domain: "capacity.work.v1", metadata: { limit: "CAPACITY_MAX_RESPONSE_BYTES", max: String(CAP) } }],
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
        expect(failure(got).code).toBe(Code.ResourceExhausted);
        expect(failure(got).message).toMatch(/larger than configured writeMaxBytes 65536/);
      } else if (client.kind.startsWith("rest-")) {
        expect(failure(got).code).toBe(Code.ResourceExhausted);
        expect(failure(got).message).toMatch(/larger than the response cap 65536 \(CAPACITY_MAX_RESPONSE_BYTES\)/);
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
