import { mkdirSync } from "node:fs";
import { join } from "node:path";
import knexFactory, { type Knex } from "knex";
import { migrationSource } from "./migrations/index.js";

/** Where the database is and how to open it. */
export interface DatabaseOptions {
  /** `mysql://…`; undefined selects the embedded SQLite file in `dataDir`. */
  url: string | undefined;
  dataDir: string;
  /** MySQL pool size. */
  poolMax?: number;
  /** SQLite only: a file path, or `:memory:`. Defaults to `<dataDir>/capacity.sqlite`. */
  sqliteFile?: string;
  /** Where Knex's own warnings go (default: dropped). They carry no SQL values. */
  warn?: (message: string) => void;
}

function knexLog(warn: (message: string) => void = () => {}): Knex.Config["log"] {
  const say = (m: unknown): void => warn(String(m));
  return { warn: say, error: say, deprecate: say, debug: () => {} };
}

/** Opens a Knex instance on MySQL or the embedded SQLite database. */
export function openDatabase(options: DatabaseOptions): Knex {
  if (options.url !== undefined) {
    return knexFactory({
      client: "mysql2",
      connection: {
        uri: options.url,
        // DATE columns come back as `YYYY-MM-DD`, untouched by time zones.
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: false,
        charset: "utf8mb4",
        connectTimeout: 1000,
        enableKeepAlive: true,
      } as Knex.MySql2ConnectionConfig,
      pool: { min: 0, max: options.poolMax ?? 10 },
      // Fail fast when the database is gone instead of queueing for a minute.
      acquireConnectionTimeout: 1000,
      log: knexLog(options.warn),
    });
  }
  let filename = options.sqliteFile;
  if (filename === undefined) {
    mkdirSync(options.dataDir, { recursive: true });
    filename = join(options.dataDir, "capacity.sqlite");
  }
  return knexFactory({
    client: "better-sqlite3",
    connection: { filename },
    useNullAsDefault: true,
    log: knexLog(options.warn),
    pool: {
      afterCreate: (conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) => {
        conn.pragma("journal_mode = WAL");
        conn.pragma("busy_timeout = 5000");
        conn.pragma("synchronous = NORMAL");
        done(null, conn);
      },
    },
  });
}

/**
 * Brings the schema up to date. Several replicas may start at once: while
 * another one holds the migration lock, wait and try again.
 */
export async function migrate(knex: Knex, log?: (message: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureMigrationTables(knex);
      const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
      if (applied.length > 0) log?.(`applied migrations: ${applied.join(", ")}`);
      return;
    } catch (err) {
      // Knex's lock is taken: by another process ("already locked"), or, on SQLite, its
      // lock update lost a race for the file's write lock ("database is locked").
      const locked = err instanceof Error && (err.name === "MigrationLocked" || /already locked|database is locked/i.test(err.message));
      if (!locked || attempt >= 60) throw err;
      log?.("another process is migrating; waiting for its lock");
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * Creates Knex's bookkeeping tables when they are missing, as Knex would, but
 * safe for several processes at once. Knex checks and then creates them, and
 * inserts its lock row, before taking any lock: replicas starting together on
 * a fresh database failed with "already exists", or inserted two lock rows,
 * after which every migrate() saw "already locked" for good. Here a lost
 * creation race is ignored and the one lock row has a fixed key, so a second
 * insert changes nothing; Knex then finds both tables and the row in place.
 */
async function ensureMigrationTables(knex: Knex): Promise<void> {
  const createOnce = async (name: string, build: (t: Knex.CreateTableBuilder) => void): Promise<void> => {
    if (await knex.schema.hasTable(name)) return;
    try {
      await knex.schema.createTable(name, build);
    } catch (err) {
      if (!(await knex.schema.hasTable(name))) throw err;
    }
  };
  await createOnce("knex_migrations", (t) => {
    t.increments();
    t.string("name");
    t.integer("batch");
    t.timestamp("migration_time");
  });
  await createOnce("knex_migrations_lock", (t) => {
    t.increments("index").primary();
    t.integer("is_locked");
  });
  await knex("knex_migrations_lock").insert({ index: 1, is_locked: 0 }).onConflict("index").ignore();
}
