/**
 * ListCapacities' rules on the service core, on both databases (its filters
 * and keyset paging are SQL): filters, ordering and paging, page sizes,
 * argument checks and page tokens bound to their query.
 */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Caller } from "../../src/auth/caller.js";
import { DATE_RULE } from "../../src/domain/dates.js";
import { REFERENCE_RULE } from "../../src/domain/ids.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Capacity, ListCapacitiesRequest, ListCapacitiesRequestSchema } from "../../src/gen/work/v1/capacity_pb.js";
import { createRequest, insertCapacities } from "../helpers/capacities.js";
import { failed } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project } from "../helpers/ids.js";
import { newCaller, useTestService, type ServiceClient } from "../helpers/service.js";

type Spec = Partial<Record<"personId" | "projectId" | "periodStart" | "periodEnd", string>>;
/** A ListCapacities request as a client writes it. */
type ListInit = Exclude<MessageInitShape<typeof ListCapacitiesRequestSchema>, ListCapacitiesRequest>;

describe.each(ENGINES)("ListCapacities on %s", (engine) => {
  const suite = useTestService({ engine });

  async function seed(client: ServiceClient, specs: Spec[]): Promise<Capacity[]> {
    const out: Capacity[] = [];
    for (const s of specs) out.push(await client.setCapacity(createRequest({ periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10, ...s })));
    return out;
  }

  async function listAll(client: ServiceClient, req: ListInit): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 100; pages++) {
      const page = await client.listCapacities({ ...req, pageToken });
      ids.push(...page.capacities.map((c) => c.id));
      pageToken = page.nextPageToken;
      if (pageToken === "") return ids;
    }
    throw new Error("too many pages");
  }

  it("combines filters with AND and selects periods that overlap the window", async () => {
    const client = suite.service.client();
    const alice = person();
    const apollo = project();
    const [jan, feb, mar, other, otherProject] = await seed(client, [
      { personId: alice, projectId: apollo, periodStart: "2027-01-01", periodEnd: "2027-01-31" },
      { personId: alice, projectId: apollo, periodStart: "2027-02-01", periodEnd: "2027-02-28" },
      { personId: alice, projectId: apollo, periodStart: "2027-03-01", periodEnd: "2027-03-31" },
      { periodStart: "2027-02-10", periodEnd: "2027-02-11" },
      { personId: alice, periodStart: "2027-02-15", periodEnd: "2027-02-16" },
    ]);
    const ids = (xs: Array<Capacity | undefined>) => xs.map((c) => c!.id);
    expect(await listAll(client, { personId: alice })).toEqual(ids([jan, feb, otherProject, mar]));
    expect(await listAll(client, { personId: alice, projectId: apollo })).toEqual(ids([jan, feb, mar]));
    // Touching the window's edges counts as overlap.
    expect(await listAll(client, { personId: alice, periodFrom: "2027-01-31", periodTo: "2027-02-01" })).toEqual(ids([jan, feb]));
    expect(await listAll(client, { periodFrom: "2027-02-11", periodTo: "2027-02-14" })).toEqual(ids([feb, other]));
    expect(await listAll(client, { periodFrom: "2027-03-01" })).toEqual(ids([mar]));
    expect(await listAll(client, { periodTo: "2027-01-15" })).toEqual(ids([jan]));
    expect(await listAll(client, { projectId: apollo, periodFrom: "2027-04-01" })).toEqual([]);
    // References are matched in canonical form, whatever case the filter is sent in.
    expect(await listAll(client, { personId: alice.toLowerCase(), projectId: apollo })).toEqual(ids([jan, feb, mar]));
  });

  it("filters on confirmation and hides deleted records unless asked", async () => {
    const client = suite.service.client();
    const p = person();
    const [a, b, c] = await seed(client, [{ personId: p }, { personId: p }, { personId: p }]);
    await client.confirmCapacity({ id: a!.id });
    await client.deleteCapacity({ id: c!.id });
    expect(await listAll(client, { personId: p, confirmed: true })).toEqual([a!.id]);
    expect(await listAll(client, { personId: p, confirmed: false })).toEqual([b!.id]);
    expect(await listAll(client, { personId: p })).toEqual([a!.id, b!.id].sort());
    expect((await listAll(client, { personId: p, showDeleted: true })).sort()).toEqual([a!.id, b!.id, c!.id].sort());
  });

  it("pages by period_start then id, without skipping or repeating while records are inserted", async () => {
    const client = suite.service.client();
    const p = person();
    const days = ["2027-01-05", "2027-01-01", "2027-01-03", "2027-01-01", "2027-01-02", "2027-01-05", "2027-01-04", "2027-01-03"];
    const seeded = await seed(
      client,
      days.map((d) => ({ personId: p, periodStart: d, periodEnd: "2027-02-01" })),
    );
    const expected = [...seeded].sort((x, y) => (x.periodStart + x.id < y.periodStart + y.id ? -1 : 1)).map((c) => c.id);

    const seen: string[] = [];
    const inserted: string[] = [];
    let pageToken = "";
    do {
      const page = await client.listCapacities({ personId: p, pageSize: 3, pageToken });
      expect(page.capacities.length).toBeLessThanOrEqual(3);
      seen.push(...page.capacities.map((c) => c.id));
      // Someone inserts before the current position and at the very end.
      const [early, late] = await seed(client, [
        { personId: p, periodStart: "2026-12-01", periodEnd: "2027-02-01" },
        { personId: p, periodStart: "2027-01-09", periodEnd: "2027-02-01" },
      ]);
      inserted.push(early!.id, late!.id);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    // Every original record exactly once, in order; inserted ones only after the position.
    expect(seen.filter((id) => !inserted.includes(id))).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
    const sortKeys = await Promise.all(seen.map(async (id) => (await client.getCapacity({ id })).periodStart + id));
    expect([...sortKeys].sort()).toEqual(sortKeys);
  });

  it("uses 50 for page_size 0 and caps it at 1,000", async () => {
    const me = newCaller();
    const client = suite.service.client(me);
    const p = person();
    // 1,001 rows straight into the table (the API would take 1,001 calls).
    await insertCapacities(
      suite.service.knex,
      Array.from({ length: 1001 }, () => ({ tenantId: me.tenantId, personId: p, periodStart: "2027-01-01", periodEnd: "2027-01-01", allocatedBp: 100 })),
    );
    const first = await client.listCapacities({ personId: p });
    expect(first.capacities).toHaveLength(50);
    const big = await client.listCapacities({ personId: p, pageSize: 5000 });
    expect(big.capacities).toHaveLength(1000);
    const rest = await client.listCapacities({ personId: p, pageSize: 5000, pageToken: big.nextPageToken });
    expect(rest.capacities).toHaveLength(1);
    expect(rest.nextPageToken).toBe("");
  });

  it.each<[string, ListInit, string | RegExp]>([
    ["page_size", { pageSize: -1 }, "must not be negative"],
    ["person_id", { personId: "bob" }, REFERENCE_RULE],
    ["project_id", { projectId: "prj_short" }, REFERENCE_RULE],
    ["period_from", { periodFrom: "2027-02-30" }, DATE_RULE],
    ["period_to", { periodTo: "tomorrow" }, DATE_RULE],
    ["period_to", { periodFrom: "2027-02-02", periodTo: "2027-02-01" }, "must not be before period_from"],
    ["page_token", { pageToken: "not-a-token" }, /./],
    ["page_token", { pageToken: Buffer.from('[1,"2027-01-01","cap_x","d"]').toString("base64url") }, /./],
  ])("rejects a bad %s (%j)", async (field, req, description) => {
    const f = await failed(suite.service.client().listCapacities(req));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.fields).toEqual([field]);
    expect(f.violations[0]!.description).toMatch(description);
  });

  it("reports every bad filter of one request at once", async () => {
    const f = await failed(suite.service.client().listCapacities({ pageSize: -1, personId: "bob", periodFrom: "2027-02-30" }));
    expect(f.fields).toEqual(["page_size", "person_id", "period_from"]);
  });

  it("rejects a page token reused with other filters, by another tenant or by another app", async () => {
    const me: Caller = newCaller();
    const client = suite.service.client(me);
    const p = person();
    await seed(client, [{ personId: p }, { personId: p }]);
    const page = await client.listCapacities({ personId: p, pageSize: 1 });
    expect(page.nextPageToken).not.toBe("");
    for (const [req, caller] of [
      [{ personId: person(), pageSize: 1 }, me],
      [{ personId: p, pageSize: 1, showDeleted: true }, me],
      [{ personId: p, pageSize: 1, confirmed: true }, me],
      [{ personId: p, pageSize: 1 }, newCaller()],
      [{ personId: p, pageSize: 1 }, newCaller({ tenantId: me.tenantId, appId: "crm" })],
    ] as const) {
      const f = await failed(suite.service.client(caller).listCapacities({ ...req, pageToken: page.nextPageToken }));
      expect([f.code, f.fields]).toEqual([Code.InvalidArgument, ["page_token"]]);
    }
    // A different page size is fine, and so is another person of the same tenant.
    await client.listCapacities({ personId: p, pageSize: 5, pageToken: page.nextPageToken });
    expect(
      (await suite.service.client({ tenantId: me.tenantId }).listCapacities({ personId: p, pageSize: 1, pageToken: page.nextPageToken })).capacities,
    ).toHaveLength(1);
  });
});
