/** Availability reads and the over-allocation policy, over a real listener on both databases. */
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { createTestClient, ok, type Outcome, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const REJECT = OverallocationPolicy.REJECT;

function failure<T>(o: Outcome<T>) {
  if (o.ok) throw new Error("expected failure");
  return { code: o.code, fields: o.violations.map((v) => v.field), message: o.message };
}

describe.each(ENGINES)("availability on %s", (engine) => {
  let server: TestServer;
  let client: TestClient;
  beforeAll(async () => {
    server = await startTestServer(engine);
    client = createTestClient("connect-binary-http2", server.baseUrl);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  const alloc = async (token: string, personId: string, periodStart: string, periodEnd: string, allocatedPct: number, policy = OverallocationPolicy.UNSPECIFIED) =>
    client.call("setCapacity", { capacity: { personId, projectId: project(), periodStart, periodEnd, allocatedPct }, overallocationPolicy: policy }, token);

  it("cuts the window into runs, counts only live records, and sums exactly", async () => {
    const token = await server.token(tenant());
    const p = person();
    const a = ok(await alloc(token, p, "2027-03-01", "2027-03-31", 33.33));
    const b = ok(await alloc(token, p, "2027-03-01", "2027-03-31", 33.33));
    const c = ok(await alloc(token, p, "2027-03-10", "2027-03-20", 33.34));
    const gone = ok(await alloc(token, p, "2027-03-01", "2027-03-31", 50));
    ok(await client.call("deleteCapacity", { id: gone.id }, token));
    const got = ok(await client.call("getPersonAvailability", { personId: p, periodStart: "2027-02-27", periodEnd: "2027-04-02", includeCapacityIds: true }, token));
    expect(got.segments.map((s) => [s.periodStart, s.periodEnd, s.allocatedPct, s.availablePct, s.overallocated, s.capacityIds.length])).toEqual([
      ["2027-02-27", "2027-02-28", 0, 100, false, 0],
      ["2027-03-01", "2027-03-09", 66.66, 33.34, false, 2],
      ["2027-03-10", "2027-03-20", 100, 0, false, 3],
      ["2027-03-21", "2027-03-31", 66.66, 33.34, false, 2],
      ["2027-04-01", "2027-04-02", 0, 100, false, 0],
    ]);
    expect(got.segments[2]!.capacityIds).toEqual([a.id, b.id, c.id].sort());
    expect(got).toMatchObject({ personId: p, peakAllocatedPct: 100, overallocatedDays: 0, availableDays: 35 - 11, countedDays: 35 });
  });

  it("shows over-allocation, counts only confirmed records when asked, and can skip weekends", async () => {
    const token = await server.token(tenant());
    const p = person();
    const big = ok(await alloc(token, p, "2027-01-04", "2027-01-10", 80)); // Mon–Sun
    ok(await alloc(token, p, "2027-01-09", "2027-01-10", 40)); // the weekend, tentative
    ok(await client.call("confirmCapacity", { id: big.id }, token));
    const all = ok(await client.call("getPersonAvailability", { personId: p, periodStart: "2027-01-04", periodEnd: "2027-01-10" }, token));
    expect(all).toMatchObject({ overallocatedDays: 2, peakAllocatedPct: 120, countedDays: 7 });
    expect(all.segments.at(-1)).toMatchObject({ allocatedPct: 120, availablePct: 0, overallocated: true });
    const weekdays = ok(await client.call("getPersonAvailability", { personId: p, periodStart: "2027-01-04", periodEnd: "2027-01-10", excludeWeekends: true }, token));
    expect(weekdays).toMatchObject({ overallocatedDays: 0, peakAllocatedPct: 80, countedDays: 5, averageAllocatedPct: 80 });
    expect(weekdays.segments).toEqual(all.segments);
    const confirmed = ok(await client.call("getPersonAvailability", { personId: p, periodStart: "2027-01-04", periodEnd: "2027-01-10", confirmedOnly: true }, token));
    expect(confirmed).toMatchObject({ overallocatedDays: 0, peakAllocatedPct: 80, averageAllocatedPct: 80 });
  });

  it("is scoped to the tenant and to the app of app tokens", async () => {
    const t = tenant();
    const p = person();
    ok(await alloc(await server.token(t, { appId: "crm" }), p, "2027-01-01", "2027-01-31", 70));
    const req = { personId: p, periodStart: "2027-01-01", periodEnd: "2027-01-31" };
    expect(ok(await client.call("getPersonAvailability", req, await server.token(tenant()))).peakAllocatedPct).toBe(0);
    expect(ok(await client.call("getPersonAvailability", req, await server.token(t, { appId: "erp" }))).peakAllocatedPct).toBe(0);
    expect(ok(await client.call("getPersonAvailability", req, await server.token(t))).peakAllocatedPct).toBe(70);
  });

  it.each([
    [{ personId: "", periodStart: "2027-01-01", periodEnd: "2027-01-02" }, ["person_id"]],
    [{ personId: "bob", periodStart: "2027-01-01", periodEnd: "2027-01-02" }, ["person_id"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "", periodEnd: "2027-01-02" }, ["period_start"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "2027-01-01", periodEnd: "2027-02-30" }, ["period_end"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "2027-01-02", periodEnd: "2027-01-01" }, ["period_end"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "2027-01-01", periodEnd: "2030-01-01" }, ["period_end"]],
  ])("GetPersonAvailability rejects %j", async (req, fields) => {
    const f = failure(await client.call("getPersonAvailability", req, await server.token(tenant())));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.fields).toEqual(fields);
  });

  it("accepts a window of exactly three years", async () => {
    const got = ok(await client.call("getPersonAvailability", { personId: person(), periodStart: "2027-01-01", periodEnd: "2029-12-31" }, await server.token(tenant())));
    expect(got.countedDays).toBe(1096); // 2028 is a leap year
  });

  describe("batch", () => {
    it("answers in request order, fully available when nothing is booked, and marks who has enough free", async () => {
      const token = await server.token(tenant());
      const [busy, half, idle] = [person(), person(), person()];
      ok(await alloc(token, busy, "2027-03-01", "2027-03-31", 80));
      ok(await alloc(token, half, "2027-03-01", "2027-03-15", 50));
      ok(await alloc(token, half, "2027-03-16", "2027-03-31", 40));
      const got = ok(
        await client.call(
          "batchGetPersonAvailability",
          { personIds: [idle, busy, half.toLowerCase()], periodStart: "2027-03-01", periodEnd: "2027-03-31", minAvailablePct: 50 },
          token,
        ),
      );
      expect(got.availabilities.map((a) => [a.personId, a.peakAllocatedPct, a.meetsMinAvailable])).toEqual([
        [idle, 0, true],
        [busy, 80, false],
        [half, 50, true],
      ]);
      expect(got.availabilities[0]!.segments).toHaveLength(1);
      const noMin = ok(await client.call("batchGetPersonAvailability", { personIds: [idle], periodStart: "2027-03-01", periodEnd: "2027-03-31" }, token));
      expect(noMin.availabilities[0]!.meetsMinAvailable).toBeUndefined();
    });

    it("takes 500 people and refuses 501, duplicates and bad ids", async () => {
      const token = await server.token(tenant());
      const many = Array.from({ length: 500 }, () => person());
      const got = ok(await client.call("batchGetPersonAvailability", { personIds: many, periodStart: "2027-03-01", periodEnd: "2027-03-31" }, token));
      expect(got.availabilities.map((a) => a.personId)).toEqual(many);
      const window = { periodStart: "2027-03-01", periodEnd: "2027-03-31" };
      expect(failure(await client.call("batchGetPersonAvailability", { personIds: [...many, person()], ...window }, token)).fields).toEqual(["person_ids"]);
      expect(failure(await client.call("batchGetPersonAvailability", { personIds: [], ...window }, token)).fields).toEqual(["person_ids"]);
      const dup = many[0]!;
      expect(failure(await client.call("batchGetPersonAvailability", { personIds: [dup, person(), dup.toLowerCase()], ...window }, token)).fields).toEqual([
        "person_ids[2]",
      ]);
      expect(failure(await client.call("batchGetPersonAvailability", { personIds: [person(), "x"], ...window }, token)).fields).toEqual(["person_ids[1]"]);
      for (const minAvailablePct of [101, -1, 0.001, Number.NaN]) {
        expect(failure(await client.call("batchGetPersonAvailability", { personIds: [person()], ...window, minAvailablePct }, token)).fields).toEqual([
          "min_available_pct",
        ]);
      }
    });
  });

  describe("OVERALLOCATION_POLICY_REJECT", () => {
    it("refuses a write that takes a day above 100%, naming the first run, and writes nothing", async () => {
      const t = tenant();
      const token = await server.token(t);
      const p = person();
      ok(await alloc(token, p, "2027-05-01", "2027-05-31", 60));
      ok(await alloc(token, p, "2027-05-10", "2027-05-12", 30));
      const out = await client.call(
        "setCapacity",
        { capacity: { personId: p, projectId: project(), periodStart: "2027-05-05", periodEnd: "2027-05-20", allocatedPct: 20 }, overallocationPolicy: REJECT },
        token,
      );
      expect(out.ok).toBe(false);
      if (out.ok) return;
      expect(out.code).toBe(Code.FailedPrecondition);
      expect(out.message).toContain("2027-05-10 to 2027-05-12");
      expect(out.message).toContain("110%");
      expect(out.errorInfo).toEqual([
        {
          reason: "OVERALLOCATED",
          domain: "capacity.work.v1",
          metadata: { person_id: p, period_start: "2027-05-10", period_end: "2027-05-12", allocated_pct: "110" },
        },
      ]);
      const [row] = await server.db.knex("capacities").where({ tenant_id: t, person_id: p }).count({ n: "*" });
      expect(Number(row?.n)).toBe(2);
      // Exactly 100% is fine; so is ALLOW.
      ok(await alloc(token, p, "2027-05-05", "2027-05-20", 10, REJECT));
      ok(await alloc(token, p, "2027-05-05", "2027-05-20", 20, OverallocationPolicy.ALLOW));
    });

    it("applies to updates, undelete and confirm, and checks validate_only calls too", async () => {
      const token = await server.token(tenant());
      const p = person();
      ok(await alloc(token, p, "2027-06-01", "2027-06-30", 70));
      const x = ok(await alloc(token, p, "2027-06-01", "2027-06-30", 30));
      const grow = { capacity: { id: x.id, allocatedPct: 31 }, updateMask: { paths: ["allocated_pct"] }, overallocationPolicy: REJECT };
      expect(failure(await client.call("setCapacity", grow, token)).code).toBe(Code.FailedPrecondition);
      expect(failure(await client.call("setCapacity", { ...grow, validateOnly: true }, token)).code).toBe(Code.FailedPrecondition);
      ok(await client.call("setCapacity", { ...grow, capacity: { id: x.id, allocatedPct: 29 } }, token));
      ok(await client.call("deleteCapacity", { id: x.id }, token));
      const y = ok(await alloc(token, p, "2027-06-15", "2027-06-15", 30));
      expect(failure(await client.call("undeleteCapacity", { id: x.id, overallocationPolicy: REJECT }, token)).code).toBe(Code.FailedPrecondition);
      ok(await client.call("undeleteCapacity", { id: x.id }, token));
      expect(failure(await client.call("confirmCapacity", { id: y.id, overallocationPolicy: REJECT }, token)).code).toBe(Code.FailedPrecondition);
      ok(await client.call("confirmCapacity", { id: y.id }, token));
      expect(failure(await client.call("confirmCapacity", { id: y.id, overallocationPolicy: 9 as OverallocationPolicy }, token)).fields).toEqual(["overallocation_policy"]);
    });

    it("never lets concurrent writes that only together exceed 100% both succeed", async () => {
      const t = tenant();
      const token = await server.token(t);
      const p = person();
      // 40 writers, 30% each, over overlapping periods in one month.
      const attempts = Array.from({ length: 40 }, (_, i) => {
        const start = 1 + (i % 10);
        const day = (d: number) => `2027-07-${String(d).padStart(2, "0")}`;
        return alloc(token, p, day(start), day(start + 12), 30, REJECT);
      });
      const outcomes = await Promise.all(attempts);
      const acknowledged = outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.value.id : ""));
      for (const o of outcomes) if (!o.ok) expect(o.code).toBe(Code.FailedPrecondition);
      expect(acknowledged.length).toBeGreaterThan(2);
      const avail = ok(await client.call("getPersonAvailability", { personId: p, periodStart: "2027-07-01", periodEnd: "2027-07-31" }, token));
      expect(avail.overallocatedDays).toBe(0);
      expect(avail.peakAllocatedPct).toBeLessThanOrEqual(100);
      const stored = await server.db.knex("capacities").where({ tenant_id: t, person_id: p }).pluck("id");
      expect([...stored].sort()).toEqual([...acknowledged].sort());
    });
  });
});
