import { describe, expect, it } from "vitest";
import { availabilityWindow, batchPersonIds, MAX_BATCH_PERSONS, withinThreeYears } from "../../src/domain/availability-query.js";
import { DATE_RULE } from "../../src/domain/dates.js";
import { REFERENCE_RULE } from "../../src/domain/ids.js";
import { violationsOf } from "../helpers/violations.js";

const P = (n: number): string => `per_01M8FMTT425T0SWT9WYGC6${String(n).padStart(4, "0")}`;

describe("withinThreeYears", () => {
  it("allows up to three calendar years", () => {
    expect(withinThreeYears("2027-01-01", "2029-12-31")).toBe(true);
    expect(withinThreeYears("2027-01-01", "2030-01-01")).toBe(false);
    expect(withinThreeYears("2028-02-29", "2031-02-28")).toBe(true);
    expect(withinThreeYears("2028-02-29", "2031-03-01")).toBe(false);
  });
});

describe("availabilityWindow", () => {
  it("returns the window as sent when both dates are real, ordered and at most three years apart", () => {
    expect(violationsOf((v) => expect(availabilityWindow("2027-01-01", "2029-12-31", v)).toEqual({ start: "2027-01-01", end: "2029-12-31" }))).toEqual([]);
    expect(violationsOf((v) => availabilityWindow("2027-05-05", "2027-05-05", v))).toEqual([]);
  });
  it("requires both dates, start first", () => {
    expect(violationsOf((v) => availabilityWindow("", "", v))).toEqual([
      { field: "period_start", description: "is required" },
      { field: "period_end", description: "is required" },
    ]);
  });
  it("reports each malformed date and no ordering beside them", () => {
    expect(violationsOf((v) => availabilityWindow("2027-02-30", "2026-01-01", v))).toEqual([{ field: "period_start", description: DATE_RULE }]);
    expect(violationsOf((v) => availabilityWindow("2027-01-01", "2027/02/01", v))).toEqual([{ field: "period_end", description: DATE_RULE }]);
  });
  it("refuses an end before the start, without the length rule", () => {
    expect(violationsOf((v) => availabilityWindow("2031-01-01", "2027-01-01", v))).toEqual([
      { field: "period_end", description: "must not be before period_start" },
    ]);
  });
  it("refuses a window over three years on period_end", () => {
    expect(violationsOf((v) => availabilityWindow("2027-01-01", "2030-01-01", v))).toEqual([
      { field: "period_end", description: "the window must be at most three years long" },
    ]);
  });
});

describe("batchPersonIds", () => {
  it("returns the people in request order, canonical", () => {
    expect(violationsOf((v) => expect(batchPersonIds([P(2), "PER_01m8fmtt425t0swt9wygc60001"], v)).toEqual([P(2), P(1)]))).toEqual([]);
  });
  it("needs at least one person", () => {
    expect(violationsOf((v) => expect(batchPersonIds([], v)).toEqual([]))).toEqual([{ field: "person_ids", description: "must name at least one person" }]);
  });
  it("takes exactly MAX_BATCH_PERSONS and refuses one more, checking only the first MAX_BATCH_PERSONS", () => {
    const most = Array.from({ length: MAX_BATCH_PERSONS }, (_, i) => P(i));
    expect(violationsOf((v) => batchPersonIds(most, v))).toEqual([]);
    const tooMany = [...most, "not an id"];
    expect(violationsOf((v) => expect(batchPersonIds(tooMany, v)).toHaveLength(MAX_BATCH_PERSONS))).toEqual([
      { field: "person_ids", description: `must name at most ${MAX_BATCH_PERSONS} people` },
    ]);
  });
  it("names each bad entry by index, and a duplicate (after canonical form) at its second place", () => {
    expect(violationsOf((v) => batchPersonIds([P(1), "", "bob", P(1).toLowerCase()], v))).toEqual([
      { field: "person_ids[1]", description: "is required" },
      { field: "person_ids[2]", description: REFERENCE_RULE },
      { field: "person_ids[3]", description: "is a duplicate; name each person once" },
    ]);
  });
});
