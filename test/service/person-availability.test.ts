/**
 * Availability through the RPCs and the over-allocation policy, on the
 * service core over both databases (no listener): the arithmetic of runs,
 * filters, scoping, argument checks, batches, capacity ids on request, the
 * allocation limit, and OVERALLOCATION_POLICY_REJECT (also under concurrency).
 */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { createRequest, insertCapacities, staircase } from "../helpers/capacities.js";
import { failed, settle } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person } from "../helpers/ids.js";
import { newCaller, useTestService, type ServiceClient } from "../helpers/service.js";

const REJECT = OverallocationPolicy.REJECT;

/** Books `allocatedPct` of a person over a period, under a policy. */
const alloc = (
  client: ServiceClient,
  personId: string,
  periodStart: string,
  periodEnd: string,
  allocatedPct: number,
  policy = OverallocationPolicy.UNSPECIFIED,
) => client.setCapacity({ ...createRequest({ personId, periodStart, periodEnd, allocatedPct }), overallocationPolicy: policy });

describe.each(ENGINES)("availability on %s", (engine) => {
  const suite = useTestService({ engine });

  it("cuts the window into runs, counts only live records, and sums exactly", async () => {
    const client = suite.service.client();
    const p = person();
    const a = await alloc(client, p, "2027-03-01", "2027-03-31", 33.33);
    const b = await alloc(client, p, "2027-03-01", "2027-03-31", 33.33);
    const c = await alloc(client, p, "2027-03-10", "2027-03-20", 33.34);
    const gone = await alloc(client, p, "2027-03-01", "2027-03-31", 50);
    await client.deleteCapacity({ id: gone.id });
    const got = await client.getPersonAvailability({ personId: p, periodStart: "2027-02-27", periodEnd: "2027-04-02", includeCapacityIds: true });
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
    const client = suite.service.client();
    const p = person();
    const big = await alloc(client, p, "2027-01-04", "2027-01-10", 80); // Mon–Sun
    await alloc(client, p, "2027-01-09", "2027-01-10", 40); // the weekend, tentative
    await client.confirmCapacity({ id: big.id });
    const all = await client.getPersonAvailability({ personId: p, periodStart: "2027-01-04", periodEnd: "2027-01-10" });
    expect(all).toMatchObject({ overallocatedDays: 2, peakAllocatedPct: 120, countedDays: 7 });
    expect(all.segments.at(-1)).toMatchObject({ allocatedPct: 120, availablePct: 0, overallocated: true });
    const weekdays = await client.getPersonAvailability({ personId: p, periodStart: "2027-01-04", periodEnd: "2027-01-10", excludeWeekends: true });
    expect(weekdays).toMatchObject({ overallocatedDays: 0, peakAllocatedPct: 80, countedDays: 5, averageAllocatedPct: 80 });
    expect(weekdays.segments).toEqual(all.segments);
    const confirmed = await client.getPersonAvailability({ personId: p, periodStart: "2027-01-04", periodEnd: "2027-01-10", confirmedOnly: true });
    expect(confirmed).toMatchObject({ overallocatedDays: 0, peakAllocatedPct: 80, averageAllocatedPct: 80 });
  });

  it("is scoped to the tenant and to the app of app callers", async () => {
    const crm = newCaller({ appId: "crm" });
    const p = person();
    await alloc(suite.service.client(crm), p, "2027-01-01", "2027-01-31", 70);
    const req = { personId: p, periodStart: "2027-01-01", periodEnd: "2027-01-31" };
    expect((await suite.service.client().getPersonAvailability(req)).peakAllocatedPct).toBe(0);
    expect((await suite.service.client({ tenantId: crm.tenantId, appId: "erp" }).getPersonAvailability(req)).peakAllocatedPct).toBe(0);
    expect((await suite.service.client({ tenantId: crm.tenantId }).getPersonAvailability(req)).peakAllocatedPct).toBe(70);
  });

  it.each([
    [{ personId: "", periodStart: "2027-01-01", periodEnd: "2027-01-02" }, ["person_id"]],
    [{ personId: "bob", periodStart: "2027-01-01", periodEnd: "2027-01-02" }, ["person_id"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "", periodEnd: "2027-01-02" }, ["period_start"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "2027-01-01", periodEnd: "2027-02-30" }, ["period_end"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "2027-01-02", periodEnd: "2027-01-01" }, ["period_end"]],
    [{ personId: "per_01M8FMTT425T0SWT9WYGC66PKF", periodStart: "2027-01-01", periodEnd: "2030-01-01" }, ["period_end"]],
  ])("GetPersonAvailability rejects %j", async (req, fields) => {
    const f = await failed(suite.service.client().getPersonAvailability(req));
    expect(f.code).toBe(Code.InvalidArgument);
    expect(f.fields).toEqual(fields);
  });

  it("names the rule each bad window breaks", async () => {
    const client = suite.service.client();
    const p = person();
    const rule = async (periodStart: string, periodEnd: string) =>
      (await failed(client.getPersonAvailability({ personId: p, periodStart, periodEnd }))).violations;
    expect(await rule("", "2027-01-02")).toEqual([{ field: "period_start", description: "is required" }]);
    expect(await rule("2027-01-02", "2027-01-01")).toEqual([{ field: "period_end", description: "must not be before period_start" }]);
    expect(await rule("2027-01-01", "2030-01-01")).toEqual([{ field: "period_end", description: "the window must be at most three years long" }]);
  });

  it("accepts a window of exactly three years", async () => {
    const got = await suite.service.client().getPersonAvailability({ personId: person(), periodStart: "2027-01-01", periodEnd: "2029-12-31" });
    expect(got.countedDays).toBe(1096); // 2028 is a leap year
  });

  describe("batch", () => {
    it("answers in request order, fully available when nothing is booked, and marks who has enough free", async () => {
      const client = suite.service.client();
      const [busy, half, idle] = [person(), person(), person()];
      await alloc(client, busy, "2027-03-01", "2027-03-31", 80);
      await alloc(client, half, "2027-03-01", "2027-03-15", 50);
      await alloc(client, half, "2027-03-16", "2027-03-31", 40);
      const got = await client.batchGetPersonAvailability({
        personIds: [idle, busy, half.toLowerCase()],
        periodStart: "2027-03-01",
        periodEnd: "2027-03-31",
        minAvailablePct: 50,
      });
      expect(got.availabilities.map((a) => [a.personId, a.peakAllocatedPct, a.meetsMinAvailable])).toEqual([
        [idle, 0, true],
        [busy, 80, false],
        [half, 50, true],
      ]);
      expect(got.availabilities[0]!.segments).toHaveLength(1);
      const noMin = await client.batchGetPersonAvailability({ personIds: [idle], periodStart: "2027-03-01", periodEnd: "2027-03-31" });
      expect(noMin.availabilities[0]!.meetsMinAvailable).toBeUndefined();
    });

    it("takes 500 people and refuses 501, duplicates and bad ids", async () => {
      const client = suite.service.client();
      const window = { periodStart: "2027-03-01", periodEnd: "2027-03-31" };
      const many = Array.from({ length: 500 }, () => person());
      const got = await client.batchGetPersonAvailability({ personIds: many, ...window });
      expect(got.availabilities.map((a) => a.personId)).toEqual(many);
      expect((await failed(client.batchGetPersonAvailability({ personIds: [...many, person()], ...window }))).violations).toEqual([
        { field: "person_ids", description: "must name at most 500 people" },
      ]);
      expect((await failed(client.batchGetPersonAvailability({ personIds: [], ...window }))).violations).toEqual([
        { field: "person_ids", description: "must name at least one person" },
      ]);
      const dup = many[0]!;
      expect((await failed(client.batchGetPersonAvailability({ personIds: [dup, person(), dup.toLowerCase()], ...window }))).violations).toEqual([
        { field: "person_ids[2]", description: "is a duplicate; name each person once" },
      ]);
      expect((await failed(client.batchGetPersonAvailability({ personIds: [person(), "x"], ...window }))).fields).toEqual(["person_ids[1]"]);
      for (const minAvailablePct of [101, -1, 0.001, Number.NaN]) {
        expect((await failed(client.batchGetPersonAvailability({ personIds: [person()], ...window, minAvailablePct }))).fields).toEqual(["min_available_pct"]);
      }
    });
  });

  describe("OVERALLOCATION_POLICY_REJECT", () => {
    it("refuses a write that takes a day above 100%, naming the first run, and writes nothing", async () => {
      const me = newCaller();
      const client = suite.service.client(me);
      const p = person();
      await alloc(client, p, "2027-05-01", "2027-05-31", 60);
      await alloc(client, p, "2027-05-10", "2027-05-12", 30);
      const out = await failed(alloc(client, p, "2027-05-05", "2027-05-20", 20, REJECT));
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
      const [row] = await suite.service.knex("capacities").where({ tenant_id: me.tenantId, person_id: p }).count({ n: "*" });
      expect(Number(row?.n)).toBe(2);
      // Exactly 100% is fine; so is ALLOW.
      await alloc(client, p, "2027-05-05", "2027-05-20", 10, REJECT);
      await alloc(client, p, "2027-05-05", "2027-05-20", 20, OverallocationPolicy.ALLOW);
    });

    it("applies to updates, undelete and confirm, and checks validate_only calls too", async () => {
      const client = suite.service.client();
      const p = person();
      await alloc(client, p, "2027-06-01", "2027-06-30", 70);
      const x = await alloc(client, p, "2027-06-01", "2027-06-30", 30);
      const grow = { capacity: { id: x.id, allocatedPct: 31 }, updateMask: { paths: ["allocated_pct"] }, overallocationPolicy: REJECT };
      expect((await failed(client.setCapacity(grow))).code).toBe(Code.FailedPrecondition);
      expect((await failed(client.setCapacity({ ...grow, validateOnly: true }))).code).toBe(Code.FailedPrecondition);
      await client.setCapacity({ ...grow, capacity: { id: x.id, allocatedPct: 29 } });
      await client.deleteCapacity({ id: x.id });
      const y = await alloc(client, p, "2027-06-15", "2027-06-15", 30);
      expect((await failed(client.undeleteCapacity({ id: x.id, overallocationPolicy: REJECT }))).code).toBe(Code.FailedPrecondition);
      await client.undeleteCapacity({ id: x.id });
      expect((await failed(client.confirmCapacity({ id: y.id, overallocationPolicy: REJECT }))).code).toBe(Code.FailedPrecondition);
      await client.confirmCapacity({ id: y.id });
      expect((await failed(client.confirmCapacity({ id: y.id, overallocationPolicy: 9 as OverallocationPolicy }))).fields).toEqual(["overallocation_policy"]);
    });

    it("never lets concurrent writes that only together exceed 100% both succeed", async () => {
      const me = newCaller();
      const client = suite.service.client(me);
      const p = person();
      // 40 writers, 30% each, over overlapping periods in one month.
      const day = (d: number) => `2027-07-${String(d).padStart(2, "0")}`;
      const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => settle(alloc(client, p, day(1 + (i % 10)), day(13 + (i % 10)), 30, REJECT))));
      const acknowledged = outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.value.id : ""));
      for (const o of outcomes) if (!o.ok) expect(o.code).toBe(Code.FailedPrecondition);
      expect(acknowledged.length).toBeGreaterThan(2);
      const avail = await client.getPersonAvailability({ personId: p, periodStart: "2027-07-01", periodEnd: "2027-07-31" });
      expect(avail.overallocatedDays).toBe(0);
      expect(avail.peakAllocatedPct).toBeLessThanOrEqual(100);
      const stored = await suite.service.knex("capacities").where({ tenant_id: me.tenantId, person_id: p }).pluck<string[]>("id");
      expect([...stored].sort()).toEqual([...acknowledged].sort());
    });
  });
});

