import { describe, expect, it } from "vitest";
import { checkPeriodOrder, DATE_RULE, fromEpochDay, isIsoDate, optionalDate, requiredDate, toEpochDay } from "../../src/domain/dates.js";
import { violationsOf } from "../helpers/violations.js";

describe("isIsoDate", () => {
  it.each(["2024-02-29", "2027-12-31", "1000-01-01", "9999-12-31", "2026-01-01"])("accepts %s", (d) => {
    expect(isIsoDate(d)).toBe(true);
  });
  it.each([
    ["2023-02-29", "not a leap year"],
    ["1900-02-29", "century, not a leap year"],
    ["2024-04-31", "April has 30 days"],
    ["2024-13-01", "month 13"],
    ["2024-00-10", "month 0"],
    ["2024-01-00", "day 0"],
    ["0999-12-31", "before year 1000"],
    ["2024-1-01", "one-digit month"],
    ["2024-01-01T00:00:00Z", "a timestamp"],
    [" 2024-01-01", "leading space"],
    ["２０２４-01-01", "full-width digits"],
    ["", "empty"],
  ])("rejects %s (%s)", (d) => {
    expect(isIsoDate(d)).toBe(false);
  });
});

describe("epoch days", () => {
  it("agree with Date for every day from 1000 to 9999 (sampled) and across the epoch", () => {
    for (let day = -354_285; day <= 2_932_896; day += 997) {
      const iso = new Date(day * 86_400_000).toISOString().slice(0, 10);
      expect(fromEpochDay(day)).toBe(iso);
      expect(toEpochDay(iso)).toBe(day);
    }
    for (let day = -400; day <= 400; day++) expect(toEpochDay(fromEpochDay(day))).toBe(day);
  });

  it("round-trips across month, year and leap-day edges", () => {
    for (const d of ["1970-01-01", "2024-02-28", "2024-02-29", "2024-03-01", "2026-12-31", "2027-01-01"]) {
      expect(fromEpochDay(toEpochDay(d))).toBe(d);
    }
    expect(toEpochDay("2024-03-01") - toEpochDay("2024-02-28")).toBe(2);
    expect(toEpochDay("1970-01-01")).toBe(0);
  });
});

describe("requiredDate", () => {
  it("returns the value and records nothing for a real date", () => {
    expect(violationsOf((v) => expect(requiredDate("2027-02-28", "period_start", v)).toBe("2027-02-28"))).toEqual([]);
  });
  it("names the field: required when empty, the date rule when malformed", () => {
    expect(violationsOf((v) => requiredDate("", "capacity.period_start", v))).toEqual([{ field: "capacity.period_start", description: "is required" }]);
    expect(violationsOf((v) => requiredDate("2027-02-29", "period_end", v))).toEqual([{ field: "period_end", description: DATE_RULE }]);
  });
});

describe("optionalDate", () => {
  it("is undefined when empty, the value when real", () => {
    expect(violationsOf((v) => expect(optionalDate("", "period_from", v)).toBeUndefined())).toEqual([]);
    expect(violationsOf((v) => expect(optionalDate("2027-01-01", "period_from", v)).toBe("2027-01-01"))).toEqual([]);
  });
  it("records the date rule for a malformed date", () => {
    expect(violationsOf((v) => optionalDate("2027-1-1", "period_to", v))).toEqual([{ field: "period_to", description: DATE_RULE }]);
  });
});

describe("checkPeriodOrder", () => {
  it("takes a single day and an ordered period", () => {
    expect(violationsOf((v) => expect(checkPeriodOrder("2027-01-01", "2027-01-01", "period_end", "period_start", v)).toBe(true))).toEqual([]);
    expect(violationsOf((v) => expect(checkPeriodOrder("2026-12-31", "2027-01-01", "period_end", "period_start", v)).toBe(true))).toEqual([]);
  });
  it("names the end field and the start's name when the end comes first", () => {
    expect(violationsOf((v) => expect(checkPeriodOrder("2027-01-02", "2027-01-01", "capacity.period_end", "period_start", v)).toBe(false))).toEqual([
      { field: "capacity.period_end", description: "must not be before period_start" },
    ]);
  });
  it("adds nothing for a malformed or missing date (its own check reports it) but is not a period", () => {
    for (const [start, end] of [
      ["", "2027-01-01"],
      ["2027-01-01", "2027-02-30"],
      ["2027-13-01", "2027-01-01"],
    ] as const) {
      expect(violationsOf((v) => expect(checkPeriodOrder(start, end, "period_to", "period_from", v)).toBe(false))).toEqual([]);
    }
  });
});
