/**
 * Every RPC through every kind of client the service promises (Connect JSON
 * over HTTP/1.1, Connect binary over HTTP/2, gRPC via connect-node, gRPC via
 * @grpc/grpc-js), on both databases: same results, same codes, same details.
 */
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { CLIENT_KINDS, ok, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { useTestServer, type TestServer } from "../helpers/server.js";

describe.each(ENGINES)("on %s", (engine) => {
  const suite = useTestServer(engine);

  describe.each(CLIENT_KINDS)("through %s", (kind) => {
    let server: TestServer;
    let client: TestClient;
    beforeAll(() => {
      server = suite.server;
      client = suite.client(kind);
    });

    it("runs a record through create, get, list, update, confirm, delete and undelete", async () => {
      const t = tenant();
      const manager = person();
      const token = await server.token(t);
      const managerToken = await server.token(t, { sub: manager });
      const p = person();
      const created = ok(
        await client.call(
          "setCapacity",
          {
            capacity: { personId: p, projectId: project(), periodStart: "2027-03-01", periodEnd: "2027-03-31", allocatedPct: 33.33, notes: "ünïcødé ✓" },
          },
          token,
        ),
      );
      expect(created.id).toMatch(/^cap_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(created.tenantId).toBe(t);
      expect(created.allocatedPct).toBe(33.33);
      expect(created.notes).toBe("ünïcødé ✓");
      expect(created.schemaVersion).toBe(1);

      const got = ok(await client.call("getCapacity", { id: created.id }, token));
      expect(got).toEqual(created);

      const listed = ok(await client.call("listCapacities", { personId: p }, token));
      expect(listed.capacities.map((c) => c.id)).toEqual([created.id]);
      expect(listed.nextPageToken).toBe("");

      const updated = ok(
        await client.call(
          "setCapacity",
          { capacity: { id: created.id, allocatedPct: 50, etag: created.etag }, updateMask: { paths: ["allocated_pct"] } },
          token,
        ),
      );
      expect(updated.allocatedPct).toBe(50);
      expect(updated.periodStart).toBe("2027-03-01");
      expect(updated.etag).not.toBe(created.etag);

      const confirmed = ok(await client.call("confirmCapacity", { id: created.id, etag: updated.etag }, managerToken));
      expect(confirmed.confirmedById).toBe(manager);
      expect(confirmed.confirmedAt).toBeDefined();

      const deleted = ok(await client.call("deleteCapacity", { id: created.id }, token));
      expect(deleted.isDeleted).toBe(true);
      expect(deleted.deletedAt).toBeDefined();

      const restored = ok(await client.call("undeleteCapacity", { id: created.id, etag: deleted.etag }, token));
      expect(restored.isDeleted).toBe(false);
      expect(restored.deletedAt).toBeUndefined();
      expect(restored.confirmedById).toBe(manager);
    });

    it("gives the same codes and field details for bad calls", async () => {
      const token = await server.token(tenant());
      const bad = await client.call(
        "setCapacity",
        { capacity: { personId: "nobody", projectId: project(), periodStart: "2027-02-29", periodEnd: "2027-03-01", allocatedPct: 12.345 } },
        token,
      );
      expect(bad.ok).toBe(false);
      if (bad.ok) return;
      expect(bad.code).toBe(Code.InvalidArgument);
      expect(bad.violations.map((v) => v.field)).toEqual(["capacity.person_id", "capacity.period_start", "capacity.allocated_pct"]);
      expect(bad.requestId).toBeTruthy();

      const missing = await client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" }, token);
      expect(missing.ok ? "ok" : missing.code).toBe(Code.NotFound);

      const unauthenticated = await client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" });
      expect(unauthenticated.ok ? "ok" : unauthenticated.code).toBe(Code.Unauthenticated);
    });

    it("answers availability reads and refuses over-allocation with the same details", async () => {
      const token = await server.token(tenant());
      const p = person();
      const base = { personId: p, projectId: project(), periodStart: "2027-04-01", periodEnd: "2027-04-30" };
      const first = ok(await client.call("setCapacity", { capacity: { ...base, allocatedPct: 70 } }, token));
      const refused = await client.call(
        "setCapacity",
        { capacity: { ...base, periodStart: "2027-04-10", allocatedPct: 40 }, overallocationPolicy: OverallocationPolicy.REJECT },
        token,
      );
      expect(refused.ok ? "ok" : [refused.code, refused.errorInfo[0]?.metadata]).toEqual([
        Code.FailedPrecondition,
        { person_id: p, period_start: "2027-04-10", period_end: "2027-04-30", allocated_pct: "110" },
      ]);
      const one = ok(
        await client.call("getPersonAvailability", { personId: p, periodStart: "2027-03-31", periodEnd: "2027-04-30", includeCapacityIds: true }, token),
      );
      expect(one.segments.map((x) => [x.periodStart, x.allocatedPct, x.capacityIds])).toEqual([
        ["2027-03-31", 0, []],
        ["2027-04-01", 70, [first.id]],
      ]);
      const batch = ok(
        await client.call(
          "batchGetPersonAvailability",
          { personIds: [p, person()], periodStart: "2027-04-01", periodEnd: "2027-04-30", minAvailablePct: 30 },
          token,
        ),
      );
      expect(batch.availabilities.map((a) => [a.averageAllocatedPct, a.meetsMinAvailable])).toEqual([
        [70, true],
        [0, true],
      ]);
      const bad = await client.call("batchGetPersonAvailability", { personIds: [], periodStart: "2027-04-01", periodEnd: "2027-03-01" }, token);
      expect(bad.ok ? "ok" : [bad.code, bad.violations.map((v) => v.field)]).toEqual([Code.InvalidArgument, ["person_ids", "period_end"]]);
    });

    it("treats another tenant's and another app's records as missing on every RPC", async () => {
      const owner = tenant();
      const ownerToken = await server.token(owner, { appId: "crm" });
      const record = ok(
        await client.call(
          "setCapacity",
          { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 10 } },
          ownerToken,
        ),
      );
      const intruders = [await server.token(tenant()), await server.token(owner, { appId: "erp" })];
      for (const intruder of intruders) {
        const calls = [
          client.call("getCapacity", { id: record.id }, intruder),
          client.call("setCapacity", { capacity: { id: record.id, allocatedPct: 99 }, updateMask: { paths: ["allocated_pct"] } }, intruder),
          client.call("deleteCapacity", { id: record.id }, intruder),
          client.call("undeleteCapacity", { id: record.id }, intruder),
          client.call("confirmCapacity", { id: record.id }, intruder),
        ];
        for (const outcome of await Promise.all(calls)) {
          expect(outcome.ok ? "ok" : outcome.code).toBe(Code.NotFound);
        }
        const listed = ok(await client.call("listCapacities", { personId: record.personId }, intruder));
        expect(listed.capacities).toEqual([]);
        const window = { periodStart: "2027-01-01", periodEnd: "2027-01-02" };
        const seen = ok(await client.call("getPersonAvailability", { personId: record.personId, ...window }, intruder));
        expect(seen.segments.flatMap((x) => x.capacityIds)).toEqual([]);
        const batch = ok(await client.call("batchGetPersonAvailability", { personIds: [record.personId], ...window }, intruder));
        expect(batch.availabilities[0]!.peakAllocatedPct).toBe(0);
      }
      expect(ok(await client.call("getCapacity", { id: record.id }, ownerToken))).toEqual(record);
      // The tenant-wide token (no app) sees every app's records of its tenant.
      const tenantWide = await server.token(owner);
      expect(ok(await client.call("getCapacity", { id: record.id }, tenantWide)).appId).toBe("crm");
    });
  });
});
