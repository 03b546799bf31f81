import { describe, expect, it } from "vitest";
import {
  confirmRecord,
  createRecord,
  deleteRecord,
  resolveMask,
  undeleteRecord,
  updateRecord,
  type CapacityInput,
  type WriteStamp,
} from "../../src/domain/capacity.js";
import { AlreadyExistsError, EtagMismatchError, FailedPreconditionError, InvalidArgumentError, MAX_VIOLATIONS, Violations } from "../../src/domain/errors.js";
import { MAX_MASK_PATHS } from "../../src/domain/records.js";
import { SourceType } from "../../src/gen/work/v1/capacity_pb.js";

const PERSON = "per_01M8FMTT425T0SWT9WYGC66PKF";
const PROJECT = "prj_01M8FMTT425T0SWT9WYGC66PKG";
const input = (over: Partial<CapacityInput> = {}): CapacityInput => ({
  personId: PERSON,
  projectId: PROJECT,
  periodStart: "2027-01-01",
  periodEnd: "2027-01-31",
  allocatedPct: 40,
  notes: "",
  source: "",
  sourceType: SourceType.UNSPECIFIED,
  ...over,
});
const stamp = (now: number, etag: string, actor = "per_01M8FMTT425T0SWT9WYGC66PKA"): WriteStamp => ({
  tenantId: "acme",
  appId: undefined,
  actor,
  now,
  etag,
});

function violations(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return err.violations.map((v) => v.field);
    throw err;
  }
  throw new Error("expected InvalidArgumentError");
}

describe("createRecord", () => {
  it("stamps server fields and applies defaults", () => {
    const r = createRecord(input(), "cap_X", stamp(1000, "e1"), new Violations());
    expect(r).toMatchObject({
      id: "cap_X",
      tenantId: "acme",
      appId: "",
      createdAt: 1000,
      updatedAt: 1000,
      createdBy: "per_01M8FMTT425T0SWT9WYGC66PKA",
      source: "edm",
      sourceType: SourceType.API,
      schemaVersion: 1,
      allocatedBp: 4000,
      isDeleted: false,
      etag: "e1",
    });
  });

  it("reports every missing required field at once", () => {
    const missing = { personId: "", projectId: "", periodStart: "", periodEnd: "", allocatedPct: undefined };
    expect(violations(() => createRecord(input(missing), "x", stamp(1, "e"), new Violations()))).toEqual([
      "capacity.person_id",
      "capacity.project_id",
      "capacity.period_start",
      "capacity.period_end",
      "capacity.allocated_pct",
    ]);
  });

  it("takes 0% as a value, not as missing", () => {
    expect(createRecord(input({ allocatedPct: 0 }), "x", stamp(1, "e"), new Violations()).allocatedBp).toBe(0);
  });

  it("rejects a period that ends before it starts, and single-day periods are fine", () => {
    expect(violations(() => createRecord(input({ periodEnd: "2026-12-31" }), "x", stamp(1, "e"), new Violations()))).toEqual(["capacity.period_end"]);
    const oneDay = createRecord(input({ periodEnd: "2027-01-01" }), "x", stamp(1, "e"), new Violations());
    expect(oneDay.periodEnd).toBe("2027-01-01");
  });

  it("counts notes in characters, not UTF-16 units", () => {
    const emoji = "😀".repeat(4000); // 8,000 UTF-16 units
    expect(createRecord(input({ notes: emoji }), "x", stamp(1, "e"), new Violations()).notes).toBe(emoji);
    expect(violations(() => createRecord(input({ notes: `${emoji}a` }), "x", stamp(1, "e"), new Violations()))).toEqual(["capacity.notes"]);
  });

  it("rejects unknown source types and over-long sources", () => {
    expect(violations(() => createRecord(input({ sourceType: 42 as SourceType, source: "s".repeat(65) }), "x", stamp(1, "e"), new Violations()))).toEqual([
      "capacity.source",
      "capacity.source_type",
    ]);
  });
});

describe("resolveMask", () => {
  it("selects the listed writable paths; none, empty or * mean all", () => {
    const v = new Violations();
    expect([...resolveMask(["notes", "allocated_pct"], v)!]).toEqual(["notes", "allocated_pct"]);
    expect(resolveMask(undefined, v)).toBeUndefined();
    expect(resolveMask([], v)).toBeUndefined();
    expect(resolveMask(["*"], v)).toBeUndefined();
    expect(v.empty).toBe(true);
  });
  it("refuses a mask of more than MAX_MASK_PATHS paths with one violation, and shortens a long unknown path", () => {
    const v = new Violations();
    resolveMask(
      Array.from({ length: 7000 }, () => "a"),
      v,
    );
    expect(() => v.throwIfAny()).toThrow(new RegExp(`^update_mask: has 7000 paths; at most ${MAX_MASK_PATHS} `));
    const w = new Violations();
    resolveMask(["x".repeat(10_000)], w);
    expect(() => w.throwIfAny()).toThrow(/unknown path "x{64}…"/);
  });
  it("lists at most MAX_VIOLATIONS violations, then how many more", () => {
    const v = new Violations();
    for (let i = 0; i < 250; i++) v.add(`f${i}`, "bad");
    try {
      v.throwIfAny();
      expect.unreachable();
    } catch (err) {
      const violations = (err as InvalidArgumentError).violations;
      expect(violations).toHaveLength(MAX_VIOLATIONS + 1);
      expect(violations.at(-1)).toEqual({ field: "request", description: "150 more violations not listed" });
    }
  });
  it("rejects unknown and output-only paths", () => {
    const v = new Violations();
    resolveMask(["nope", "etag", "allocatedPct"], v);
    expect(() => v.throwIfAny()).toThrow(/unknown path "nope".*output only.*unknown path "allocatedPct"/);
  });
});

