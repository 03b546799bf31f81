import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AVAILABILITY_TOO_LARGE,
  firstOverallocation,
  ID_BYTES,
  PERSON_BYTES,
  ResponseBudget,
  SEGMENT_BYTES,
  segments,
  summarize,
  weekdaysBetween,
  type Allocation,
} from "../../src/domain/availability.js";
import { fromEpochDay, toEpochDay } from "../../src/domain/dates.js";
import { LimitExceededError } from "../../src/domain/errors.js";
import { toBasisPoints } from "../../src/domain/percent.js";

const a = (id: string, periodStart: string, periodEnd: string, pct: number): Allocation => ({
  id,
  periodStart,
  periodEnd,
  // Totals may pass 100%, single allocations here may too (a record is at most 100%, a test fixture needn't be).
  allocatedBp: toBasisPoints(pct) ?? Math.round(pct * 100),
});
/** Segments with their ids, as tests of the sweep compare them. */
const IDS = { includeIds: true };
const brief = (xs: ReturnType<typeof segments>) => xs.map((s) => [s.periodStart, s.periodEnd, s.allocatedBp, s.capacityIds.join("+")]);

describe("segments", () => {
  it("is one empty segment when nothing is allocated", () => {
    expect(brief(segments("2027-01-01", "2027-01-31", [], IDS))).toEqual([["2027-01-01", "2027-01-31", 0, ""]]);
  });

  it("splits adjacent periods and fills the gaps with 0%", () => {
    const got = segments("2027-01-01", "2027-01-10", [a("x", "2027-01-03", "2027-01-04", 50), a("y", "2027-01-05", "2027-01-06", 20)], IDS);
    expect(brief(got)).toEqual([
      ["2027-01-01", "2027-01-02", 0, ""],
      ["2027-01-03", "2027-01-04", 5000, "x"],
      ["2027-01-05", "2027-01-06", 2000, "y"],
      ["2027-01-07", "2027-01-10", 0, ""],
    ]);
  });

  it("nests a period inside another", () => {
    const got = segments("2027-01-01", "2027-01-31", [a("outer", "2027-01-01", "2027-01-31", 60), a("inner", "2027-01-10", "2027-01-12", 50)], IDS);
    expect(brief(got)).toEqual([
      ["2027-01-01", "2027-01-09", 6000, "outer"],
      ["2027-01-10", "2027-01-12", 11000, "inner+outer"],
      ["2027-01-13", "2027-01-31", 6000, "outer"],
    ]);
  });

  it("sums identical periods exactly: 33.33 + 33.33 + 33.34 is 100, not over", () => {
    const got = summarize(
      "2027-01-01",
      "2027-01-31",
      [a("p", "2027-01-01", "2027-01-31", 33.33), a("q", "2027-01-01", "2027-01-31", 33.33), a("r", "2027-01-01", "2027-01-31", 33.34)],
      false,
      IDS,
    );
    expect(brief(got.segments)).toEqual([["2027-01-01", "2027-01-31", 10000, "p+q+r"]]);
    expect(got).toMatchObject({ peakBp: 10000, overallocatedDays: 0, availableDays: 0, averageBp: 10000, minAvailableBp: 0 });
  });

  it("handles single-day periods, including on the window's first and last day", () => {
    const got = segments("2027-01-01", "2027-01-03", [a("f", "2027-01-01", "2027-01-01", 10), a("l", "2027-01-03", "2027-01-03", 20)], IDS);
    expect(brief(got)).toEqual([
      ["2027-01-01", "2027-01-01", 1000, "f"],
      ["2027-01-02", "2027-01-02", 0, ""],
      ["2027-01-03", "2027-01-03", 2000, "l"],
    ]);
  });

  it("clips allocations that reach outside the window and ignores those that miss it", () => {
    const got = segments(
      "2027-01-10",
      "2027-01-20",
      [a("wide", "2026-01-01", "2028-01-01", 30), a("before", "2027-01-01", "2027-01-09", 50), a("after", "2027-01-21", "2027-02-01", 50)],
      IDS,
    );
    expect(brief(got)).toEqual([["2027-01-10", "2027-01-20", 3000, "wide"]]);
  });

  it("crosses month ends and leap days", () => {
    const got = segments("2028-02-27", "2028-03-02", [a("leap", "2028-02-29", "2028-02-29", 100), a("march", "2028-03-01", "2028-03-31", 40)], IDS);
    expect(brief(got)).toEqual([
      ["2028-02-27", "2028-02-28", 0, ""],
      ["2028-02-29", "2028-02-29", 10000, "leap"],
      ["2028-03-01", "2028-03-02", 4000, "march"],
    ]);
    expect(segments("2027-12-31", "2028-01-01", [a("nye", "2027-12-31", "2027-12-31", 5)], IDS).map((s) => s.periodEnd)).toEqual(["2027-12-31", "2028-01-01"]);
  });
});

