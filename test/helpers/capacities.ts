/** Fixtures written straight into `capacities` (the API would take minutes for thousands of rows). */
import type { Knex } from "knex";
import { ulid } from "ulid";
import { dialectOf } from "../../src/store/database.js";

export interface Fixture {
  tenantId: string;
  personId: string;
  periodStart: string;
  periodEnd: string;
  allocatedBp: number;
  notes?: string;
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
