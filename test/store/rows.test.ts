/** The row ↔ record mapping: snake_case columns for every field, MySQL's 0/1 booleans read as booleans. */
import { describe, expect, it } from "vitest";
import type { CapacityRecord } from "../../src/domain/capacity.js";
import { toRecord, toRow, type CapacityRow } from "../../src/store/rows.js";

const record: CapacityRecord = {
  id: "cap_01HV0000000000000000000000",
  tenantId: "t1",
  appId: "",
  createdAt: 1_767_225_600_000,
  updatedAt: 1_767_225_600_001,
  createdBy: "per_a",
  updatedBy: "per_b",
  source: "edm",
  sourceType: 1,
  isDeleted: true,
  deletedAt: 1_767_225_600_002,
  deletedBy: "per_c",
  schemaVersion: 1,
  personId: "per_d",
  projectId: "prj_e",
  periodStart: "2027-01-01",
  periodEnd: "2027-01-31",
  allocatedBp: 5050,
  confirmedById: "",
  confirmedAt: null,
  notes: "n",
  etag: "e",
};

describe("rows", () => {
  it("stores every field under its snake_case column and reads it back unchanged", () => {
    const row = toRow(record);
    expect(Object.keys(row).sort()).toEqual(
      Object.keys(record)
        .map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`))
        .sort(),
    );
    expect(row).toMatchObject({ tenant_id: "t1", period_start: "2027-01-01", allocated_bp: 5050, is_deleted: true, confirmed_at: null });
    expect(toRecord(row)).toEqual(record);
  });

  it("reads MySQL's TINYINT booleans as booleans and leaves every other value as the driver gave it", () => {
    const mysqlRow = { ...toRow(record), is_deleted: 0 } as CapacityRow;
    const read = toRecord(mysqlRow);
    expect(read.isDeleted).toBe(false);
    expect(toRecord({ ...mysqlRow, is_deleted: 1 }).isDeleted).toBe(true);
    expect(read.allocatedBp).toBe(5050);
    expect(read.deletedAt).toBe(1_767_225_600_002);
  });
});
