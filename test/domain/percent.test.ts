import { describe, expect, it } from "vitest";
import { fromBasisPoints, optionalPercent, PERCENT_RULE, requiredPercent, toBasisPoints } from "../../src/domain/percent.js";
import { violationsOf } from "../helpers/violations.js";

describe("toBasisPoints", () => {
  it.each([
    [0, 0],
    [100, 10000],
    [33.33, 3333],
    [33.34, 3334],
    [0.01, 1],
    [99.99, 9999],
    [12.5, 1250],
  ])("%s%% is %s basis points", (pct, bp) => {
    expect(toBasisPoints(pct)).toBe(bp);
  });

  it.each([100.01, -0.01, 33.333, 0.001, Number.NaN, Infinity, -Infinity, 1e300, Number.MIN_VALUE, 1e-9, 0.1 + 0.2])("rejects %s", (pct) => {
    expect(toBasisPoints(pct)).toBeUndefined();
  });

  it("takes -0 as 0", () => {
    expect(Object.is(toBasisPoints(-0), 0)).toBe(true);
  });

  it("makes 33.33 + 33.33 + 33.34 exactly 100", () => {
    const sum = [33.33, 33.33, 33.34].map((p) => toBasisPoints(p)!).reduce((a, b) => a + b, 0);
    expect(sum).toBe(10000);
    expect(fromBasisPoints(sum)).toBe(100);
  });

  it("round-trips every hundredth from 0 to 100", () => {
    for (let bp = 0; bp <= 10000; bp++) expect(toBasisPoints(fromBasisPoints(bp))).toBe(bp);
  });
});

describe("requiredPercent", () => {
  it("is the basis points of a valid percentage", () => {
    expect(violationsOf((v) => expect(requiredPercent(33.33, "capacity.allocated_pct", v)).toBe(3333))).toEqual([]);
    expect(violationsOf((v) => expect(requiredPercent(0, "capacity.allocated_pct", v)).toBe(0))).toEqual([]);
  });
  it("is 0 with a violation when absent or malformed", () => {
    expect(violationsOf((v) => expect(requiredPercent(undefined, "capacity.allocated_pct", v)).toBe(0))).toEqual([
      { field: "capacity.allocated_pct", description: "is required" },
    ]);
    expect(violationsOf((v) => expect(requiredPercent(100.5, "capacity.allocated_pct", v)).toBe(0))).toEqual([
      { field: "capacity.allocated_pct", description: PERCENT_RULE },
    ]);
  });
});

describe("optionalPercent", () => {
  it("is undefined when absent and the basis points when valid", () => {
    expect(violationsOf((v) => expect(optionalPercent(undefined, "min_available_pct", v)).toBeUndefined())).toEqual([]);
    expect(violationsOf((v) => expect(optionalPercent(12.5, "min_available_pct", v)).toBe(1250))).toEqual([]);
  });
  it.each([Number.NaN, -1, 33.333])("records the rule for %s", (pct) => {
    expect(violationsOf((v) => expect(optionalPercent(pct, "min_available_pct", v)).toBeUndefined())).toEqual([
      { field: "min_available_pct", description: PERCENT_RULE },
    ]);
  });
});