describe.each(ENGINES)("availability's capacity ids and allocation limit on %s", (engine) => {
  const MAX_ALLOCATIONS = 120;
  const WINDOW = { periodStart: "2027-01-01", periodEnd: "2029-12-31" };
  const suite = useTestService({ engine, limits: { availabilityMaxAllocations: MAX_ALLOCATIONS } });

  it("lists capacity ids only with include_capacity_ids, single and batch", async () => {
    const me = newCaller();
    const client = suite.service.client(me);
    const stairs = person();
    await insertCapacities(suite.service.knex, staircase(me.tenantId, stairs, 100));
    const plain = await client.getPersonAvailability({ personId: stairs, periodStart: "2027-01-01", periodEnd: "2027-01-31" });
    expect(plain.segments).toHaveLength(31);
    expect(plain.segments.flatMap((s) => s.capacityIds)).toEqual([]);
    const withIds = await client.getPersonAvailability({ personId: stairs, periodStart: "2027-01-01", periodEnd: "2027-01-31", includeCapacityIds: true });
    expect(withIds.segments.map((s) => s.capacityIds.length)).toEqual(Array.from({ length: 31 }, (_, i) => i));
    expect(withIds.segments.map(({ capacityIds: _, ...rest }) => rest)).toEqual(plain.segments.map(({ capacityIds: _, ...rest }) => rest));
    const batch = { personIds: [stairs, person()], periodStart: "2027-01-01", periodEnd: "2027-01-10" };
    const batchPlain = await client.batchGetPersonAvailability(batch);
    expect(batchPlain.availabilities.flatMap((a) => a.segments.flatMap((s) => s.capacityIds))).toEqual([]);
    const batchIds = await client.batchGetPersonAvailability({ ...batch, includeCapacityIds: true });
    expect(batchIds.availabilities[0]!.segments.at(-1)!.capacityIds).toHaveLength(9);
  });

  it("refuses more allocations than CAPACITY_AVAILABILITY_MAX_ALLOCATIONS with RESOURCE_EXHAUSTED naming the limit", async () => {
    const me = newCaller();
    const client = suite.service.client(me);
    const [stairs, over, few] = [person(), person(), person()];
    await insertCapacities(suite.service.knex, [
      ...staircase(me.tenantId, stairs, 100),
      ...staircase(me.tenantId, over, MAX_ALLOCATIONS + 1),
      ...staircase(me.tenantId, few, 40),
    ]);
    const single = await failed(client.getPersonAvailability({ personId: over, ...WINDOW }));
    expect(single).toMatchObject({
      code: Code.ResourceExhausted,
      errorInfo: [
        {
          reason: "AVAILABILITY_TOO_LARGE",
          domain: "capacity.work.v1",
          metadata: { limit: "CAPACITY_AVAILABILITY_MAX_ALLOCATIONS", max: String(MAX_ALLOCATIONS) },
        },
      ],
    });
    expect(single.message).toContain(`more than ${MAX_ALLOCATIONS} capacities`);
    // 100 + 40 in the batch: each person alone is fine, together they are over.
    const batch = await failed(client.batchGetPersonAvailability({ personIds: [stairs, person(), few], ...WINDOW }));
    expect(batch).toMatchObject({ code: Code.ResourceExhausted, errorInfo: [{ metadata: { limit: "CAPACITY_AVAILABILITY_MAX_ALLOCATIONS" } }] });
    expect((await client.batchGetPersonAvailability({ personIds: [stairs, person()], ...WINDOW })).availabilities).toHaveLength(2);
    // A shorter window considers fewer: the person answers.
    expect((await client.getPersonAvailability({ personId: over, periodStart: "2027-01-01", periodEnd: "2027-03-31" })).segments.length).toBe(90); // a new allocation every day
  });
});