describe("updateRecord", () => {
  const base = () => {
    const created = createRecord(input({ notes: "keep" }), "cap_X", stamp(1000, "e1"), new Violations());
    return confirmRecord(created, "", stamp(2000, "e2", "per_01M8FMTT425T0SWT9WYGC66PKM"));
  };

  it("changes only masked fields and keeps the confirmation when no confirmed number changes", () => {
    const next = updateRecord(base(), input({ notes: "new", allocatedPct: 99 }), new Set(["notes"] as const), stamp(3000, "e3"), new Violations());
    expect(next.notes).toBe("new");
    expect(next.allocatedBp).toBe(4000);
    expect(next.confirmedById).toBe("per_01M8FMTT425T0SWT9WYGC66PKM");
    expect(next).toMatchObject({ updatedAt: 3000, etag: "e3", createdAt: 1000 });
  });

  it.each([
    ["allocated_pct", { allocatedPct: 41 }],
    ["person_id", { personId: "per_01M8FMTT425T0SWT9WYGC66PKZ" }],
    ["project_id", { projectId: "prj_01M8FMTT425T0SWT9WYGC66PKZ" }],
    ["period_start", { periodStart: "2027-01-02" }],
    ["period_end", { periodEnd: "2027-01-30" }],
  ] as const)("clears the confirmation when %s changes", (path, over) => {
    const next = updateRecord(base(), input(over), new Set([path]), stamp(3000, "e3"), new Violations());
    expect(next.confirmedById).toBe("");
    expect(next.confirmedAt).toBeNull();
  });

  it("keeps the confirmation when a masked confirmed field is rewritten with the same value", () => {
    const next = updateRecord(base(), input(), new Set(["allocated_pct"] as const), stamp(3000, "e3"), new Violations());
    expect(next.confirmedById).not.toBe("");
  });

  it("replaces every writable field without a mask", () => {
    const next = updateRecord(base(), input({ allocatedPct: 40 }), undefined, stamp(3000, "e3"), new Violations());
    expect(next.notes).toBe("");
    expect(violations(() => updateRecord(base(), input({ allocatedPct: undefined }), undefined, stamp(3000, "e3"), new Violations()))).toEqual([
      "capacity.allocated_pct",
    ]);
  });

  it("validates the merged period", () => {
    expect(
      violations(() => updateRecord(base(), input({ periodEnd: "2026-01-01" }), new Set(["period_end"] as const), stamp(3, "e"), new Violations())),
    ).toEqual(["capacity.period_end"]);
  });
});

describe("delete, undelete, confirm", () => {
  const live = () => createRecord(input(), "cap_X", stamp(1000, "e1"), new Violations());

  it("soft deletes and restores", () => {
    const deleted = deleteRecord(live(), "e1", stamp(2000, "e2"));
    expect(deleted).toMatchObject({ isDeleted: true, deletedAt: 2000, deletedBy: "per_01M8FMTT425T0SWT9WYGC66PKA", etag: "e2" });
    const restored = undeleteRecord(deleted, "", stamp(3000, "e3"));
    expect(restored).toMatchObject({ isDeleted: false, deletedAt: null, deletedBy: "", etag: "e3" });
  });

  it("refuses writes to a deleted record and undelete of a live one", () => {
    const deleted = deleteRecord(live(), "", stamp(2000, "e2"));
    expect(() => deleteRecord(deleted, "", stamp(3, "e"))).toThrow(FailedPreconditionError);
    expect(() => confirmRecord(deleted, "", stamp(3, "e"))).toThrow(FailedPreconditionError);
    expect(() => undeleteRecord(live(), "", stamp(3, "e"))).toThrow(AlreadyExistsError);
  });

  it("checks the etag when one is sent", () => {
    expect(() => deleteRecord(live(), "stale", stamp(2, "e"))).toThrow(EtagMismatchError);
    expect(() => confirmRecord(live(), "stale", stamp(2, "e"))).toThrow(EtagMismatchError);
    expect(() => undeleteRecord(deleteRecord(live(), "", stamp(2, "e2")), "e1", stamp(3, "e"))).toThrow(EtagMismatchError);
  });
});
