import { describe, expect, it } from "vitest";
import type { Allocation } from "../../src/domain/availability.js";
import { OverallocatedError } from "../../src/domain/errors.js";
import { assertNotOverallocated, checkPolicy, overallocationWindow, type PolicyCandidate } from "../../src/domain/overallocation.js";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { thrownBy, violationsOf } from "../helpers/violations.js";

const PERSON = "per_01M8FMTT425T0SWT9WYGC66PKF";
const { REJECT, ALLOW, UNSPECIFIED } = OverallocationPolicy;
const candidate = (over: Partial<PolicyCandidate> = {}): PolicyCandidate => ({
  id: "cap_new",
  personId: PERSON,
  periodStart: "2027-01-01",
  periodEnd: "2027-01-31",
  allocatedBp: 4000,
  isDeleted: false,
  ...over,
});
const other = (id: string, periodStart: string, periodEnd: string, allocatedBp: number): Allocation => ({ id, periodStart, periodEnd, allocatedBp });

describe("checkPolicy", () => {
  it.each([UNSPECIFIED, ALLOW, REJECT])("takes %s", (policy) => {
    expect(violationsOf((v) => checkPolicy(policy, v))).toEqual([]);
  });
  it("refuses a number outside the enum", () => {
    expect(violationsOf((v) => checkPolicy(99 as OverallocationPolicy, v))).toEqual([
      { field: "overallocation_policy", description: "must be a known OverallocationPolicy value" },
    ]);
  });
});

describe("overallocationWindow", () => {
  it("is the record's days under REJECT", () => {
    expect(overallocationWindow(candidate(), REJECT)).toEqual({ start: "2027-01-01", end: "2027-01-31" });
  });
  it("is undefined when nothing needs loading: another policy, a deleted record, 0%", () => {
    expect(overallocationWindow(candidate(), ALLOW)).toBeUndefined();
    expect(overallocationWindow(candidate(), UNSPECIFIED)).toBeUndefined();
    expect(overallocationWindow(candidate({ isDeleted: true }), REJECT)).toBeUndefined();
    expect(overallocationWindow(candidate({ allocatedBp: 0 }), REJECT)).toBeUndefined();
  });
});

describe("assertNotOverallocated", () => {
  it("allows exactly 100% on every day", () => {
    expect(() => assertNotOverallocated(candidate({ allocatedBp: 6000 }), REJECT, [other("a", "2026-12-01", "2027-03-01", 4000)])).not.toThrow();
  });

  it("throws the first run above 100%, clipped to the record's days, with its total", () => {
    const others = [other("a", "2026-12-01", "2027-01-10", 5000), other("b", "2027-01-05", "2027-01-20", 2000), other("c", "2027-01-25", "2027-02-10", 7000)];
    const err = thrownBy(() => assertNotOverallocated(candidate({ allocatedBp: 4000 }), REJECT, others));
    expect(err).toBeInstanceOf(OverallocatedError);
    expect(err).toMatchObject({ personId: PERSON, periodStart: "2027-01-05", periodEnd: "2027-01-10", allocatedBp: 11000 });
  });

  it("leaves out the stored version of the record itself (an update replaces it)", () => {
    const stored = other("cap_new", "2027-01-01", "2027-01-31", 9000);
    expect(() => assertNotOverallocated(candidate({ allocatedBp: 9000 }), REJECT, [stored])).not.toThrow();
    expect(() => assertNotOverallocated(candidate({ id: "cap_other", allocatedBp: 9000 }), REJECT, [stored])).toThrow(OverallocatedError);
  });

  it("ignores days outside the record's period", () => {
    expect(() => assertNotOverallocated(candidate({ allocatedBp: 10000 }), REJECT, [other("a", "2026-01-01", "2026-12-31", 10000)])).not.toThrow();
  });

  it("checks nothing under another policy, for a deleted record or for 0%", () => {
    const full = [other("a", "2027-01-01", "2027-01-31", 10000)];
    expect(() => assertNotOverallocated(candidate(), ALLOW, full)).not.toThrow();
    expect(() => assertNotOverallocated(candidate(), UNSPECIFIED, full)).not.toThrow();
    expect(() => assertNotOverallocated(candidate({ isDeleted: true }), REJECT, full)).not.toThrow();
    expect(() => assertNotOverallocated(candidate({ allocatedBp: 0 }), REJECT, [other("a", "2027-01-01", "2027-01-31", 12000)])).not.toThrow();
  });
});
