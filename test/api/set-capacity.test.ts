/** SetCapacity's rules over a real listener, on both databases (Connect JSON over HTTP/1.1). */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OverallocationPolicy, SourceType } from "../../src/gen/work/v1/capacity_pb.js";
import { createTestClient, ok, type Outcome, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** The parts of a Capacity these tests send (plain objects, as a client would build them). */
interface CapacityInit {
  id: string;
  tenantId: string;
  appId: string;
  createdAt: { seconds: bigint; nanos: number };
  createdBy: string;
  isDeleted: boolean;
  schemaVersion: number;
  confirmedById: string;
  personId: string;
  projectId: string;
  periodStart: string;
  periodEnd: string;
  allocatedPct: number | undefined;
  notes: string;
  source: string;
  sourceType: SourceType;
  etag: string;
}
interface SetRequest {
  capacity: Partial<CapacityInit>;
  updateMask?: { paths: string[] };
  requestId?: string;
  validateOnly?: boolean;
}

function failure<T>(outcome: Outcome<T>): { code: Code; fields: string[]; message: string } {
  if (outcome.ok) throw new Error("expected a failure, got success");
  return { code: outcome.code, fields: outcome.violations.map((v) => v.field), message: outcome.message };
}

describe.each(ENGINES)("SetCapacity on %s", (engine) => {
  let server: TestServer;
  let client: TestClient;
  let token: string;
  let t: string;
  beforeAll(async () => {
    server = await startTestServer(engine);
    client = createTestClient("connect-json-http1", server.baseUrl);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });
  beforeAll(async () => {
    t = tenant();
    token = await server.token(t);
  });

  const fresh = (over: Partial<CapacityInit> = {}): SetRequest => ({
    capacity: { personId: person(), projectId: project(), periodStart: "2027-05-01", periodEnd: "2027-05-31", allocatedPct: 25, ...over },
  });
  const countRows = async (): Promise<number> => {
    const [row] = await server.db.knex("capacities").where("tenant_id", t).count({ n: "*" });
    return Number(row?.n);
  };

  it("ignores server-stamped values sent by the client", async () => {
    const sent = await client.call(
      "setCapacity",
      fresh({
        tenantId: "other",
        appId: "forged",
        createdBy: "per_01M8FMTT425T0SWT9WYGC66PKF",
        createdAt: { seconds: 1n, nanos: 0 },
        isDeleted: true,
        schemaVersion: 7,
        confirmedById: "per_01M8FMTT425T0SWT9WYGC66PKF",
        etag: "",
      }),
      token,
    );
    const c = ok(sent);
    expect(c).toMatchObject({ tenantId: t, appId: "", isDeleted: false, schemaVersion: 1, confirmedById: "", source: "edm", sourceType: SourceType.API });
    expect(c.createdBy).not.toBe("per_01M8FMTT425T0SWT9WYGC66PKF");
    expect(Number(c.createdAt?.seconds)).toBeGreaterThan(1_700_000_000);
  });

  it("keeps a sent source and source type", async () => {
    const c = ok(await client.call("setCapacity", fresh({ source: "hris-import", sourceType: SourceType.SERVER }), token));
    expect(c.source).toBe("hris-import");
    expect(c.sourceType).toBe(SourceType.SERVER);
  });

  it.each([
    ["capacity.person_id", { personId: "alice" }],
    ["capacity.person_id", { personId: "" }],
    ["capacity.project_id", { projectId: "123" }],
    ["capacity.period_start", { periodStart: "2027-02-29" }],
    ["capacity.period_start", { periodStart: "27-01-01" }],
    ["capacity.period_end", { periodEnd: "2027-13-01" }],
    ["capacity.period_end", { periodEnd: "2027-04-30" }],
    ["capacity.allocated_pct", { allocatedPct: 100.01 }],
    ["capacity.allocated_pct", { allocatedPct: -1 }],
    ["capacity.allocated_pct", { allocatedPct: 33.333 }],
    ["capacity.allocated_pct", { allocatedPct: Number.NaN }],
    ["capacity.allocated_pct", { allocatedPct: Number.POSITIVE_INFINITY }],
    ["capacity.allocated_pct", { allocatedPct: undefined }],
    ["capacity.notes", { notes: "n".repeat(4001) }],
    ["capacity.source", { source: "s".repeat(65) }],
    ["capacity.source_type", { sourceType: 77 }],
    ["capacity.id", { id: "cap_nope" }],
  ])("rejects a bad %s and writes nothing", async (field, over) => {
    const before = await countRows();
    const f = failure(await client.call("setCapacity", fresh(over), token));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.fields).toEqual([field]);
    expect(await countRows()).toBe(before);
  });

  it("rejects a request without a capacity, a malformed request_id and a mask on create", async () => {
    expect(failure(await client.call("setCapacity", {}, token)).fields).toEqual(["capacity"]);
    expect(failure(await client.call("setCapacity", { ...fresh(), requestId: "retry-1" }, token)).fields).toEqual(["request_id"]);
    expect(failure(await client.call("setCapacity", { ...fresh(), updateMask: { paths: ["notes"] } }, token)).fields).toEqual([
      "update_mask",
    ]);
  });

  it("accepts the edges: 0% and 100%, 4,000 characters of notes, one-day periods", async () => {
    expect(ok(await client.call("setCapacity", fresh({ allocatedPct: 0 }), token)).allocatedPct).toBe(0);
    expect(ok(await client.call("setCapacity", fresh({ allocatedPct: 100 }), token)).allocatedPct).toBe(100);
    const notes = `${"é".repeat(3998)}😀\u0000`;
    expect(ok(await client.call("setCapacity", fresh({ notes }), token)).notes).toBe(notes);
    expect(ok(await client.call("setCapacity", fresh({ periodEnd: "2027-05-01" }), token)).periodEnd).toBe("2027-05-01");
  });

  it("stores percentages exactly", async () => {
    for (const pct of [33.33, 33.34, 0.01, 99.99, 12.5]) {
      const c = ok(await client.call("setCapacity", fresh({ allocatedPct: pct }), token));
      expect(ok(await client.call("getCapacity", { id: c.id }, token)).allocatedPct).toBe(pct);
    }
    const row = await server.db.knex("capacities").where({ tenant_id: t }).andWhere("allocated_bp", 3333).first();
    expect(row).toBeDefined();
  });

  it.each(["getCapacity", "deleteCapacity", "undeleteCapacity", "confirmCapacity"] as const)(
    "%s rejects a missing or malformed id as INVALID_ARGUMENT on id",
    async (rpc) => {
      for (const id of ["", "cap_123", "per_01M8FMTT425T0SWT9WYGC66PKF", "cap_01M8FMTT425T0SWT9WYGC66PKF'--"]) {
        const f = failure(await client.call(rpc, { id }, token));
        expect(f.code).toBe(Code.InvalidArgument);
        expect(f.fields).toEqual(["id"]);
      }
    },
  );

  it("returns a deleted record from GetCapacity", async () => {
    const c = ok(await client.call("setCapacity", fresh(), token));
    const d = ok(await client.call("deleteCapacity", { id: c.id }, token));
    expect(ok(await client.call("getCapacity", { id: c.id }, token))).toEqual(d);
  });

  describe("update", () => {
    it("changes only the masked fields", async () => {
      const c = ok(await client.call("setCapacity", fresh({ notes: "before" }), token));
      const u = ok(
        await client.call(
          "setCapacity",
          { capacity: { id: c.id, notes: "after", allocatedPct: 90, personId: "garbage" }, updateMask: { paths: ["notes"] } },
          token,
        ),
      );
      expect(u).toMatchObject({ notes: "after", allocatedPct: 25, personId: c.personId, createdAt: c.createdAt, createdBy: c.createdBy });
      expect(u.updatedAt!.seconds * 1000n + BigInt(u.updatedAt!.nanos / 1e6)).toBeGreaterThanOrEqual(
        c.updatedAt!.seconds * 1000n + BigInt(c.updatedAt!.nanos / 1e6),
      );
    });

    it("replaces every writable field without a mask", async () => {
      const c = ok(await client.call("setCapacity", fresh({ notes: "gone soon", source: "x" }), token));
      const u = ok(
        await client.call(
          "setCapacity",
          { capacity: { id: c.id, personId: c.personId, projectId: c.projectId, periodStart: "2027-06-01", periodEnd: "2027-06-30", allocatedPct: 10 } },
          token,
        ),
      );
      expect(u).toMatchObject({ notes: "", source: "edm", periodStart: "2027-06-01", allocatedPct: 10 });
      const partial = failure(await client.call("setCapacity", { capacity: { id: c.id, notes: "only notes" } }, token));
      expect(partial.fields).toEqual([
        "capacity.person_id",
        "capacity.project_id",
        "capacity.period_start",
        "capacity.period_end",
        "capacity.allocated_pct",
      ]);
    });

    it("rejects unknown and output-only mask paths", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      for (const path of ["nope", "allocated_pct.value", "etag", "created_at"]) {
        const f = failure(await client.call("setCapacity", { capacity: { id: c.id }, updateMask: { paths: [path] } }, token));
        expect(f.code).toBe(Code.InvalidArgument);
        expect(f.fields).toEqual(["update_mask"]);
      }
      expect(ok(await client.call("getCapacity", { id: c.id }, token)).etag).toBe(c.etag);
    });

    it("fails ABORTED on a stale etag and changes nothing", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      const u = ok(await client.call("setCapacity", { capacity: { id: c.id, notes: "v2", etag: c.etag }, updateMask: { paths: ["notes"] } }, token));
      const stale = failure(
        await client.call("setCapacity", { capacity: { id: c.id, notes: "v3", etag: c.etag }, updateMask: { paths: ["notes"] } }, token),
      );
      expect(stale.code).toBe(Code.Aborted);
      for (const rpc of ["deleteCapacity", "confirmCapacity"] as const) {
        expect(failure(await client.call(rpc, { id: c.id, etag: c.etag }, token)).code).toBe(Code.Aborted);
      }
      expect(ok(await client.call("getCapacity", { id: c.id }, token))).toEqual(u);
    });

    it("returns NOT_FOUND for an id that does not exist", async () => {
      const f = failure(await client.call("setCapacity", fresh({ id: "cap_01M8FMTT425T0SWT9WYGC66PKF" }), token));
      expect(f.code).toBe(Code.NotFound);
    });

    it("refuses to write a deleted record (FAILED_PRECONDITION) until it is undeleted", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      ok(await client.call("deleteCapacity", { id: c.id }, token));
      const f = failure(await client.call("setCapacity", { capacity: { id: c.id, notes: "x" }, updateMask: { paths: ["notes"] } }, token));
      expect(f.code).toBe(Code.FailedPrecondition);
      expect(failure(await client.call("confirmCapacity", { id: c.id }, token)).code).toBe(Code.FailedPrecondition);
      expect(failure(await client.call("deleteCapacity", { id: c.id }, token)).code).toBe(Code.FailedPrecondition);
      ok(await client.call("undeleteCapacity", { id: c.id }, token));
      expect(failure(await client.call("undeleteCapacity", { id: c.id }, token)).code).toBe(Code.AlreadyExists);
      ok(await client.call("setCapacity", { capacity: { id: c.id, notes: "x" }, updateMask: { paths: ["notes"] } }, token));
    });

    it("clears the confirmation when the confirmed numbers change, not when notes do", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      const confirmed = ok(await client.call("confirmCapacity", { id: c.id }, token));
      expect(confirmed.confirmedById).not.toBe("");
      const notes = ok(await client.call("setCapacity", { capacity: { id: c.id, notes: "fine" }, updateMask: { paths: ["notes"] } }, token));
      expect(notes.confirmedById).toBe(confirmed.confirmedById);
      expect(notes.confirmedAt).toEqual(confirmed.confirmedAt);
      const pct = ok(await client.call("setCapacity", { capacity: { id: c.id, allocatedPct: 26 }, updateMask: { paths: ["allocated_pct"] } }, token));
      expect(pct.confirmedById).toBe("");
      expect(pct.confirmedAt).toBeUndefined();
    });
  });

  describe("request_id", () => {
    it("replays the first result of a retried create and writes nothing more", async () => {
      const requestId = randomUUID();
      const req = { ...fresh(), requestId };
      const first = ok(await client.call("setCapacity", req, token));
      const before = await countRows();
      const again = ok(await client.call("setCapacity", req, token));
      expect(again).toEqual(first);
      expect(await countRows()).toBe(before);
    });

    it("rejects the same request_id with a different request, or from another caller", async () => {
      const requestId = randomUUID();
      const req = { ...fresh(), requestId };
      ok(await client.call("setCapacity", req, token));
      const before = await countRows();
      const changed = { ...req, capacity: { ...req.capacity, allocatedPct: 26 } };
      const f = failure(await client.call("setCapacity", changed, token));
      expect(f.code).toBe(Code.InvalidArgument);
      expect(f.fields).toEqual(["request_id"]);
      expect(failure(await client.call("setCapacity", req, await server.token(t))).fields).toEqual(["request_id"]);
      expect(await countRows()).toBe(before);
    });

    it("replays an update's first result even after later writes", async () => {
      const c = ok(await client.call("setCapacity", fresh(), token));
      const req = { capacity: { id: c.id, notes: "once" }, updateMask: { paths: ["notes"] }, requestId: randomUUID() };
      const first = ok(await client.call("setCapacity", req, token));
      ok(await client.call("setCapacity", { capacity: { id: c.id, notes: "later" }, updateMask: { paths: ["notes"] } }, token));
      expect(ok(await client.call("setCapacity", req, token))).toEqual(first);
      expect(ok(await client.call("getCapacity", { id: c.id }, token)).notes).toBe("later");
    });

    it("makes exactly one record from concurrent calls with one request_id", async () => {
      const req = { ...fresh(), requestId: randomUUID() };
      const before = await countRows();
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => client.call("setCapacity", req, token)));
      const values = outcomes.map(ok);
      expect(new Set(values.map((v) => v.id)).size).toBe(1);
      for (const v of values) expect(v).toEqual(values[0]);
      expect(await countRows()).toBe(before + 1);
    });

    it("is scoped to the tenant: another tenant may use the same id", async () => {
      const requestId = randomUUID();
      const mine = ok(await client.call("setCapacity", { ...fresh(), requestId }, token));
      const theirs = ok(await client.call("setCapacity", { ...fresh(), requestId }, await server.token(tenant())));
      expect(theirs.id).not.toBe(mine.id);
    });

    it("is scoped to the (tenant, app): two apps of one tenant each get their own record, and each replays its own", async () => {
      const requestId = randomUUID();
      const sub = person();
      const crm = await server.token(t, { sub, appId: "crm" });
      const erp = await server.token(t, { sub, appId: "erp" });
      const before = await countRows();
      const req = { ...fresh(), requestId };
      // The same request body and caller from two apps, and from the tenant-wide token.
      const fromCrm = ok(await client.call("setCapacity", req, crm));
      const fromErp = ok(await client.call("setCapacity", req, erp));
      const fromTenant = ok(await client.call("setCapacity", req, await server.token(t, { sub })));
      expect(new Set([fromCrm.id, fromErp.id, fromTenant.id]).size).toBe(3);
      expect([fromCrm.appId, fromErp.appId, fromTenant.appId]).toEqual(["crm", "erp", ""]);
      expect(await countRows()).toBe(before + 3);
      // Retries replay each app's own first answer and write nothing.
      expect(ok(await client.call("setCapacity", req, crm))).toEqual(fromCrm);
      expect(ok(await client.call("setCapacity", req, erp))).toEqual(fromErp);
      expect(await countRows()).toBe(before + 3);
      // A different request under an app's id is still refused, and the other app's record does not leak into it.
      const changed = { ...req, capacity: { ...req.capacity, allocatedPct: 26 } };
      expect(failure(await client.call("setCapacity", changed, erp)).fields).toEqual(["request_id"]);
      const stored = await server.db.knex("capacity_requests").where({ tenant_id: t, request_id: requestId }).orderBy("app_id").pluck("app_id");
      expect(stored).toEqual(["", "crm", "erp"]);
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
      const masked = { capacity: { id: x.id, allocatedPct: 31, notes: "after", etag: x.etag }, updateMask: { paths: ["allocated_pct", "notes"] }, overallocationPolicy: REJECT };
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
      expect({ isDeleted: stored.isDeleted, deletedAt: stored.deletedAt, deletedBy: stored.deletedBy }).toEqual({ isDeleted: true, deletedAt: gone.deletedAt, deletedBy: gone.deletedBy });
      expect(await personState(p)).toEqual(state);
    });
  });

  describe("validate_only", () => {
    it("checks a create and writes nothing", async () => {
      const before = await countRows();
      const c = ok(await client.call("setCapacity", { ...fresh(), validateOnly: true }, token));
      expect(c.id).toBe("");
      expect(c.allocatedPct).toBe(25);
      expect(await countRows()).toBe(before);
      expect(failure(await client.call("setCapacity", { ...fresh({ allocatedPct: 101 }), validateOnly: true }, token)).code).toBe(
        Code.InvalidArgument,
      );
    });

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
        await client.call("setCapacity", { capacity: { id: c.id, allocatedPct: 80, etag: confirmed.etag }, updateMask: { paths: ["allocated_pct"] }, validateOnly: true }, token),
      );
      expect(preview).toEqual({ ...confirmed, allocatedPct: 80, confirmedById: "", confirmedAt: undefined, updatedAt: preview.updatedAt, etag: preview.etag });
      expect(preview.etag).not.toBe(confirmed.etag);
      expect(preview.etag).not.toBe("");
      expect(Number(preview.updatedAt!.seconds)).toBeGreaterThanOrEqual(Number(confirmed.updatedAt!.seconds));
      expect({ isDeleted: preview.isDeleted, deletedAt: preview.deletedAt, deletedBy: preview.deletedBy }).toEqual({ isDeleted: false, deletedAt: undefined, deletedBy: "" });

      // Etag: a stale one is ABORTED, also on the preview.
      expect(
        failure(await client.call("setCapacity", { capacity: { id: c.id, allocatedPct: 80, etag: "stale" }, updateMask: { paths: ["allocated_pct"] }, validateOnly: true }, token))
          .code,
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
