/** Which SQL engine a Knex instance talks to (migrations and queries differ in a few places). */
import type { Knex } from "knex";

/** The two SQL engines the store speaks. */
export type Dialect = "mysql" | "sqlite";

/** Which engine a Knex instance talks to. */
export function dialectOf(knex: Knex): Dialect {
  const config = (knex.client as { config: Knex.Config }).config;
  return config.client === "mysql2" ? "mysql" : "sqlite";
}
