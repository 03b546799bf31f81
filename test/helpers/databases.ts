import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Knex } from "knex";
import { migrate, openDatabase } from "../../src/store/database.js";

/** The MariaDB/MySQL the suites run on; CI starts it. */
export const MYSQL_URL = process.env.CAPACITY_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

export type Engine = "sqlite" | "mysql";
/** Every suite that touches a database runs once per engine. */
export const ENGINES: Engine[] = ["sqlite", "mysql"];

export interface TestDatabase {
  engine: Engine;
  /** For the app's config: undefined selects SQLite. */
  url: string | undefined;
  /** SQLite file shared by the app and the test's own connection. */
  sqliteFile: string | undefined;
  dataDir: string;
  /** A connection of the test's own, for fixtures and row-by-row checks. */
  knex: Knex;
}

/**
 * A database for one suite. SQLite gets a fresh file (migrated by the app
 * or by migrate()); MySQL is shared and was migrated by the global setup, so
 * suites keep apart by using their own tenants.
 */
export function testDatabase(engine: Engine): TestDatabase {
  const dataDir = mkdtempSync(join(tmpdir(), "capacity-test-"));
  if (engine === "mysql") {
    return { engine, url: MYSQL_URL, sqliteFile: undefined, dataDir, knex: openDatabase({ url: MYSQL_URL, dataDir }) };
  }
  const sqliteFile = join(dataDir, "test.sqlite");
  return { engine, url: undefined, sqliteFile, dataDir, knex: openDatabase({ url: undefined, dataDir, sqliteFile }) };
}

/** A suite's database with the schema in place: SQLite migrated here, MySQL by the global setup. */
export async function migratedDatabase(engine: Engine): Promise<TestDatabase> {
  const db = testDatabase(engine);
  if (engine === "sqlite") await migrate(db.knex);
  return db;
}
