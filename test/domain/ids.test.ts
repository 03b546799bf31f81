import { describe, expect, it } from "vitest";
import { CAPACITY_ID_RULE, canonicalReference, checkCapacityId, checkRequestId, isCapacityId, isScopeId, isUuid, newCapacityId } from "../../src/domain/ids.js";
import { violationsOf } from "../helpers/violations.js";

describe("capacity ids", () => {
  it("are cap_ + a ULID, increasing within a millisecond", () => {
    const ids = Array.from({ length: 100 }, () => newCapacityId(1_800_000_000_000));
    for (const id of ids) expect(isCapacityId(id)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(100);
  });
  it.each(["cap_", "cap_01M8FMTT425T0SWT9WYGC66PK", "per_01M8FMTT425T0SWT9WYGC66PKF", "cap_81M8FMTT425T0SWT9WYGC66PKF", "cap_01M8FMTT425T0SWT9WYGC66PKI"])(
    "rejects %s",
    (id) => expect(isCapacityId(id)).toBe(false),
  );
});

describe("canonicalReference", () => {
  it("accepts UUIDs in any case, returning lower case", () => {
    expect(canonicalReference("3F2504E0-4F89-11D3-9A0C-0305E82C3301")).toBe("3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  });
  it("accepts prefixed ULIDs, canonicalizing the case", () => {
    expect(canonicalReference("PER_01m8fmtt425t0swt9wygc66pkf")).toBe("per_01M8FMTT425T0SWT9WYGC66PKF");
    expect(canonicalReference("prj_01M8FMTT425T0SWT9WYGC66PKF")).toBe("prj_01M8FMTT425T0SWT9WYGC66PKF");
  });
  it.each([
    "",
    "per_",
    "01M8FMTT425T0SWT9WYGC66PKF",
    "_01M8FMTT425T0SWT9WYGC66PKF",
    "per_01M8FMTT425T0SWT9WYGC66PKU",
    "1per_01M8FMTT425T0SWT9WYGC66PKF",
    "per-01M8FMTT425T0SWT9WYGC66PKF",
    "3f2504e0-4f89-11d3-9a0c-0305e82c330",
    "3f2504e04f8911d39a0c0305e82c3301",
    "per_01M8FMTT425T0SWT9WYGC66PKF' OR 1=1 --",
  ])("rejects %j", (value) => expect(canonicalReference(value)).toBeUndefined());
});

describe("isScopeId", () => {
  it("takes short ids of letters, digits, _ - .", () => {
    expect(isScopeId("acme")).toBe(true);
    expect(isScopeId("tenant-01.eu_west")).toBe(true);
    expect(isScopeId("a".repeat(64))).toBe(true);
  });
  it.each([["a".repeat(65)], [""], ["-lead"], ["with space"], ["ünï"], [42], [null], [["acme"]]])("rejects %j", (value) => {
    expect(isScopeId(value)).toBe(false);
  });
});

describe("checkCapacityId", () => {
  it("takes a capacity id", () => {
    expect(violationsOf((v) => checkCapacityId(newCapacityId(), "id", v))).toEqual([]);
  });
  it("names the field: required when empty, the id rule when malformed", () => {
    expect(violationsOf((v) => checkCapacityId("", "id", v))).toEqual([{ field: "id", description: "is required" }]);
    expect(violationsOf((v) => checkCapacityId("cap_01m8fmtt425t0swt9wygc66pkf", "capacity.id", v))).toEqual([
      { field: "capacity.id", description: CAPACITY_ID_RULE },
    ]);
  });
});

describe("request ids", () => {
  it("are UUIDs in either case", () => {
    expect(isUuid("6f9619ff-8b86-d011-b42d-00c04fc964ff")).toBe(true);
    expect(isUuid("6F9619FF-8B86-D011-B42D-00C04FC964FF")).toBe(true);
  });
  it.each([
    "6f9619ff8b86d011b42d00c04fc964ff",
    "{6f9619ff-8b86-d011-b42d-00c04fc964ff}",
    "6f9619ff-8b86-d011-b42d-00c04fc964fg",
    "per_01M8FMTT425T0SWT9WYGC66PKF",
  ])("rejects %s", (value) => {
    expect(isUuid(value)).toBe(false);
    expect(violationsOf((v) => checkRequestId(value, "request_id", v))).toEqual([{ field: "request_id", description: "must be a UUID" }]);
  });
  it("are optional", () => {
    expect(violationsOf((v) => checkRequestId("", "request_id", v))).toEqual([]);
  });
});