describe("summarize", () => {
  // 2027-01-04 is a Monday.
  it("weighs days, and with excludeWeekends weighs weekends nothing while segments still cover them", () => {
    const allocs = [a("wk", "2027-01-04", "2027-01-08", 100), a("we", "2027-01-09", "2027-01-10", 150)];
    const all = summarize("2027-01-04", "2027-01-10", allocs, false);
    expect(all).toMatchObject({ countedDays: 7, overallocatedDays: 2, availableDays: 0, peakBp: 15000, averageBp: Math.round((5 * 10000 + 2 * 15000) / 7) });
    const weekdays = summarize("2027-01-04", "2027-01-10", allocs, true);
    expect(weekdays.segments).toEqual(all.segments);
    expect(weekdays).toMatchObject({ countedDays: 5, overallocatedDays: 0, availableDays: 0, peakBp: 10000, averageBp: 10000 });
  });

  it("reports nothing counted for a weekend-only window without weekends", () => {
    const s = summarize("2027-01-09", "2027-01-10", [a("x", "2027-01-09", "2027-01-10", 50)], true);
    expect(s).toMatchObject({ countedDays: 0, averageBp: 0, peakBp: 0, availableDays: 0, overallocatedDays: 0, minAvailableBp: 10000 });
  });

  it("rounds the average to the nearest hundredth of a percent", () => {
    // 3 days: 10%, 0%, 0% → 3.333…% → 3.33%.
    expect(summarize("2027-01-01", "2027-01-03", [a("x", "2027-01-01", "2027-01-01", 10)], false).averageBp).toBe(333);
  });
});

/** `n` allocations starting a day apart and all running to the end of 2029: n segments carrying ~n²/2 ids. */
function staircase(n: number): Allocation[] {
  return Array.from({ length: n }, (_, i) => a(`cap_${String(i).padStart(26, "0")}`, fromEpochDay(toEpochDay("2027-01-01") + i), "2029-12-31", 1));
}

