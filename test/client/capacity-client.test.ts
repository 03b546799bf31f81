/**
 * @capacity/client against the real server, over every protocol it offers
 * and on both databases: the resource methods, paging, availability, and
 * failures decoded with their details. Imported by package name, as its users
 * import it.
 */
import { randomUUID } from "node:crypto";
import { Code, decodeError, OverallocationPolicy, type Capacity, type DecodedError } from "@capacity/client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { useTestServer, type TestServer } from "../helpers/server.js";
import { PROTOCOLS, type TestedClient } from "./protocols.js";

/** The decoded error of a call that must fail; fails the test when it succeeds. */
async function rejection(call: Promise<unknown>): Promise<DecodedError> {
  try {
    await call;
  } catch (err) {
    return decodeError(err);
  }
  throw new Error("expected the call to fail, and it succeeded");
}

describe.each(ENGINES)("on %s", (engine) => {
  const suite = useTestServer(engine);

  describe.each(PROTOCOLS)("through $name", (protocol) => {
    let server: TestServer;
    const open: TestedClient[] = [];
    beforeAll(() => {
      server = suite.server;
    });
    afterEach(() => {
      for (const c of open.splice(0)) c.close();
    });

    /** A client of a new tenant whose getToken counts how often it is asked. */
    async function tenantClient(): Promise<{ client: TestedClient; tenantId: string; tokenCalls: () => number }> {
      const tenantId = tenant();
      const token = await server.token(tenantId);
      let calls = 0;
      const client = protocol.connect(server.baseUrl, {
        getToken: async () => {
          calls++;
          return Promise.resolve(token);
        },
      });
      open.push(client);
      return { client, tenantId, tokenCalls: () => calls };
    }

    it("creates, reads, updates with a mask and an etag, confirms, deletes and restores", async () => {
      const { client, tenantId } = await tenantClient();
      const capacities = client.work.capacity;
      const manager = person();
      const managerToken = await server.token(tenantId, { sub: manager });
      const p = person();

      const created = await capacities.set(
        { personId: p, projectId: project(), periodStart: "2027-03-01", periodEnd: "2027-03-31", allocatedPct: 40, notes: "first ✓" },
        { requestId: randomUUID() },
      );
      expect(created.id).toMatch(/^cap_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(created.tenantId).toBe(tenantId);
      expect(await capacities.get(created.id)).toEqual(created);

      // Only the masked field changes; the mask takes this package's field names as well as the proto's.
      const updated = await capacities.set(
        { id: created.id, allocatedPct: 55, notes: "not in the mask" },
        { updateMask: ["allocatedPct"], etag: created.etag },
      );
      expect([updated.allocatedPct, updated.notes, updated.periodStart]).toEqual([55, "first ✓", "2027-03-01"]);
      expect(updated.etag).not.toBe(created.etag);

      const stale = await rejection(capacities.set({ id: created.id, notes: "late" }, { updateMask: ["notes"], etag: created.etag }));
      expect([stale.code, stale.codeName]).toEqual([Code.Aborted, "ABORTED"]);
      expect(stale.requestId).toBeTruthy();
      expect((await capacities.get(created.id)).notes).toBe("first ✓");

      // A header set on the call wins over the client's token: the manager confirms.
      const confirmed = await capacities.confirm(created.id, { etag: updated.etag }, { headers: { authorization: `Bearer ${managerToken}` } });
      expect(confirmed.confirmedById).toBe(manager);
      expect(confirmed.confirmedAt).toBeDefined();

      const deleted = await capacities.delete(created.id, { etag: confirmed.etag });
      expect([deleted.isDeleted, deleted.deletedAt !== undefined]).toEqual([true, true]);
      expect((await rejection(capacities.delete(created.id))).code).toBe(Code.FailedPrecondition);

      const restored = await capacities.undelete(created.id, { etag: deleted.etag, overallocationPolicy: OverallocationPolicy.REJECT });
      expect([restored.isDeleted, restored.confirmedById]).toEqual([false, manager]);
      expect((await rejection(capacities.undelete(created.id))).code).toBe(Code.AlreadyExists);
    });

    it("sends a read record back as a conditional write without changing the caller's object", async () => {
      const { client } = await tenantClient();
      const capacities = client.work.capacity;
      const created = await capacities.set({ personId: person(), projectId: project(), periodStart: "2027-05-03", periodEnd: "2027-05-07", allocatedPct: 10 });
      const read: Capacity = await capacities.get(created.id);

      const edited = await capacities.set({ ...read, notes: "edited" });
      expect([edited.notes, edited.allocatedPct]).toEqual(["edited", 10]);
      // The record read earlier now carries an old etag: sending it back is refused.
      expect((await rejection(capacities.set(read))).code).toBe(Code.Aborted);
      // The etag option overrides the record's own, on a copy.
      const again = await capacities.set(read, { etag: edited.etag, updateMask: ["notes"] });
      expect(again.notes).toBe("");
      expect(read.etag).toBe(created.etag);
    });

    it("reads every page with list and listAll, asking for the token once per call", async () => {
      const { client, tokenCalls } = await tenantClient();
      const capacities = client.work.capacity;
      const p = person();
      const ids: string[] = [];
      for (const day of ["01", "02", "03", "04", "05"]) {
        ids.push((await capacities.set({ personId: p, projectId: project(), periodStart: `2027-06-${day}`, periodEnd: "2027-06-30", allocatedPct: 5 })).id);
      }
      await capacities.set({ personId: person(), projectId: project(), periodStart: "2027-06-01", periodEnd: "2027-06-30", allocatedPct: 5 });

      const first = await capacities.list({ personId: p, pageSize: 2 });
      expect(first.capacities.map((c) => c.id)).toEqual(ids.slice(0, 2));
      expect(first.nextPageToken).not.toBe("");
      const second = await capacities.list({ personId: p, pageSize: 2, pageToken: first.nextPageToken });
      expect(second.capacities.map((c) => c.id)).toEqual(ids.slice(2, 4));

      const before = tokenCalls();
      const all: string[] = [];
      for await (const c of capacities.listAll({ personId: p, pageSize: 2 })) all.push(c.id);
      expect(all).toEqual(ids);
      expect(tokenCalls() - before).toBe(3);

      const filtered: string[] = [];
      for await (const c of capacities.listAll({ personId: p, periodFrom: "2027-06-01", periodTo: "2027-06-02" })) filtered.push(c.id);
      expect(filtered).toEqual(ids.slice(0, 2));
    });

    it("answers availability for one person and for several", async () => {
      const { client } = await tenantClient();
      const p = person();
      const a = await client.work.capacity.set({ personId: p, projectId: project(), periodStart: "2027-03-01", periodEnd: "2027-03-31", allocatedPct: 40 });
      const b = await client.work.capacity.set({ personId: p, projectId: project(), periodStart: "2027-03-15", periodEnd: "2027-04-10", allocatedPct: 50 });

      const one = await client.work.availability.get(p, { periodStart: "2027-03-01", periodEnd: "2027-03-31", includeCapacityIds: true });
      expect(one.segments.map((s) => [s.periodStart, s.periodEnd, s.allocatedPct, s.capacityIds])).toEqual([
        ["2027-03-01", "2027-03-14", 40, [a.id]],
        ["2027-03-15", "2027-03-31", 90, [a.id, b.id].sort()],
      ]);
      expect([one.peakAllocatedPct, one.countedDays, one.availableDays]).toEqual([90, 31, 31]);

      const idle = person();
      const many = await client.work.availability.batchGet([p, idle], { periodStart: "2027-03-01", periodEnd: "2027-03-31", minAvailablePct: 20 });
      expect(many.map((x) => [x.personId, x.peakAllocatedPct, x.meetsMinAvailable])).toEqual([
        [p, 90, false],
        [idle, 0, true],
      ]);
    });

    it("decodes field violations, over-allocation details, a missing token and a cancelled call", async () => {
      const { client } = await tenantClient();
      const bad = await rejection(
        client.work.capacity.set({ personId: "nobody", projectId: project(), periodStart: "2027-02-29", periodEnd: "2027-03-01", allocatedPct: 12.345 }),
      );
      expect([bad.code, bad.codeName]).toEqual([Code.InvalidArgument, "INVALID_ARGUMENT"]);
      expect(bad.badRequest?.map((v) => v.field)).toEqual(["capacity.person_id", "capacity.period_start", "capacity.allocated_pct"]);
      expect(bad.badRequest?.every((v) => v.description !== "")).toBe(true);
      expect(bad.requestId).toBeTruthy();
      expect(bad.errorInfo).toBeUndefined();

      const batch = await rejection(client.work.availability.batchGet([], { periodStart: "2027-04-01", periodEnd: "2027-03-01" }));
      expect(batch.badRequest?.map((v) => v.field)).toEqual(["person_ids", "period_end"]);

      const p = person();
      const base = { personId: p, projectId: project(), periodStart: "2027-04-01", periodEnd: "2027-04-30" };
      await client.work.capacity.set({ ...base, allocatedPct: 70 });
      const over = await rejection(
        client.work.capacity.set({ ...base, periodStart: "2027-04-10", allocatedPct: 40 }, { overallocationPolicy: OverallocationPolicy.REJECT }),
      );
      expect(over.codeName).toBe("FAILED_PRECONDITION");
      expect(over.errorInfo?.map((i) => [i.reason, i.domain, { ...i.metadata }])).toEqual([
        ["OVERALLOCATED", "capacity.work.v1", { person_id: p, period_start: "2027-04-10", period_end: "2027-04-30", allocated_pct: "110" }],
      ]);
      expect(over.preconditionFailure?.map((v) => [v.type, v.subject])).toEqual([["OVERALLOCATED", `persons/${p}`]]);

      const anonymous = protocol.connect(server.baseUrl, {});
      open.push(anonymous);
      const unauthenticated = await rejection(anonymous.work.capacity.get("cap_01M8FMTT425T0SWT9WYGC66PKF"));
      expect([unauthenticated.code, unauthenticated.codeName]).toEqual([Code.Unauthenticated, "UNAUTHENTICATED"]);

      const missing = await rejection(client.work.capacity.get("cap_01M8FMTT425T0SWT9WYGC66PKF"));
      expect(missing.codeName).toBe("NOT_FOUND");

      const cancelled = await rejection(client.work.capacity.list({}, { signal: AbortSignal.abort() }));
      expect(cancelled.codeName).toBe("CANCELLED");
    });
  });
});
