/** The store contract, run against each engine with the test's own fixtures. */
import { describe, expect, it } from "vitest";
import type { CapacityRecord } from "../../src/domain/capacity.js";
import { newCapacityId } from "../../src/domain/ids.js";
import { KnexCapacityStore } from "../../src/store/knex-store.js";
import type { Scope } from "../../src/store/store.js";
import { insertCapacities } from "../helpers/capacities.js";
import { ENGINES, type TestDatabase } from "../helpers/databases.js";
import { useTestStore } from "../helpers/store.js";
import { person, tenant } from "../helpers/ids.js";

function record(scope: Scope, over: Partial<CapacityRecord> = {}): CapacityRecord {
  return {
    id: newCapacityId(),
    tenantId: scope.tenantId,
    appId: scope.appId ?? "",
    createdAt: 1_800_000_000_123,
    updatedAt: 1_800_000_000_123,
    createdBy: "per_01M8FMTT425T0SWT9WYGC66PKA",
    updatedBy: "per_01M8FMTT425T0SWT9WYGC66PKA",
    source: "edm",
    sourceType: 5,
    isDeleted: false,
    deletedAt: null,
    deletedBy: "",
    schemaVersion: 1,
    personId: "per_01M8FMTT425T0SWT9WYGC66PKF",
    projectId: "prj_01M8FMTT425T0SWT9WYGC66PKF",
    periodStart: "2027-01-01",
    periodEnd: "2027-01-31",
    allocatedBp: 3333,
    confirmedById: "",
    confirmedAt: null,
    notes: "n'; DROP TABLE capacities; --",
    etag: "e1",
    ...over,
  };
}

