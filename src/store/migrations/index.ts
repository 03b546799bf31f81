/**
 * The migrations: every `<YYYYMMDDHHMMSS>_<what>` module in this folder,
 * oldest first. Found by listing the folder, so a new migration is one new
 * file; the same listing works from the TypeScript sources (tsx, tests) and
 * from the compiled build (`dist/`), where the files end in `.js`.
 */
import { readdir } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Knex } from "knex";

const here = fileURLToPath(import.meta.url);
const folder = dirname(here);
/** Migration modules have this module's own extension (`.ts` from the sources, `.js` built). */
const extension = extname(here);
const MIGRATION_FILE = /^(\d{14}_[a-z0-9_]+)\.[jt]s$/;

/** The names of the migrations in this folder, oldest first. */
async function migrationNames(): Promise<string[]> {
  const files = await readdir(folder);
  return files
    .filter((f) => extname(f) === extension)
    .map((f) => MIGRATION_FILE.exec(f)?.[1])
    .filter((name): name is string => name !== undefined)
    .sort();
}

/** Knex's source of migrations: the modules above, by name. */
export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => migrationNames(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    if (!(await migrationNames()).includes(name)) throw new Error(`unknown migration ${name}`);
    return (await import(pathToFileURL(join(folder, `${name}${extension}`)).href)) as Knex.Migration;
  },
};

/** Every table the migrations create, dependents first (tests drop them to start clean). */
export const OWNED_TABLES = [
  "time_off",
  "holidays",
  "holiday_calendars",
  "work_schedules",
  "capacity_persons",
  "capacity_requests",
  "capacities",
  "knex_migrations",
  "knex_migrations_lock",
];
