/**
 * The service core's cross-cutting rules, without a listener: what the
 * lifecycle RPCs stamp (on a pinned clock), tenant and app isolation on every
 * RPC, and the rules whose outcome rests on the database (exact storage,
 * text, concurrent replays) on both engines.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { countCapacities, createRequest } from "../helpers/capacities.js";
import { failed, settle } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { newCaller, useTestService } from "../helpers/service.js";

/** A protobuf Timestamp as epoch milliseconds. */
const ms = (t: { seconds: bigint; nanos: number } | undefined): number | undefined => (t === undefined ? undefined : Number(t.seconds) * 1000 + t.nanos / 1e6);

describe("the record's lifecycle on a pinned clock", () => {
  let clock = Date.UTC(2027, 0, 4, 9, 0, 0);
  const suite = useTestService({ now: () => clock });

  it("stamps who and when on create, update, confirm, delete and undelete, and a new etag each time", async () => {
    const owner = newCaller();
    const manager = newCaller({ tenantId: owner.tenantId });
    const mine = suite.service.client(owner);
    const theirs = suite.service.client(manager);
    const created = await mine.setCapacity(createRequest({ allocatedPct: 40 }));
    expect(created.id).toMatch(/^cap_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(created).toMatchObject({ createdBy: owner.personId, updatedBy: owner.personId, confirmedById: "", isDeleted: false, deletedBy: "" });
    expect([ms(created.createdAt), ms(created.updatedAt), created.confirmedAt, created.deletedAt]).toEqual([clock, clock, undefined, undefined]);
    const t0 = clock;

    clock += 60_000;
    const confirmed = await theirs.confirmCapacity({ id: created.id, etag: created.etag });
    expect(confirmed).toMatchObject({ confirmedById: manager.personId, updatedBy: manager.personId, createdBy: owner.personId });
    expect([ms(confirmed.confirmedAt), ms(confirmed.updatedAt), ms(confirmed.createdAt)]).toEqual([clock, clock, t0]);

    clock += 60_000;
    const deleted = await mine.deleteCapacity({ id: created.id, etag: confirmed.etag });
    expect(deleted).toMatchObject({ isDeleted: true, deletedBy: owner.personId, updatedBy: owner.personId, confirmedById: manager.personId });
    expect([ms(deleted.deletedAt), ms(deleted.updatedAt)]).toEqual([clock, clock]);

    clock += 60_000;
    const restored = await theirs.undeleteCapacity({ id: created.id, etag: deleted.etag });
    expect(restored).toMatchObject({ isDeleted: false, deletedBy: "", updatedBy: manager.personId, confirmedById: manager.personId });
    expect([restored.deletedAt, ms(restored.updatedAt), ms(restored.confirmedAt)]).toEqual([undefined, clock, t0 + 60_000]);

    const etags = [created, confirmed, deleted, restored].map((c) => c.etag);
    expect(new Set(etags).size).toBe(4);
    expect(await mine.getCapacity({ id: created.id })).toEqual(restored);
  });
});

describe.each(ENGINES)("the service core on %s", (engine) => {
  const suite = useTestService({ engine });

  it("accepts the edges: 0% and 100%, 4,000 characters of notes, one-day periods", async () => {
    const client = suite.service.client();
    expect((await client.setCapacity(createRequest({ allocatedPct: 0 }))).allocatedPct).toBe(0);
    expect((await client.setCapacity(createRequest({ allocatedPct: 100 }))).allocatedPct).toBe(100);
    const notes = `${"é".repeat(3998)}😀\u0000`;
    const long = await client.setCapacity(createRequest({ notes }));
    expect(long.notes).toBe(notes);
    expect((await client.getCapacity({ id: long.id })).notes).toBe(notes);
    expect((await client.setCapacity(createRequest({ periodStart: "2027-05-01", periodEnd: "2027-05-01" }))).periodEnd).toBe("2027-05-01");
  });

  it("stores percentages exactly", async () => {
    const me = newCaller();
    const client = suite.service.client(me);
    for (const pct of [33.33, 33.34, 0.01, 99.99, 12.5]) {
      const c = await client.setCapacity(createRequest({ allocatedPct: pct }));
      expect((await client.getCapacity({ id: c.id })).allocatedPct).toBe(pct);
    }
    const row = await suite.service.knex("capacities").where({ tenant_id: me.tenantId }).andWhere("allocated_bp", 3333).first<{ id: string } | undefined>();
    expect(row).toBeDefined();
  });

  it("makes exactly one record from concurrent calls with one request_id", async () => {
    const me = newCaller();
    const client = suite.service.client(me);
    const req = { ...createRequest(), requestId: randomUUID() };
    const before = await countCapacities(suite.service.knex, me.tenantId);
    const values = await Promise.all(Array.from({ length: 20 }, () => client.setCapacity(req)));
    expect(new Set(values.map((v) => v.id)).size).toBe(1);
    for (const v of values) expect(v).toEqual(values[0]);
    expect(await countCapacities(suite.service.knex, me.tenantId)).toBe(before + 1);
  });

  it("treats another tenant's and another app's records as missing on every RPC, and a tenant-wide caller sees every app", async () => {
    const owner = newCaller({ appId: "crm" });
    const record = await suite.service.client(owner).setCapacity(createRequest({ periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 10 }));
    const window = { periodStart: "2027-01-01", periodEnd: "2027-01-02" };
    for (const intruder of [newCaller(), newCaller({ tenantId: owner.tenantId, appId: "erp" })]) {
      const client = suite.service.client(intruder);
      const calls = [
        client.getCapacity({ id: record.id }),
        client.setCapacity({ capacity: { id: record.id, allocatedPct: 99 }, updateMask: { paths: ["allocated_pct"] } }),
        client.deleteCapacity({ id: record.id }),
        client.undeleteCapacity({ id: record.id }),
        client.confirmCapacity({ id: record.id }),
      ];
      for (const outcome of await Promise.all(calls.map((c) => settle(c)))) expect(outcome.ok ? "ok" : outcome.code).toBe(Code.NotFound);
      expect((await client.listCapacities({ personId: record.personId })).capacities).toEqual([]);
      expect((await client.getPersonAvailability({ personId: record.personId, ...window })).peakAllocatedPct).toBe(0);
      expect((await client.batchGetPersonAvailability({ personIds: [record.personId], ...window })).availabilities[0]!.peakAllocatedPct).toBe(0);
    }
    const mine = suite.service.client(owner);
    expect(await mine.getCapacity({ id: record.id })).toEqual(record);
    const tenantWide = suite.service.client({ tenantId: owner.tenantId });
    expect((await tenantWide.getCapacity({ id: record.id })).appId).toBe("crm");
    expect((await tenantWide.getPersonAvailability({ personId: record.personId, ...window })).peakAllocatedPct).toBe(10);
    // An app caller cannot write into another app's record even by its id: it is missing, and stays unchanged.
    expect((await failed(suite.service.client({ tenantId: owner.tenantId, appId: "erp" }).deleteCapacity({ id: record.id }))).code).toBe(Code.NotFound);
    expect(await mine.getCapacity({ id: record.id })).toEqual(record);
  });

  it("keeps one tenant's person apart from the same person id in another tenant", async () => {
    const p = person();
    const a = suite.service.client({ tenantId: tenant() });
    const b = suite.service.client({ tenantId: tenant() });
    await a.setCapacity(createRequest({ personId: p, periodStart: "2027-02-01", periodEnd: "2027-02-28", allocatedPct: 80 }));
    const window = { personId: p, periodStart: "2027-02-01", periodEnd: "2027-02-28" };
    expect((await a.getPersonAvailability(window)).peakAllocatedPct).toBe(80);
    expect((await b.getPersonAvailability(window)).peakAllocatedPct).toBe(0);
    expect((await b.listCapacities({ personId: p })).capacities).toEqual([]);
  });
});
