import type { Knex } from "knex";
import * as capacities from "./20261127000000_capacities.js";

/** Every migration, oldest first. Listed here so the build needs no directory scan. */
const migrations: Record<string, Knex.Migration> = {
  "20261127000000_capacities": capacities,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};
