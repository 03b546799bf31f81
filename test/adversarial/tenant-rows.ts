/**
 * What one tenant has in the database (its capacities row by row, and how
 * many idempotency records and allocation writes), read with the test's own
 * connection, in a form that compares exactly: "this call wrote nothing" is
 * `toEqual(before)`.
 */
import type { Knex } from "knex";

export interface TenantRows {
  /** Capacity id → the whole row, as JSON. */
  capacities: Record<string, string>;
  /** How many capacity_requests rows (remembered request ids) the tenant has. */
  requests: number;
  /** The sum of the tenant's capacity_persons revisions: every allocation write adds one. */
  revisions: number;
}

/** JSON that keeps 64-bit integers (mysql2 may return BIGINT as bigint) and buffers. */
const json = (row: unknown): string => JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));

/**
 * The tenant's rows: every capacity whole, and a count of each other table
 * the service writes (two statements, as this runs after every fuzzed write).
 */
export async function tenantRows(knex: Knex, tenantId: string): Promise<TenantRows> {
  const counting: Promise<unknown> = knex
    .raw(
      "select (select count(*) from capacity_requests where tenant_id = ?) as requests, (select coalesce(sum(revision), 0) from capacity_persons where tenant_id = ?) as revisions",
      [tenantId, tenantId],
    )
    .then((result: unknown) => result);
  const [capacities, counters] = await Promise.all([
    knex("capacities").where({ tenant_id: tenantId }).orderBy("id").select<Array<{ id: string }>>("*"),
    counting,
  ]);
  // mysql2 answers [rows, fields]; better-sqlite3 answers the rows.
  const rows = counters as Array<unknown>;
  const row = (Array.isArray(rows[0]) ? (rows[0] as unknown[])[0] : rows[0]) as { requests: number | string; revisions: number | string };
  return {
    capacities: Object.fromEntries(capacities.map((r) => [r.id, json(r)])),
    requests: Number(row.requests),
    revisions: Number(row.revisions),
  };
}

/** How many capacities the tenant has. */
export async function countCapacities(knex: Knex, tenantId: string): Promise<number> {
  const [row] = await knex("capacities").where({ tenant_id: tenantId }).count({ n: "*" });
  return Number(row?.n);
}
