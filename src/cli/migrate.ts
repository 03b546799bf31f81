/** Applies pending migrations to the configured database: npm run migrate */
import { loadConfig } from "../config.js";
import { migrate, openDatabase } from "../store/database.js";

const config = loadConfig(process.env, { serving: false });
const knex = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
try {
  await migrate(knex, (m) => process.stdout.write(`${m}\n`));
  process.stdout.write("schema is up to date\n");
} finally {
  await knex.destroy();
}
