import type { Knex } from "knex";
import { dialectOf } from "../dialect.js";

/**
 * Working time (WorkingTimeService): work schedules, holiday calendars and
 * their entries, time off. Like the capacities table: every key starts with
 * tenant_id, no auto-increment, no foreign keys; dates are DATE (strings
 * `YYYY-MM-DD` to the service), timestamps epoch milliseconds. Request ids of
 * the new Set RPCs go to the existing capacity_requests table (its fingerprint
 * names the RPC), so its purge covers them.
 */

/** The weekday columns of work_schedules, Monday first (the order of `weekday_minutes`); frozen here, as a migration must be. */
const WEEKDAY_COLUMNS = ["minutes_mon", "minutes_tue", "minutes_wed", "minutes_thu", "minutes_fri", "minutes_sat", "minutes_sun"] as const;
const WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/** The columns every record of the service has: identity, scope, stamps and the etag. */
function recordColumns(t: Knex.CreateTableBuilder, mysql: boolean, idComment: string): void {
  if (mysql) {
    t.charset("utf8mb4");
    t.collate("utf8mb4_bin");
  }
  t.string("tenant_id", 64).notNullable().comment("Owning tenant, from the writer's token");
  t.string("id", 32).notNullable().comment(idComment);
  t.string("app_id", 64).notNullable().defaultTo("").comment("Creating app from the token; empty for none");
  t.bigInteger("created_at").notNullable().comment("Creation time, epoch milliseconds");
  t.bigInteger("updated_at").notNullable().comment("Last write time, epoch milliseconds");
  t.string("created_by", 64).notNullable().comment("Token sub of the creator");
  t.string("updated_by", 64).notNullable().comment("Token sub of the last writer");
  t.string("etag", 32).notNullable().comment("Changes on every write; optimistic concurrency token");
}

/** The soft-delete columns of records that have a Delete RPC. */
function softDeleteColumns(t: Knex.CreateTableBuilder): void {
  t.boolean("is_deleted").notNullable().defaultTo(false).comment("Soft-delete flag");
  t.bigInteger("deleted_at").nullable().comment("Deletion time, epoch milliseconds; null unless deleted");
  t.string("deleted_by", 64).notNullable().defaultTo("").comment("Token sub of the deleter; empty unless deleted");
}

/** Applies this migration. */
export async function up(knex: Knex): Promise<void> {
  const mysql = dialectOf(knex) === "mysql";
  await knex.schema.createTable("work_schedules", (t) => {
    recordColumns(t, mysql, "wsc_ + ULID, assigned by the server");
    softDeleteColumns(t);
    t.string("person_id", 64).notNullable().defaultTo("").comment("Person: UUID or prefixed ULID; empty for the tenant default");
    t.date("valid_from").notNullable().comment("First day the schedule applies");
    WEEKDAY_COLUMNS.forEach((column, i) => {
      t.smallint(column).notNullable().comment(`Minutes of work on ${WEEKDAY_NAMES[i]}, 0-1440`);
    });
    t.string("holiday_calendar_id", 32).notNullable().defaultTo("").comment("hcal_ id of the calendar that applies; empty for none");
    t.primary(["tenant_id", "id"]);
    t.index(["tenant_id", "person_id", "valid_from", "id"], "work_schedules_person_from");
    t.index(["tenant_id", "valid_from", "id"], "work_schedules_from");
  });
  await knex.schema.createTable("holiday_calendars", (t) => {
    recordColumns(t, mysql, "hcal_ + ULID, assigned by the server");
    t.string("name", 200).notNullable().comment("Calendar name, 1-200 characters");
    t.string("region", 64).notNullable().defaultTo("").comment("Free-text region such as DE-BY; empty for none");
    t.primary(["tenant_id", "id"]);
    t.index(["tenant_id", "region", "id"], "holiday_calendars_region");
  });
  await knex.schema.createTable("holidays", (t) => {
    if (mysql) {
      t.charset("utf8mb4");
      t.collate("utf8mb4_bin");
    }
    t.string("tenant_id", 64).notNullable().comment("Tenant of the calendar");
    t.string("calendar_id", 32).notNullable().comment("hcal_ id of the calendar the entry belongs to");
    t.date("holiday_date").notNullable().comment("The day; one entry per day and calendar");
    t.string("name", 200).notNullable().comment("Holiday name, 1-200 characters");
    t.smallint("minutes_off").notNullable().defaultTo(0).comment("Minutes off that day, 0-1440; 0 for the whole day");
    t.primary(["tenant_id", "calendar_id", "holiday_date"]);
  });
  await knex.schema.createTable("time_off", (t) => {
    recordColumns(t, mysql, "off_ + ULID, assigned by the server");
    softDeleteColumns(t);
    t.string("person_id", 64).notNullable().comment("Person on leave: UUID or prefixed ULID");
    t.date("period_start").notNullable().comment("First day off, inclusive");
    t.date("period_end").notNullable().comment("Last day off, inclusive");
    t.smallint("kind").notNullable().comment("work.v1.TimeOffKind number");
    t.smallint("minutes_per_day").notNullable().defaultTo(0).comment("Minutes off per day, 0-1440; 0 for whole days");
    t.smallint("status").notNullable().comment("work.v1.TimeOffStatus number");
    t.text("notes").notNullable().comment("Free text, at most 4000 characters");
    t.primary(["tenant_id", "id"]);
    t.index(["tenant_id", "person_id", "period_start", "id"], "time_off_person_period");
    t.index(["tenant_id", "period_start", "id"], "time_off_period");
  });
}

/** Reverts this migration. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("time_off");
  await knex.schema.dropTable("holidays");
  await knex.schema.dropTable("holiday_calendars");
  await knex.schema.dropTable("work_schedules");
}