describe.each(ENGINES)("KnexCapacityStore on %s", (engine) => {
  let db: TestDatabase;
  let store: KnexCapacityStore;
  useTestStore(engine, (d, s) => ((db = d), (store = s)));

  it("reads allocations in keyset pages that together are exactly the unpaged read, within the tenant", async () => {
    const scope = { tenantId: tenant() };
    const [a, b] = [person(), person()];
    const day = (n: number): string => new Date(Date.UTC(2027, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);
    // Many rows share a period_start, so the id breaks ties across page edges.
    const rows = [a, b].flatMap((p, k) =>
      Array.from({ length: k === 0 ? 2300 : 700 }, (_, i) => ({
        tenantId: scope.tenantId,
        personId: p,
        periodStart: day(i % 40),
        periodEnd: day(40 + (i % 9)),
        allocatedBp: 100,
      })),
    );
    await insertCapacities(db.knex, rows);
    await insertCapacities(db.knex, [{ tenantId: tenant(), personId: a, periodStart: day(1), periodEnd: day(2), allocatedBp: 100 }]);
    const window = { start: "2027-01-01", end: "2027-12-31" };
    const all = await store.allocations(scope, [a, b], window, false);
    const paged: string[] = [];
    let after: (typeof all)[number] | undefined;
    let pages = 0;
    for (;;) {
      const page = await store.allocations(scope, [a, b], window, false, { limit: 700, after });
      paged.push(...page.map((r) => r.id));
      pages++;
      if (page.length < 700) break;
      after = page[page.length - 1];
    }
    expect(all).toHaveLength(3000);
    expect(pages).toBe(5); // 700 × 4 + 200
    expect(paged).toHaveLength(3000);
    expect(new Set(paged)).toEqual(new Set(all.map((r) => r.id)));
  });

  it("round-trips every field exactly", async () => {
    const scope = { tenantId: tenant() };
    const r = record(scope, { confirmedAt: 1_800_000_000_999, confirmedById: "per_01M8FMTT425T0SWT9WYGC66PKB", deletedAt: 5, isDeleted: true });
    await store.transaction(scope, (w) => w.insert(r));
    expect(await store.get(scope, r.id)).toEqual(r);
  });

  it("never returns another tenant's or another app's rows", async () => {
    const owner = { tenantId: tenant(), appId: "crm" };
    const r = record(owner);
    await store.transaction(owner, (w) => w.insert(r));
    expect(await store.get({ tenantId: tenant() }, r.id)).toBeUndefined();
    expect(await store.get({ tenantId: owner.tenantId, appId: "erp" }, r.id)).toBeUndefined();
    expect(await store.get({ tenantId: owner.tenantId }, r.id)).toEqual(r);
    expect(await store.list({ tenantId: tenant() }, { showDeleted: true, limit: 10 })).toEqual([]);
    expect(await store.transaction({ tenantId: tenant() }, (w) => w.getForUpdate(r.id))).toBeUndefined();
  });

  it("refuses to write a record into a scope it was not opened for", async () => {
    const scope = { tenantId: tenant() };
    await expect(store.transaction(scope, (w) => w.insert(record({ tenantId: tenant() })))).rejects.toThrow(/outside its tenant/);
  });

  it("updates only the row that still has the expected etag", async () => {
    const scope = { tenantId: tenant() };
    const r = record(scope);
    await store.transaction(scope, (w) => w.insert(r));
    await expect(store.transaction(scope, (w) => w.update({ ...r, etag: "e3", allocatedBp: 1 }, "stale"))).rejects.toThrow(/matched 0 rows/);
    await store.transaction(scope, (w) => w.update({ ...r, etag: "e2", allocatedBp: 1 }, "e1"));
    expect(await store.get(scope, r.id)).toMatchObject({ etag: "e2", allocatedBp: 1 });
  });

  it("rolls back everything when the work fails", async () => {
    const scope = { tenantId: tenant() };
    const r = record(scope);
    await expect(
      store.transaction(scope, async (w) => {
        await w.insert(r);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await store.get(scope, r.id)).toBeUndefined();
  });

  it("lists in (period_start, id) order and resumes after a position", async () => {
    const scope = { tenantId: tenant() };
    const p = person();
    const rs = ["2027-03-01", "2027-01-01", "2027-02-01", "2027-01-01"].map((d) => record(scope, { personId: p, periodStart: d, periodEnd: "2027-04-01" }));
    await store.transaction(scope, async (w) => {
      for (const r of rs) await w.insert(r);
    });
    const sorted = [...rs].sort((a, b) => (a.periodStart + a.id < b.periodStart + b.id ? -1 : 1));
    const all = await store.list(scope, { personId: p, showDeleted: false, limit: 10 });
    expect(all.map((r) => r.id)).toEqual(sorted.map((r) => r.id));
    const after = await store.list(scope, { personId: p, showDeleted: false, limit: 10, after: { periodStart: sorted[1]!.periodStart, id: sorted[1]!.id } });
    expect(after.map((r) => r.id)).toEqual(sorted.slice(2).map((r) => r.id));
  });

  it("lets exactly one of two concurrent writers save a request id; the other sees it on retry", async () => {
    const scope = { tenantId: tenant() };
    const requestId = "5f0c6f3e-7a43-4d5e-9f59-2a4b8f0d1c11";
    const attempt = () =>
      store.transaction(scope, async (w) => {
        const prior = await w.findRequest(requestId);
        if (prior) return `replayed ${Buffer.from(prior.response).toString()}`;
        const r = record(scope);
        await w.insert(r);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await w.saveRequest({ requestId, fingerprint: "f".repeat(64), response: Buffer.from(r.id), createdAt: Date.now() });
        return `wrote ${r.id}`;
      });
    const results = await Promise.all([attempt(), attempt(), attempt()]);
    const wrote = results.filter((r) => r.startsWith("wrote"));
    expect(wrote).toHaveLength(1);
    const id = wrote[0]!.slice("wrote ".length);
    expect(results.filter((r) => r === `replayed ${id}`)).toHaveLength(2);
    const [row] = await db.knex("capacities").where("tenant_id", scope.tenantId).count({ n: "*" });
    expect(Number(row?.n)).toBe(1);
  });

  it("keeps request ids per (tenant, app): two apps of one tenant each get their own record", async () => {
    const t = tenant();
    const requestId = "0b7c4c2e-1f7d-4f53-8e0e-3c2a9d5b6a01";
    const save = (scope: Scope, body: string) =>
      store.transaction(scope, async (w) => {
        const prior = await w.findRequest(requestId);
        if (prior) return `replayed ${Buffer.from(prior.response).toString()}`;
        await w.saveRequest({ requestId, fingerprint: body.padEnd(64, "0"), response: Buffer.from(body), createdAt: Date.now() });
        return `saved ${body}`;
      });
    expect(await save({ tenantId: t, appId: "crm" }, "crm")).toBe("saved crm");
    expect(await save({ tenantId: t, appId: "erp" }, "erp")).toBe("saved erp");
    expect(await save({ tenantId: t }, "none")).toBe("saved none");
    expect(await save({ tenantId: t, appId: "crm" }, "crm again")).toBe("replayed crm");
    expect(await save({ tenantId: t, appId: "erp" }, "erp again")).toBe("replayed erp");
    expect(await save({ tenantId: t }, "none again")).toBe("replayed none");
    const rows = await db.knex("capacity_requests").where("tenant_id", t).orderBy("app_id").select("app_id", "request_id");
    expect(rows).toEqual([
      { app_id: "", request_id: requestId },
      { app_id: "crm", request_id: requestId },
      { app_id: "erp", request_id: requestId },
    ]);
  });

  it("answers ping", async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