describe("capacity ids and the response budget", () => {
  it("lists ids only when asked, and the segments are the same either way", () => {
    const allocs = [a("x", "2027-01-03", "2027-01-04", 50), a("y", "2027-01-04", "2027-01-06", 20)];
    const without = summarize("2027-01-01", "2027-01-10", allocs, false);
    const withIds = summarize("2027-01-01", "2027-01-10", allocs, false, IDS);
    expect(without.segments.every((s) => s.capacityIds.length === 0)).toBe(true);
    expect(withIds.segments.map((s) => s.capacityIds.join("+"))).toEqual(["", "x", "x+y", "y", ""]);
    expect(without.segments.map(({ capacityIds: _, ...rest }) => rest)).toEqual(withIds.segments.map(({ capacityIds: _, ...rest }) => rest));
  });

  it("charges the person, every segment and, when listed, every id", () => {
    const allocs = staircase(10); // 11 segments with 0+1+…+10 = 55 ids
    const plain = new ResponseBudget(1_000_000, "CAP");
    summarize("2026-12-31", "2027-01-20", allocs, false, { budget: plain });
    expect(1_000_000 - plain.remaining).toBe(PERSON_BYTES + 11 * SEGMENT_BYTES);
    const listed = new ResponseBudget(1_000_000, "CAP");
    summarize("2026-12-31", "2027-01-20", allocs, false, { includeIds: true, budget: listed });
    expect(1_000_000 - listed.remaining).toBe(PERSON_BYTES + 11 * SEGMENT_BYTES + 55 * ID_BYTES);
  });

  it("fails with a LimitExceededError naming the limit before building millions of ids", () => {
    // One allocation starting on each of the 1,096 days, all to the end: about 600,000 ids (19 MB) in all.
    const allocs = staircase(1096);
    const budget = new ResponseBudget(4 * 1024 * 1024, "CAPACITY_MAX_RESPONSE_BYTES");
    let thrown: unknown;
    try {
      summarize("2027-01-01", "2029-12-31", allocs, false, { includeIds: true, budget });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(LimitExceededError);
    expect(thrown).toMatchObject({ reason: AVAILABILITY_TOO_LARGE, limit: "CAPACITY_MAX_RESPONSE_BYTES", max: 4 * 1024 * 1024 });
    expect((thrown as Error).message).toMatch(/larger than 4194304 bytes \(CAPACITY_MAX_RESPONSE_BYTES\).*include_capacity_ids/);
    // Without ids the same person is 1,096 segments: well inside the budget.
    const small = new ResponseBudget(4 * 1024 * 1024, "CAPACITY_MAX_RESPONSE_BYTES");
    expect(summarize("2027-01-01", "2029-12-31", allocs, false, { budget: small }).segments).toHaveLength(1096);
  });

  it("shares one budget across the people of a call", () => {
    const allocs = staircase(20);
    const one = new ResponseBudget(Number.MAX_SAFE_INTEGER, "CAP");
    summarize("2027-01-01", "2027-12-31", allocs, false, { includeIds: true, budget: one });
    const cost = Number.MAX_SAFE_INTEGER - one.remaining;
    const shared = new ResponseBudget(cost * 2 - 1, "CAP");
    summarize("2027-01-01", "2027-12-31", allocs, false, { includeIds: true, budget: shared });
    expect(() => summarize("2027-01-01", "2027-12-31", allocs, false, { includeIds: true, budget: shared })).toThrow(LimitExceededError);
  });
});

describe("weekdaysBetween", () => {
  it("counts Monday to Friday", () => {
    const d = toEpochDay;
    expect(weekdaysBetween(d("2027-01-04"), d("2027-01-10"))).toBe(5); // Mon–Sun
    expect(weekdaysBetween(d("2027-01-09"), d("2027-01-10"))).toBe(0); // Sat–Sun
    expect(weekdaysBetween(d("2027-01-08"), d("2027-01-11"))).toBe(2); // Fri–Mon
    expect(weekdaysBetween(d("2024-01-01"), d("2024-12-31"))).toBe(262);
    expect(weekdaysBetween(d("1969-12-29"), d("1970-01-04"))).toBe(5); // before the epoch
  });
});

describe("firstOverallocation", () => {
  it("names the first run above 100% and its total", () => {
    const run = firstOverallocation("2027-01-01", "2027-01-31", [
      a("x", "2027-01-01", "2027-01-31", 60),
      a("y", "2027-01-05", "2027-01-06", 50),
      a("z", "2027-01-20", "2027-01-21", 90),
    ]);
    expect(run).toMatchObject({ periodStart: "2027-01-05", periodEnd: "2027-01-06", allocatedBp: 11000 });
    expect(firstOverallocation("2027-01-01", "2027-01-31", [a("x", "2027-01-01", "2027-01-31", 100)])).toBeUndefined();
  });
});

describe("against a naive day-by-day computation", () => {
  const base = toEpochDay("2027-12-20");
  const allocation = fc
    .record({ start: fc.integer({ min: 0, max: 90 }), length: fc.integer({ min: 0, max: 40 }), bp: fc.integer({ min: 0, max: 10000 }) })
    .map(({ start, length, bp }) => ({ periodStart: fromEpochDay(base + start), periodEnd: fromEpochDay(base + start + length), allocatedBp: bp }));

  it("agrees on every day's total and set, and on every summary figure", () => {
    fc.assert(
      fc.property(
        fc.array(allocation, { maxLength: 12 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.boolean(),
        (raw, from, length, excludeWeekends) => {
          const allocs = raw.map((r, i) => ({ ...r, id: `c${String(i).padStart(2, "0")}` }));
          const ws = base + from;
          const we = ws + length;
          const got = summarize(fromEpochDay(ws), fromEpochDay(we), allocs, excludeWeekends, IDS);

          // Naive: every day on its own.
          const days: Array<{ bp: number; ids: string; weekend: boolean }> = [];
          for (let d = ws; d <= we; d++) {
            const on = allocs.filter((x) => toEpochDay(x.periodStart) <= d && d <= toEpochDay(x.periodEnd));
            const weekday = new Date(d * 86_400_000).getUTCDay();
            days.push({
              bp: on.reduce((s, x) => s + x.allocatedBp, 0),
              ids: on
                .map((x) => x.id)
                .sort()
                .join("+"),
              weekend: weekday === 0 || weekday === 6,
            });
          }
          // Segments cover the window exactly, are maximal, and match each day.
          let d = ws;
          got.segments.forEach((s, i) => {
            expect(toEpochDay(s.periodStart)).toBe(d);
            for (; d <= toEpochDay(s.periodEnd); d++) {
              expect(s.allocatedBp).toBe(days[d - ws]!.bp);
              expect(s.capacityIds.join("+")).toBe(days[d - ws]!.ids);
            }
            if (i > 0) expect(s.capacityIds.join("+")).not.toBe(got.segments[i - 1]!.capacityIds.join("+"));
          });
          expect(d).toBe(we + 1);

          const counted = days.filter((x) => !(excludeWeekends && x.weekend));
          expect(got.countedDays).toBe(counted.length);
          expect(got.overallocatedDays).toBe(counted.filter((x) => x.bp > 10000).length);
          expect(got.availableDays).toBe(counted.filter((x) => x.bp < 10000).length);
          expect(got.peakBp).toBe(counted.reduce((m, x) => Math.max(m, x.bp), 0));
          const total = counted.reduce((s, x) => s + x.bp, 0);
          expect(got.averageBp).toBe(counted.length === 0 ? 0 : Math.round(total / counted.length));
          expect(got.minAvailableBp).toBe(counted.reduce((m, x) => Math.min(m, Math.max(0, 10000 - x.bp)), 10000));
        },
      ),
      { numRuns: 500 },
    );
  });
});
