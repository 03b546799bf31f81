import { describe, expect, it } from "vitest";
import { fromBasisPoints, toBasisPoints } from "../../src/domain/percent.js";

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
