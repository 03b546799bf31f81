import { migrate, openDatabase } from "../../src/store/database.js";
import { OWNED_TABLES } from "../../src/store/migrations/index.js";
import { MYSQL_URL } from "./databases.js";

/** Gives the shared MySQL test database a fresh schema once per run. */
export default async function setup(): Promise<void> {
  const knex = openDatabase({ url: MYSQL_URL, dataDir: "." });
  try {
    for (const table of OWNED_TABLES) {
      await knex.schema.dropTableIfExists(table);
    }
    await migrate(knex);
  } catch (err) {
    throw new Error(`MySQL test database at ${MYSQL_URL.replace(/\/\/[^@]*@/, "//…@")} is not usable: ${String(err)}`, { cause: err });
  } finally {
    await knex.destroy();
  }
}
