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

export { dialectOf, type Dialect } from "./dialect.js";

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
      const [, applied] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
      if (applied.length > 0) log?.(`applied migrations: ${applied.join(", ")}`);
      return;
    } catch (err) {
      const locked = err instanceof Error && /already locked/i.test(err.message);
      if (!locked || attempt >= 60) throw err;
      log?.("another process is migrating; waiting for its lock");
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
