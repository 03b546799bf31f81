/**
 * SetCapacity's rules, and the id checks and transitions of the other write
 * RPCs, on the service core (no listener) over both databases: validation
 * (code, field, description), masks, etags, deleted records, request_id
 * replays and validate_only.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../../src/auth/caller.js";
import { DATE_RULE } from "../../src/domain/dates.js";
import { REFERENCE_RULE } from "../../src/domain/ids.js";
import { PERCENT_RULE } from "../../src/domain/percent.js";
import { OverallocationPolicy, SourceType } from "../../src/gen/work/v1/capacity_pb.js";
import { countCapacities, createRequest, type CapacityInit } from "../helpers/capacities.js";
import { failed } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { newCaller, useTestService, type ServiceClient } from "../helpers/service.js";

const UNKNOWN_ID = "cap_01M8FMTT425T0SWT9WYGC66PKF";

describe.each(ENGINES)("SetCapacity on %s", (engine) => {
  const suite = useTestService({ engine });
  let me: Caller;
  let client: ServiceClient;
  beforeAll(() => {
    me = newCaller();
    client = suite.service.client(me);
  });

  const fresh = (over: CapacityInit = {}) => createRequest({ periodStart: "2027-05-01", periodEnd: "2027-05-31", allocatedPct: 25, ...over });
  const countRows = (): Promise<number> => countCapacities(suite.service.knex, me.tenantId);

  it("ignores server-stamped values sent by the client", async () => {
    const forged = "per_01M8FMTT425T0SWT9WYGC66PKF";
    const c = await client.setCapacity(
      fresh({
        tenantId: "other",
        appId: "forged",
        createdBy: forged,
        createdAt: { seconds: 1n, nanos: 0 },
        isDeleted: true,
        schemaVersion: 7,
        confirmedById: forged,
        etag: "",
      }),
    );
    expect(c).toMatchObject({
      tenantId: me.tenantId,
      appId: "",
      isDeleted: false,
      schemaVersion: 1,
      confirmedById: "",
      source: "edm",
      sourceType: SourceType.API,
    });
    expect(c.createdBy).toBe(me.personId);
    expect(Number(c.createdAt?.seconds)).toBeGreaterThan(1_700_000_000);
  });

  it("keeps a sent source and source type", async () => {
    const c = await client.setCapacity(fresh({ source: "hris-import", sourceType: SourceType.SERVER }));
    expect(c.source).toBe("hris-import");
    expect(c.sourceType).toBe(SourceType.SERVER);
  });

  it.each<[string, CapacityInit, string]>([
    ["capacity.person_id", { personId: "alice" }, REFERENCE_RULE],
    ["capacity.person_id", { personId: "" }, "is required"],
    ["capacity.project_id", { projectId: "123" }, REFERENCE_RULE],
    ["capacity.period_start", { periodStart: "2027-02-29" }, DATE_RULE],
    ["capacity.period_start", { periodStart: "27-01-01" }, DATE_RULE],
    ["capacity.period_end", { periodEnd: "2027-13-01" }, DATE_RULE],
    ["capacity.period_end", { periodEnd: "2027-04-30" }, "must not be before period_start"],
    ["capacity.allocated_pct", { allocatedPct: 100.01 }, PERCENT_RULE],
    ["capacity.allocated_pct", { allocatedPct: -1 }, PERCENT_RULE],
    ["capacity.allocated_pct", { allocatedPct: 33.333 }, PERCENT_RULE],
    ["capacity.allocated_pct", { allocatedPct: Number.NaN }, PERCENT_RULE],
    ["capacity.allocated_pct", { allocatedPct: Number.POSITIVE_INFINITY }, PERCENT_RULE],
    ["capacity.allocated_pct", { allocatedPct: undefined }, "is required"],
    ["capacity.notes", { notes: "n".repeat(4001) }, "must be at most 4000 characters"],
    ["capacity.source", { source: "s".repeat(65) }, "must be at most 64 characters"],
    ["capacity.source_type", { sourceType: 77 as SourceType }, "must be a known SourceType value"],
    ["capacity.id", { id: "cap_nope" }, "must be a capacity id: cap_ followed by a ULID"],
  ])("rejects a bad %s (%j) with its rule and writes nothing", async (field, over, description) => {
    const before = await countRows();
    const f = await failed(client.setCapacity(fresh(over)));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.violations).toEqual([{ field, description }]);
    expect(f.message).toBe(`${field}: ${description}`);
    expect(await countRows()).toBe(before);
  });

  it("reports every broken rule of one request, in field order", async () => {
    const f = await failed(
      client.setCapacity({ capacity: { personId: "nobody", projectId: "", periodStart: "2027-02-29", periodEnd: "2027-03-01", allocatedPct: 12.345 } }),
    );
    expect(f.fields).toEqual(["capacity.person_id", "capacity.project_id", "capacity.period_start", "capacity.allocated_pct"]);
  });

  it("rejects a request without a capacity, a malformed request_id and a mask on create", async () => {
    expect((await failed(client.setCapacity({}))).violations).toEqual([{ field: "capacity", description: "is required" }]);
    expect((await failed(client.setCapacity({ ...fresh(), requestId: "retry-1" }))).violations).toEqual([
      { field: "request_id", description: "must be a UUID" },
    ]);
    expect((await failed(client.setCapacity({ ...fresh(), updateMask: { paths: ["notes"] } }))).violations).toEqual([
      { field: "update_mask", description: "applies to updates only (capacity.id set)" },
    ]);
    expect((await failed(client.setCapacity({ ...fresh(), overallocationPolicy: 9 as OverallocationPolicy }))).fields).toEqual(["overallocation_policy"]);
  });

  it.each(["getCapacity", "deleteCapacity", "undeleteCapacity", "confirmCapacity"] as const)(
    "%s rejects a missing or malformed id as INVALID_ARGUMENT on id",
    async (rpc) => {
      for (const id of ["", "cap_123", "per_01M8FMTT425T0SWT9WYGC66PKF", "cap_01M8FMTT425T0SWT9WYGC66PKF'--"]) {
        const f = await failed(client[rpc]({ id }));
        expect(f.code).toBe(Code.InvalidArgument);
        expect(f.fields).toEqual(["id"]);
      }
    },
  );

  it.each(["getCapacity", "deleteCapacity", "undeleteCapacity", "confirmCapacity"] as const)(
    "%s answers NOT_FOUND for an id that does not exist",
    async (rpc) => {
      const f = await failed(client[rpc]({ id: UNKNOWN_ID }));
      expect(f).toMatchObject({ code: Code.NotFound, message: `capacity ${UNKNOWN_ID} not found` });
    },
  );

  it("returns a deleted record from GetCapacity", async () => {
    const c = await client.setCapacity(fresh());
    const d = await client.deleteCapacity({ id: c.id });
    expect(await client.getCapacity({ id: c.id })).toEqual(d);
  });

  describe("update", () => {
    it("changes only the masked fields", async () => {
      const c = await client.setCapacity(fresh({ notes: "before" }));
      const u = await client.setCapacity({ capacity: { id: c.id, notes: "after", allocatedPct: 90, personId: "garbage" }, updateMask: { paths: ["notes"] } });
      expect(u).toMatchObject({ notes: "after", allocatedPct: 25, personId: c.personId, createdAt: c.createdAt, createdBy: c.createdBy });
      const ms = (t: typeof u.updatedAt) => t!.seconds * 1000n + BigInt(t!.nanos / 1e6);
      expect(ms(u.updatedAt)).toBeGreaterThanOrEqual(ms(c.updatedAt));
      expect(u.etag).not.toBe(c.etag);
    });

    it("replaces every writable field without a mask, and with *", async () => {
      const c = await client.setCapacity(fresh({ notes: "gone soon", source: "x" }));
      const whole = { id: c.id, personId: c.personId, projectId: c.projectId, periodStart: "2027-06-01", periodEnd: "2027-06-30", allocatedPct: 10 };
      expect(await client.setCapacity({ capacity: whole })).toMatchObject({ notes: "", source: "edm", periodStart: "2027-06-01", allocatedPct: 10 });
      expect(await client.setCapacity({ capacity: { ...whole, notes: "star" }, updateMask: { paths: ["*"] } })).toMatchObject({
        notes: "star",
        allocatedPct: 10,
      });
      const partial = await failed(client.setCapacity({ capacity: { id: c.id, notes: "only notes" } }));
      expect(partial.fields).toEqual(["capacity.person_id", "capacity.project_id", "capacity.period_start", "capacity.period_end", "capacity.allocated_pct"]);
    });

    it("rejects unknown and output-only mask paths, and checks only the masked fields", async () => {
      const c = await client.setCapacity(fresh());
      for (const [path, description] of [
        ["nope", /^unknown path "nope"; writable paths are person_id, .* or \*$/],
        ["allocated_pct.value", /^unknown path "allocated_pct.value"/],
        ["etag", /^path "etag" is output only$/],
        ["created_at", /^path "created_at" is output only$/],
      ] as const) {
        const f = await failed(client.setCapacity({ capacity: { id: c.id }, updateMask: { paths: [path] } }));
        expect(f.code).toBe(Code.InvalidArgument);
        expect(f.fields).toEqual(["update_mask"]);
        expect(f.violations[0]!.description).toMatch(description);
      }
      // A masked field is checked, also against the stored ones it meets (period_end before the stored start).
      const bad = await failed(client.setCapacity({ capacity: { id: c.id, periodEnd: "2027-04-01" }, updateMask: { paths: ["period_end"] } }));
      expect(bad.violations).toEqual([{ field: "capacity.period_end", description: "must not be before period_start" }]);
      expect((await client.getCapacity({ id: c.id })).etag).toBe(c.etag);
    });

    it("fails ABORTED on a stale etag and changes nothing; an empty etag skips the check", async () => {
      const c = await client.setCapacity(fresh());
      const u = await client.setCapacity({ capacity: { id: c.id, notes: "v2", etag: c.etag }, updateMask: { paths: ["notes"] } });
      const stale = await failed(client.setCapacity({ capacity: { id: c.id, notes: "v3", etag: c.etag }, updateMask: { paths: ["notes"] } }));
      expect(stale).toMatchObject({ code: Code.Aborted, message: `etag does not match: capacity ${c.id} has changed; read it again` });
      for (const rpc of ["deleteCapacity", "confirmCapacity", "undeleteCapacity"] as const) {
        expect((await failed(client[rpc]({ id: c.id, etag: c.etag }))).code).toBe(Code.Aborted);
      }
      expect(await client.getCapacity({ id: c.id })).toEqual(u);
      expect((await client.setCapacity({ capacity: { id: c.id, notes: "v4" }, updateMask: { paths: ["notes"] } })).notes).toBe("v4");
    });

    it("returns NOT_FOUND for an id that does not exist", async () => {
      const f = await failed(client.setCapacity(fresh({ id: UNKNOWN_ID })));
      expect(f.code).toBe(Code.NotFound);
    });

    it("refuses to write a deleted record (FAILED_PRECONDITION) until it is undeleted", async () => {
      const c = await client.setCapacity(fresh());
      await client.deleteCapacity({ id: c.id });
      const f = await failed(client.setCapacity({ capacity: { id: c.id, notes: "x" }, updateMask: { paths: ["notes"] } }));
      expect(f).toMatchObject({ code: Code.FailedPrecondition, message: `capacity ${c.id} is deleted; undelete it first` });
      expect((await failed(client.confirmCapacity({ id: c.id }))).code).toBe(Code.FailedPrecondition);
      expect((await failed(client.deleteCapacity({ id: c.id }))).code).toBe(Code.FailedPrecondition);
      await client.undeleteCapacity({ id: c.id });
      expect(await failed(client.undeleteCapacity({ id: c.id }))).toMatchObject({ code: Code.AlreadyExists, message: `capacity ${c.id} is not deleted` });
      await client.setCapacity({ capacity: { id: c.id, notes: "x" }, updateMask: { paths: ["notes"] } });
    });

    it("clears the confirmation when the confirmed numbers change, not when notes do", async () => {
      const c = await client.setCapacity(fresh());
      const confirmed = await client.confirmCapacity({ id: c.id });
      expect(confirmed.confirmedById).toBe(me.personId);
      const notes = await client.setCapacity({ capacity: { id: c.id, notes: "fine" }, updateMask: { paths: ["notes"] } });
      expect(notes.confirmedById).toBe(confirmed.confirmedById);
      expect(notes.confirmedAt).toEqual(confirmed.confirmedAt);
      const pct = await client.setCapacity({ capacity: { id: c.id, allocatedPct: 26 }, updateMask: { paths: ["allocated_pct"] } });
      expect(pct.confirmedById).toBe("");
      expect(pct.confirmedAt).toBeUndefined();
    });
  });

  describe("request_id", () => {
    it("replays the first result of a retried create and writes nothing more", async () => {
      const req = { ...fresh(), requestId: randomUUID() };
      const first = await client.setCapacity(req);
      const before = await countRows();
      expect(await client.setCapacity(req)).toEqual(first);
      expect(await countRows()).toBe(before);
    });

    it("treats a request_id in capitals as the same id: the retry in lower case is replayed", async () => {
      const id = randomUUID();
      const req = fresh();
      const first = await client.setCapacity({ ...req, requestId: id.toUpperCase() });
      const before = await countRows();
      expect(await client.setCapacity({ ...req, requestId: id })).toEqual(first);
      expect(await countRows()).toBe(before);
    });

    it("rejects the same request_id with a different request, or from another caller", async () => {
      const req = { ...fresh(), requestId: randomUUID() };
      await client.setCapacity(req);
      const before = await countRows();
      const changed = { ...req, capacity: { ...req.capacity, allocatedPct: 26 } };
      const f = await failed(client.setCapacity(changed));
      expect(f.code).toBe(Code.InvalidArgument);
      expect(f.violations).toEqual([{ field: "request_id", description: "was already used for a different request; use a new UUID" }]);
      // Another person of the same tenant, same body.
      expect((await failed(suite.service.client({ tenantId: me.tenantId }).setCapacity(req))).fields).toEqual(["request_id"]);
      expect(await countRows()).toBe(before);
    });

    it("replays an update's first result even after later writes", async () => {
      const c = await client.setCapacity(fresh());
      const req = { capacity: { id: c.id, notes: "once" }, updateMask: { paths: ["notes"] }, requestId: randomUUID() };
      const first = await client.setCapacity(req);
      await client.setCapacity({ capacity: { id: c.id, notes: "later" }, updateMask: { paths: ["notes"] } });
      expect(await client.setCapacity(req)).toEqual(first);
      expect((await client.getCapacity({ id: c.id })).notes).toBe("later");
    });

    it("is scoped to the tenant: another tenant may use the same id", async () => {
      const requestId = randomUUID();
      const mine = await client.setCapacity({ ...fresh(), requestId });
      const theirs = await suite.service.client({ tenantId: tenant() }).setCapacity({ ...fresh(), requestId });
      expect(theirs.id).not.toBe(mine.id);
    });

    it("is scoped to the (tenant, app): two apps of one tenant each get their own record, and each replays its own", async () => {
      const requestId = randomUUID();
      const sub = person();
      const crm = suite.service.client({ tenantId: me.tenantId, personId: sub, appId: "crm" });
      const erp = suite.service.client({ tenantId: me.tenantId, personId: sub, appId: "erp" });
      const tenantWide = suite.service.client({ tenantId: me.tenantId, personId: sub });
      const before = await countRows();
      const req = { ...fresh(), requestId };
      // The same request body and caller from two apps, and from the tenant-wide caller.
      const fromCrm = await crm.setCapacity(req);
      const fromErp = await erp.setCapacity(req);
      const fromTenant = await tenantWide.setCapacity(req);
      expect(new Set([fromCrm.id, fromErp.id, fromTenant.id]).size).toBe(3);
      expect([fromCrm.appId, fromErp.appId, fromTenant.appId]).toEqual(["crm", "erp", ""]);
      expect(await countRows()).toBe(before + 3);
      // Retries replay each app's own first answer and write nothing.
      expect(await crm.setCapacity(req)).toEqual(fromCrm);
      expect(await erp.setCapacity(req)).toEqual(fromErp);
      expect(await countRows()).toBe(before + 3);
      // A different request under an app's id is still refused, and the other app's record does not leak into it.
      const changed = { ...req, capacity: { ...req.capacity, allocatedPct: 26 } };
      expect((await failed(erp.setCapacity(changed))).fields).toEqual(["request_id"]);
      const stored = await suite.service.knex("capacity_requests").where({ tenant_id: me.tenantId, request_id: requestId }).orderBy("app_id").pluck("app_id");
      expect(stored).toEqual(["", "crm", "erp"]);
    });
  });

  describe("validate_only", () => {
    it("checks a create and writes nothing", async () => {
      const before = await countRows();
      const c = await client.setCapacity({ ...fresh(), validateOnly: true });
      expect(c.id).toBe("");
      expect(c.allocatedPct).toBe(25);
      expect(await countRows()).toBe(before);
      expect((await failed(client.setCapacity({ ...fresh({ allocatedPct: 101 }), validateOnly: true }))).code).toBe(Code.InvalidArgument);
    });

    it("checks an update (etag, deleted, fields) and writes nothing, nor saves its request_id", async () => {
      const c = await client.setCapacity(fresh());
      const preview = { capacity: { id: c.id, allocatedPct: 80, etag: c.etag }, updateMask: { paths: ["allocated_pct"] }, validateOnly: true };
      const requestId = randomUUID();
      expect((await client.setCapacity({ ...preview, requestId })).allocatedPct).toBe(80);
      expect((await failed(client.setCapacity({ ...preview, capacity: { ...preview.capacity, etag: "stale" } }))).code).toBe(Code.Aborted);
      expect((await failed(client.setCapacity({ ...preview, capacity: { ...preview.capacity, allocatedPct: 101 } }))).fields).toEqual([
        "capacity.allocated_pct",
      ]);
      expect(await client.getCapacity({ id: c.id })).toEqual(c);
      expect(await suite.service.knex("capacity_requests").where({ tenant_id: me.tenantId, request_id: requestId })).toEqual([]);
      const gone = await client.deleteCapacity({ id: c.id });
      expect((await failed(client.setCapacity({ ...preview, capacity: { ...preview.capacity, etag: gone.etag } }))).code).toBe(Code.FailedPrecondition);
      expect((await failed(client.setCapacity({ ...fresh({ id: UNKNOWN_ID }), validateOnly: true }))).code).toBe(Code.NotFound);
    });
  });
});
