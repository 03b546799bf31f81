/** ListCapacities over a real listener, on both databases. */
import { Code } from "@connectrpc/connect";
import { ulid } from "ulid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Capacity } from "../../src/gen/work/v1/capacity_pb.js";
import { createTestClient, ok, type Req, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe.each(ENGINES)("ListCapacities on %s", (engine) => {
  let server: TestServer;
  let client: TestClient;
  beforeAll(async () => {
    server = await startTestServer(engine);
    client = createTestClient("grpc-connect-node", server.baseUrl);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  async function seed(token: string, specs: Array<Partial<Record<"personId" | "projectId" | "periodStart" | "periodEnd", string>>>): Promise<Capacity[]> {
    const out: Capacity[] = [];
    for (const s of specs) {
      out.push(
        ok(
          await client.call(
            "setCapacity",
            { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10, ...s } },
            token,
          ),
        ),
      );
    }
    return out;
  }

  async function listAll(token: string, req: Req<"listCapacities">): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 100; pages++) {
      const page = ok(await client.call("listCapacities", { ...req, pageToken }, token));
      ids.push(...page.capacities.map((c) => c.id));
      pageToken = page.nextPageToken;
      if (pageToken === "") return ids;
    }
    throw new Error("too many pages");
  }

  it("combines filters with AND and selects periods that overlap the window", async () => {
    const token = await server.token(tenant());
    const alice = person();
    const apollo = project();
    const [jan, feb, mar, other, otherProject] = await seed(token, [
      { personId: alice, projectId: apollo, periodStart: "2027-01-01", periodEnd: "2027-01-31" },
      { personId: alice, projectId: apollo, periodStart: "2027-02-01", periodEnd: "2027-02-28" },
      { personId: alice, projectId: apollo, periodStart: "2027-03-01", periodEnd: "2027-03-31" },
      { periodStart: "2027-02-10", periodEnd: "2027-02-11" },
      { personId: alice, periodStart: "2027-02-15", periodEnd: "2027-02-16" },
    ]);
    const ids = (xs: Array<Capacity | undefined>) => xs.map((c) => c!.id);
    expect(await listAll(token, { personId: alice })).toEqual(ids([jan, feb, otherProject, mar]));
    expect(await listAll(token, { personId: alice, projectId: apollo })).toEqual(ids([jan, feb, mar]));
    // Touching the window's edges counts as overlap.
    expect(await listAll(token, { personId: alice, periodFrom: "2027-01-31", periodTo: "2027-02-01" })).toEqual(ids([jan, feb]));
    expect(await listAll(token, { periodFrom: "2027-02-11" , periodTo: "2027-02-14" })).toEqual(ids([feb, other]));
    expect(await listAll(token, { periodFrom: "2027-03-01" })).toEqual(ids([mar]));
    expect(await listAll(token, { periodTo: "2027-01-15" })).toEqual(ids([jan]));
    expect(await listAll(token, { projectId: apollo, periodFrom: "2027-04-01" })).toEqual([]);
  });

  it("filters on confirmation and hides deleted records unless asked", async () => {
    const token = await server.token(tenant());
    const p = person();
    const [a, b, c] = await seed(token, [{ personId: p }, { personId: p }, { personId: p }]);
    ok(await client.call("confirmCapacity", { id: a!.id }, token));
    ok(await client.call("deleteCapacity", { id: c!.id }, token));
    expect(await listAll(token, { personId: p, confirmed: true })).toEqual([a!.id]);
    expect(await listAll(token, { personId: p, confirmed: false })).toEqual([b!.id]);
    expect(await listAll(token, { personId: p })).toEqual([a!.id, b!.id].sort());
    expect((await listAll(token, { personId: p, showDeleted: true })).sort()).toEqual([a!.id, b!.id, c!.id].sort());
  });

  it("pages by period_start then id, without skipping or repeating while records are inserted", async () => {
    const token = await server.token(tenant());
    const p = person();
    const days = ["2027-01-05", "2027-01-01", "2027-01-03", "2027-01-01", "2027-01-02", "2027-01-05", "2027-01-04", "2027-01-03"];
    const seeded = await seed(token, days.map((d) => ({ personId: p, periodStart: d, periodEnd: "2027-02-01" })));
    const expected = [...seeded].sort((x, y) => (x.periodStart + x.id < y.periodStart + y.id ? -1 : 1)).map((c) => c.id);

    const seen: string[] = [];
    const inserted: string[] = [];
    let pageToken = "";
    do {
      const page = ok(await client.call("listCapacities", { personId: p, pageSize: 3, pageToken }, token));
      expect(page.capacities.length).toBeLessThanOrEqual(3);
      seen.push(...page.capacities.map((c) => c.id));
      // Someone inserts before the current position and at the very end.
      const [early, late] = await seed(token, [
        { personId: p, periodStart: "2026-12-01", periodEnd: "2027-02-01" },
        { personId: p, periodStart: "2027-01-09", periodEnd: "2027-02-01" },
      ]);
      inserted.push(early!.id, late!.id);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    // Every original record exactly once, in order; inserted ones only after the position.
    expect(seen.filter((id) => !inserted.includes(id))).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
    const sortKeys = await Promise.all(seen.map(async (id) => ok(await client.call("getCapacity", { id }, token)).periodStart + id));
    expect([...sortKeys].sort()).toEqual(sortKeys);
  });

  it("uses 50 for page_size 0 and caps it at 1,000", async () => {
    const t = tenant();
    const token = await server.token(t);
    const p = person();
    // 1,001 rows straight into the table (the API would take 1,001 calls).
    const now = Date.now();
    const rows = Array.from({ length: 1001 }, (_, i) => ({
      tenant_id: t,
      id: `cap_${ulid(now + i)}`,
      app_id: "",
      created_at: now,
      updated_at: now,
      created_by: p,
      updated_by: p,
      source: "edm",
      source_type: 5,
      is_deleted: false,
      deleted_at: null,
      deleted_by: "",
      schema_version: 1,
      person_id: p,
      project_id: "prj_01M8FMTT425T0SWT9WYGC66PKF",
      period_start: "2027-01-01",
      period_end: "2027-01-01",
      allocated_bp: 100,
      confirmed_by_id: "",
      confirmed_at: null,
      notes: "",
      etag: "seed",
    }));
    await server.db.knex.batchInsert("capacities", rows, 200);
    const first = ok(await client.call("listCapacities", { personId: p }, token));
    expect(first.capacities).toHaveLength(50);
    const big = ok(await client.call("listCapacities", { personId: p, pageSize: 5000 }, token));
    expect(big.capacities).toHaveLength(1000);
    const rest = ok(await client.call("listCapacities", { personId: p, pageSize: 5000, pageToken: big.nextPageToken }, token));
    expect(rest.capacities).toHaveLength(1);
    expect(rest.nextPageToken).toBe("");
  });

  it.each([
    ["page_size", { pageSize: -1 }],
    ["person_id", { personId: "bob" }],
    ["project_id", { projectId: "prj_short" }],
    ["period_from", { periodFrom: "2027-02-30" }],
    ["period_to", { periodTo: "tomorrow" }],
    ["period_to", { periodFrom: "2027-02-02", periodTo: "2027-02-01" }],
    ["page_token", { pageToken: "not-a-token" }],
    ["page_token", { pageToken: Buffer.from('[1,"2027-01-01","cap_x","d"]').toString("base64url") }],
  ])("rejects a bad %s", async (field, req) => {
    const out = await client.call("listCapacities", req, await server.token(tenant()));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.code).toBe(Code.InvalidArgument);
    expect(out.violations.map((v) => v.field)).toEqual([field]);
  });

  it("rejects a page token reused with other filters, or by another tenant", async () => {
    const t = tenant();
    const token = await server.token(t);
    const p = person();
    await seed(token, [{ personId: p }, { personId: p }]);
    const page = ok(await client.call("listCapacities", { personId: p, pageSize: 1 }, token));
    expect(page.nextPageToken).not.toBe("");
    for (const [req, tok] of [
      [{ personId: person(), pageSize: 1 }, token],
      [{ personId: p, pageSize: 1, showDeleted: true }, token],
      [{ personId: p, pageSize: 1 }, await server.token(tenant())],
    ] as const) {
      const out = await client.call("listCapacities", { ...req, pageToken: page.nextPageToken }, tok);
      expect(out.ok ? "ok" : [out.code, out.violations[0]?.field]).toEqual([Code.InvalidArgument, "page_token"]);
    }
    // A different page size is fine.
    ok(await client.call("listCapacities", { personId: p, pageSize: 5, pageToken: page.nextPageToken }, token));
  });
});
