import type { Knex } from "knex";
import { dialectOf } from "../dialect.js";

/**
 * Idempotency keys (`request_id`) are scoped to the caller's (tenant, app),
 * not to the tenant alone: one app can no longer see, or block with its own
 * records, the request ids of another app of the same tenant.
 *
 * Neither engine changes a primary key in place the same way (SQLite cannot at
 * all), so the table is rebuilt: create the new shape, copy, drop, rename.
 * Rows written before this migration get `app_id = ''` (their app is not
 * recorded): an app's retry of such a request runs it anew rather than
 * replaying, which only matters for calls in flight during the upgrade.
 */
const TABLE = "capacity_requests";
const NEXT = "capacity_requests_next";
const COLUMNS = ["tenant_id", "request_id", "fingerprint", "response", "created_at"];

function requestsTable(knex: Knex, name: string, withApp: boolean): Knex.SchemaBuilder {
  const mysql = dialectOf(knex) === "mysql";
  return knex.schema.createTable(name, (t) => {
    if (mysql) {
      t.charset("utf8mb4");
      t.collate("utf8mb4_bin");
    }
    t.string("tenant_id", 64).notNullable().comment("Tenant of the caller");
    if (withApp) t.string("app_id", 64).notNullable().defaultTo("").comment("App of the caller's token; empty for none");
    t.string("request_id", 36).notNullable().comment("Client-chosen UUID of a SetCapacity call");
    t.string("fingerprint", 64).notNullable().comment("SHA-256 of caller and request; a replay must match");
    t.binary("response").notNullable().comment("Serialized response returned to the first call");
    t.bigInteger("created_at").notNullable().comment("When the first call completed, epoch milliseconds");
    t.primary(withApp ? ["tenant_id", "app_id", "request_id"] : ["tenant_id", "request_id"]);
    // SQLite index names are schema-wide: the new table's index gets its own name.
    t.index(["tenant_id", "created_at"], withApp ? "capacity_requests_tenant_created" : "capacity_requests_created");
  });
}

/** Swaps the new table in: the old one is dropped, the new one takes its name. */
async function swap(knex: Knex): Promise<void> {
  await knex.schema.dropTable(TABLE);
  await knex.schema.renameTable(NEXT, TABLE);
}

/** Applies this migration. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists(NEXT); // a rebuild interrupted earlier
  await requestsTable(knex, NEXT, true);
  await knex.raw(`insert into ?? (${COLUMNS.map(() => "??").join(", ")}, ??) select ${COLUMNS.map(() => "??").join(", ")}, '' from ??`, [
    NEXT,
    ...COLUMNS,
    "app_id",
    ...COLUMNS,
    TABLE,
  ]);
  await swap(knex);
}

/** Reverts this migration. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists(NEXT);
  await requestsTable(knex, NEXT, false);
  // Two apps may hold the same (tenant, request_id): keep the row of the smallest app_id.
  await knex.raw(
    `insert into ?? (${COLUMNS.map(() => "??").join(", ")}) select ${COLUMNS.map(() => "r.??").join(", ")} from ?? r ` +
      "where not exists (select 1 from ?? o where o.?? = r.?? and o.?? = r.?? and o.?? < r.??)",
    [NEXT, ...COLUMNS, ...COLUMNS, TABLE, TABLE, "tenant_id", "tenant_id", "request_id", "request_id", "app_id", "app_id"],
  );
  await swap(knex);
}
