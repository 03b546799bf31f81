import type { Knex } from "knex";
import * as capacities from "./20261127000000_capacities.js";
import * as capacityPersons from "./20261127010000_capacity_persons.js";
import * as requestIdsPerApp from "./20261201000000_request_ids_per_app.js";

/** Every migration, oldest first. Listed here so the build needs no directory scan. */
const migrations: Record<string, Knex.Migration> = {
  "20261127000000_capacities": capacities,
  "20261127010000_capacity_persons": capacityPersons,
  "20261201000000_request_ids_per_app": requestIdsPerApp,
};

/** Knex's source of migrations: the list above, by name. */
export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(migrations)),
  getMigrationName: (name) => name,
  getMigration: (name) => {
    const migration = migrations[name];
    return migration ? Promise.resolve(migration) : Promise.reject(new Error(`unknown migration ${name}`));
  },
};

/** Every table the migrations create, dependents first (tests drop them to start clean). */
export const OWNED_TABLES = ["capacity_persons", "capacity_requests", "capacities", "knex_migrations", "knex_migrations_lock"];
