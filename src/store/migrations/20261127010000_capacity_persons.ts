import type { Knex } from "knex";
import { dialectOf } from "../dialect.js";

/**
 * One row per person who has ever had an allocation written. Writers of a
 * person's allocations upsert it first: its row lock serializes them, so an
 * over-allocation check and the write it guards are atomic.
 */
export async function up(knex: Knex): Promise<void> {
  const mysql = dialectOf(knex) === "mysql";
  await knex.schema.createTable("capacity_persons", (t) => {
    if (mysql) {
      t.charset("utf8mb4");
      t.collate("utf8mb4_bin");
    }
    t.string("tenant_id", 64).notNullable().comment("Tenant of the person");
    t.string("person_id", 64).notNullable().comment("Person whose allocations are written");
    t.bigInteger("revision").notNullable().defaultTo(0).comment("Count of allocation writes for this person");
    t.primary(["tenant_id", "person_id"]);
  });
}

/** Reverts this migration. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("capacity_persons");
}
