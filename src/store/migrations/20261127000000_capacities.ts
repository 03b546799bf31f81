import type { Knex } from "knex";
import { dialectOf } from "../dialect.js";

/**
 * The capacities table and the idempotency record of SetCapacity. Every key
 * starts with tenant_id (the sharding key on Vitess); no auto-increment, no
 * foreign keys. Dates are DATE (strings `YYYY-MM-DD` to the service),
 * timestamps epoch milliseconds, percentages whole basis points.
 */
export async function up(knex: Knex): Promise<void> {
  const mysql = dialectOf(knex) === "mysql";
  await knex.schema.createTable("capacities", (t) => {
    if (mysql) {
      t.charset("utf8mb4");
      t.collate("utf8mb4_bin");
    }
    t.string("tenant_id", 64).notNullable().comment("Owning tenant, from the writer's token");
    t.string("id", 30).notNullable().comment("cap_ + ULID, assigned by the server");
    t.string("app_id", 64).notNullable().defaultTo("").comment("Creating app from the token; empty for none");
    t.bigInteger("created_at").notNullable().comment("Creation time, epoch milliseconds");
    t.bigInteger("updated_at").notNullable().comment("Last write time, epoch milliseconds");
    t.string("created_by", 64).notNullable().comment("Token sub of the creator");
    t.string("updated_by", 64).notNullable().comment("Token sub of the last writer");
    t.string("source", 64).notNullable().comment("Writing system, default edm");
    t.smallint("source_type").notNullable().comment("work.v1.SourceType number");
    t.boolean("is_deleted").notNullable().defaultTo(false).comment("Soft-delete flag");
    t.bigInteger("deleted_at").nullable().comment("Deletion time, epoch milliseconds; null unless deleted");
    t.string("deleted_by", 64).notNullable().defaultTo("").comment("Token sub of the deleter; empty unless deleted");
    t.integer("schema_version").notNullable().comment("Shape version of the record");
    t.string("person_id", 64).notNullable().comment("Allocated person: UUID or prefixed ULID");
    t.string("project_id", 64).notNullable().comment("Project: UUID or prefixed ULID");
    t.date("period_start").notNullable().comment("First allocated day, inclusive");
    t.date("period_end").notNullable().comment("Last allocated day, inclusive");
    t.integer("allocated_bp").notNullable().comment("Allocation in hundredths of a percent, 0-10000");
    t.string("confirmed_by_id", 64).notNullable().defaultTo("").comment("Token sub of the confirmer; empty if tentative");
    t.bigInteger("confirmed_at").nullable().comment("Confirmation time, epoch milliseconds; null if tentative");
    t.text("notes").notNullable().comment("Free text, at most 4000 characters");
    t.string("etag", 32).notNullable().comment("Changes on every write; optimistic concurrency token");
    t.primary(["tenant_id", "id"]);
    t.index(["tenant_id", "person_id", "period_start", "id"], "capacities_person_period");
    t.index(["tenant_id", "project_id", "period_start", "id"], "capacities_project_period");
    t.index(["tenant_id", "period_start", "id"], "capacities_period");
  });
  await knex.schema.createTable("capacity_requests", (t) => {
    if (mysql) {
      t.charset("utf8mb4");
      t.collate("utf8mb4_bin");
    }
    t.string("tenant_id", 64).notNullable().comment("Tenant of the caller");
    t.string("request_id", 36).notNullable().comment("Client-chosen UUID of a SetCapacity call");
    t.string("fingerprint", 64).notNullable().comment("SHA-256 of caller and request; a replay must match");
    t.binary("response").notNullable().comment("Serialized response returned to the first call");
    t.bigInteger("created_at").notNullable().comment("When the first call completed, epoch milliseconds");
    t.primary(["tenant_id", "request_id"]);
    t.index(["tenant_id", "created_at"], "capacity_requests_created");
  });
}

/** Reverts this migration. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("capacity_requests");
  await knex.schema.dropTable("capacities");
}
