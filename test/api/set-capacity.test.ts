/**
 * SetCapacity's etag checks over a real listener, on both databases (Connect
 * JSON over HTTP/1.1). Every other rule of SetCapacity is proven on the
 * service core, without a listener: test/service/set-capacity.test.ts.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { countCapacities, createRequest, type CapacityInit } from "../helpers/capacities.js";
import { failure, ok, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { useTestServer, type TestServer } from "../helpers/server.js";

describe.each(ENGINES)("SetCapacity on %s", (engine) => {
  const suite = useTestServer(engine);
  let server: TestServer;
  let client: TestClient;
  let token: string;
  let t: string;
  beforeAll(async () => {
    server = suite.server;
    client = suite.client("connect-json-http1");
    t = tenant();
    token = await server.token(t);
  });

  const countRows = (): Promise<number> => countCapacities(server.db.knex, t);
  const fresh = (over: CapacityInit = {}) => createRequest({ periodStart: "2027-05-01", periodEnd: "2027-05-31", allocatedPct: 25, ...over });

  describe("update", () => {
    it("fails ABORTED on a stale etag and changes nothing", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      const u = ok(await client.call("setCapacity", { capacity: { id: c.id, notes: "v2", etag: c.etag }, updateMask: { paths: ["notes"] } }, token));
      const stale = failure(await client.call("setCapacity", { capacity: { id: c.id, notes: "v3", etag: c.etag }, updateMask: { paths: ["notes"] } }, token));
      expect(stale.code).toBe(Code.Aborted);
      for (const rpc of ["deleteCapacity", "confirmCapacity"] as const) {
        expect(failure(await client.call(rpc, { id: c.id, etag: c.etag }, token)).code).toBe(Code.Aborted);
      }
      expect(ok(await client.call("getCapacity", { id: c.id }, token))).toEqual(u);
    });
  });

  describe("OVERALLOCATION_POLICY_REJECT refusals", () => {
    const REJECT = OverallocationPolicy.REJECT;
    /** One person's records and their write counter: what a refused write must leave exactly as it was. */
    const personState = async (p: string) => ({
      capacities: await server.db.knex("capacities").where({ tenant_id: t, person_id: p }).orderBy("id"),
      counter: await server.db.knex("capacity_persons").where({ tenant_id: t, person_id: p }),
    });
    const refused = async (rpc: "setCapacity" | "confirmCapacity" | "undeleteCapacity", req: object): Promise<void> => {
      const f = failure(await client.call(rpc, req as never, token));
      expect({ rpc, code: f.code }).toEqual({ rpc, code: Code.FailedPrecondition });
      expect(f.message).toContain("OVERALLOCATION_POLICY_REJECT");
    };

    it("leaves the stored record whole, etag included, when an update is refused", async () => {
      const p = person();
      ok(await client.call("setCapacity", fresh({ personId: p, allocatedPct: 70 }), token));
      const x = ok(await client.call("setCapacity", fresh({ personId: p, allocatedPct: 30, notes: "before", source: "hris" }), token));
      const state = await personState(p);
      const masked = {
        capacity: { id: x.id, allocatedPct: 31, notes: "after", etag: x.etag },
        updateMask: { paths: ["allocated_pct", "notes"] },
        overallocationPolicy: REJECT,
      };
      const whole = {
        capacity: { id: x.id, personId: p, projectId: project(), periodStart: "2027-05-10", periodEnd: "2027-06-10", allocatedPct: 50, notes: "after" },
        overallocationPolicy: REJECT,
      };
      const requestId = randomUUID();
      for (const req of [masked, whole, { ...masked, validateOnly: true }, { ...whole, requestId }]) {
        await refused("setCapacity", req);
        expect(ok(await client.call("getCapacity", { id: x.id }, token))).toEqual(x);
      }
      expect(await personState(p)).toEqual(state);
      // Nor was the refused request remembered for a retry.
      expect(await server.db.knex("capacity_requests").where({ tenant_id: t, request_id: requestId })).toEqual([]);
    });

    it("leaves the stored record whole when a confirm is refused, a first one or a second", async () => {
      const p = person();
      ok(await client.call("setCapacity", fresh({ personId: p, allocatedPct: 80 }), token));
      const y = ok(await client.call("setCapacity", fresh({ personId: p, periodStart: "2027-05-10", periodEnd: "2027-05-12", allocatedPct: 30 }), token));
      const state = await personState(p);
      await refused("confirmCapacity", { id: y.id, overallocationPolicy: REJECT });
      await refused("confirmCapacity", { id: y.id, etag: y.etag, overallocationPolicy: REJECT });
      const stored = ok(await client.call("getCapacity", { id: y.id }, token));
      expect(stored).toEqual(y);
      expect({ confirmedById: stored.confirmedById, confirmedAt: stored.confirmedAt }).toEqual({ confirmedById: "", confirmedAt: undefined });
      expect(await personState(p)).toEqual(state);
      // Confirmed without the policy, then refused again: the first confirmation stands, stamps and etag as they were.
      const confirmed = ok(await client.call("confirmCapacity", { id: y.id }, token));
      const confirmedState = await personState(p);
      await refused("confirmCapacity", { id: y.id, etag: confirmed.etag, overallocationPolicy: REJECT });
      expect(ok(await client.call("getCapacity", { id: y.id }, token))).toEqual(confirmed);
      expect(await personState(p)).toEqual(confirmedState);
    });

    it("leaves the deleted record whole when an undelete is refused", async () => {
      const p = person();
      const x = ok(await client.call("setCapacity", fresh({ personId: p, allocatedPct: 60, notes: "resting" }), token));
      const gone = ok(await client.call("deleteCapacity", { id: x.id }, token));
      ok(await client.call("setCapacity", fresh({ personId: p, allocatedPct: 50 }), token));
      const state = await personState(p);
      await refused("undeleteCapacity", { id: x.id, overallocationPolicy: REJECT });
      await refused("undeleteCapacity", { id: x.id, etag: gone.etag, overallocationPolicy: REJECT });
      const stored = ok(await client.call("getCapacity", { id: x.id }, token));
      expect(stored).toEqual(gone);
      expect({ isDeleted: stored.isDeleted, deletedAt: stored.deletedAt, deletedBy: stored.deletedBy }).toEqual({
        isDeleted: true,
        deletedAt: gone.deletedAt,
        deletedBy: gone.deletedBy,
      });
      expect(await personState(p)).toEqual(state);
    });
  });

  describe("validate_only", () => {
    it("checks an update (etag, deleted, fields) and writes nothing", async () => {
      const c = ok(await client.call("setCapacity", fresh({ notes: "kept", source: "hris" }), token));
      const confirmed = ok(await client.call("confirmCapacity", { id: c.id }, token));
      const gone = ok(await client.call("deleteCapacity", { id: ok(await client.call("setCapacity", fresh({ notes: "gone" }), token)).id }, token));
      const storedRow = () => server.db.knex("capacities").where({ tenant_id: t }).whereIn("id", [c.id, gone.id]).orderBy("id");
      const rowsBefore = await storedRow();
      const before = await countRows();

      // The preview is the record as the update would leave it, every field: the new number, the
      // confirmation it voids, the writer, a new etag; everything else as stored.
      const preview = ok(
        await client.call(
          "setCapacity",
          { capacity: { id: c.id, allocatedPct: 80, etag: confirmed.etag }, updateMask: { paths: ["allocated_pct"] }, validateOnly: true },
          token,
        ),
      );
      expect(preview).toEqual({ ...confirmed, allocatedPct: 80, confirmedById: "", confirmedAt: undefined, updatedAt: preview.updatedAt, etag: preview.etag });
      expect(preview.etag).not.toBe(confirmed.etag);
      expect(preview.etag).not.toBe("");
      expect(Number(preview.updatedAt!.seconds)).toBeGreaterThanOrEqual(Number(confirmed.updatedAt!.seconds));
      expect({ isDeleted: preview.isDeleted, deletedAt: preview.deletedAt, deletedBy: preview.deletedBy }).toEqual({
        isDeleted: false,
        deletedAt: undefined,
        deletedBy: "",
      });

      // Etag: a stale one is ABORTED, also on the preview.
      expect(
        failure(
          await client.call(
            "setCapacity",
            { capacity: { id: c.id, allocatedPct: 80, etag: "stale" }, updateMask: { paths: ["allocated_pct"] }, validateOnly: true },
            token,
          ),
        ).code,
      ).toBe(Code.Aborted);

      // Fields: every broken field is named, as on a real write.
      const broken = {
        id: c.id,
        personId: "alice",
        projectId: "123",
        periodStart: "2027-02-29",
        periodEnd: "2027-13-01",
        allocatedPct: 100.01,
        notes: "n".repeat(4001),
        source: "s".repeat(65),
        sourceType: 77,
      };
      const fields = failure(await client.call("setCapacity", { capacity: broken, validateOnly: true }, token));
      expect(fields.code).toBe(Code.InvalidArgument);
      expect(fields.fields).toEqual([
        "capacity.person_id",
        "capacity.project_id",
        "capacity.period_start",
        "capacity.period_end",
        "capacity.allocated_pct",
        "capacity.notes",
        "capacity.source",
        "capacity.source_type",
      ]);

      // Deleted: FAILED_PRECONDITION (after the etag check), and the record stays deleted as it was:
      // the flag, deleted_at, deleted_by and every field.
      expect(gone.isDeleted).toBe(true);
      expect(gone.deletedAt).toBeDefined();
      expect(gone.deletedBy).toBe(gone.updatedBy);
      const onDeleted = { capacity: { id: gone.id, notes: "back", etag: gone.etag }, updateMask: { paths: ["notes"] }, validateOnly: true };
      expect(failure(await client.call("setCapacity", onDeleted, token)).code).toBe(Code.FailedPrecondition);
      expect(failure(await client.call("setCapacity", { ...onDeleted, capacity: { ...onDeleted.capacity, etag: "stale" } }, token)).code).toBe(Code.Aborted);
      const stillGone = ok(await client.call("getCapacity", { id: gone.id }, token));
      expect({ isDeleted: stillGone.isDeleted, deletedAt: stillGone.deletedAt, deletedBy: stillGone.deletedBy }).toEqual({
        isDeleted: true,
        deletedAt: gone.deletedAt,
        deletedBy: gone.deletedBy,
      });
      expect(stillGone).toEqual(gone);

      // Nothing was written: the same records, every field and etag as stored, row for row.
      expect(ok(await client.call("getCapacity", { id: c.id }, token))).toEqual(confirmed);
      expect(await storedRow()).toEqual(rowsBefore);
      expect(await countRows()).toBe(before);
    });
  });
});
