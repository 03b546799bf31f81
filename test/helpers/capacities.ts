/**
 * Capacities for tests: valid create requests, fixtures written straight into
 * `capacities` (the API would take minutes for thousands of rows), row counts.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Knex } from "knex";
import { ulid } from "ulid";
import { dialectOf } from "../../src/store/dialect.js";
import type { Capacity, CapacitySchema } from "../../src/gen/work/v1/capacity_pb.js";
import { person, project } from "./ids.js";

/** Capacity fields as a client sends them (a plain object, not a built message). */
export type CapacityInit = Exclude<MessageInitShape<typeof CapacitySchema>, Capacity>;

/**
 * A SetCapacity request that creates a valid record (5% of a new person on a
 * new project for two days); `over` replaces any capacity field.
 */
export function createRequest<O extends CapacityInit = Record<never, never>>(over?: O) {
  return {
    capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 5, ...over },
  };
}

/** How many rows of `capacities` the tenant has, deleted ones included. */
export async function countCapacities(knex: Knex, tenantId: string): Promise<number> {
  const [row] = await knex("capacities").where("tenant_id", tenantId).count({ n: "*" });
  return Number(row?.n);
}

export interface Fixture {
  tenantId: string;
  personId: string;
  periodStart: string;
  periodEnd: string;
  allocatedBp: number;
  notes?: string;
}

/** `n` allocations of 1% of a person, starting a day apart from 2027-01-02, all to the end of 2029: n + 1 segments, ~n²/2 ids. */
export function staircase(tenantId: string, personId: string, n: number): Fixture[] {
  return Array.from({ length: n }, (_, i) => ({
    tenantId,
    personId,
    periodStart: new Date(Date.UTC(2027, 0, 2 + i)).toISOString().slice(0, 10),
    periodEnd: "2029-12-31",
    allocatedBp: 100,
  }));
}

/** Inserts live, tentative capacities and returns their ids, in order. */
export async function insertCapacities(knex: Knex, fixtures: readonly Fixture[], projectId = "prj_01HV0000000000000000000000"): Promise<string[]> {
  const now = Date.now();
  const rows = fixtures.map((f) => ({
    tenant_id: f.tenantId,
    id: `cap_${ulid()}`,
    app_id: "",
    created_at: now,
    updated_at: now,
    created_by: f.personId,
    updated_by: f.personId,
    source: "test",
    source_type: 5,
    is_deleted: false,
    deleted_at: null,
    deleted_by: "",
    schema_version: 1,
    person_id: f.personId,
    project_id: projectId,
    period_start: f.periodStart,
    period_end: f.periodEnd,
    allocated_bp: f.allocatedBp,
    confirmed_by_id: "",
    confirmed_at: null,
    notes: f.notes ?? "",
    etag: "fixture",
  }));
  // 40 rows × 22 columns stays under SQLite's 999 bound variables.
  const chunk = dialectOf(knex) === "mysql" ? 1000 : 40;
  await knex.batchInsert("capacities", rows, chunk);
  return rows.map((r) => r.id);
}
