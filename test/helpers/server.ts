import { pino, type Logger } from "pino";
import { startApp, type App } from "../../src/app.js";
import { mintToken } from "../../src/auth/tokens.js";
import { loadConfig, type Config } from "../../src/config.js";
import { testDatabase, type Engine, type TestDatabase } from "./databases.js";
import { person } from "./ids.js";

export const TEST_SECRET = "test-secret-test-secret-test-secret-0123";

export interface TestServer {
  app: App;
  db: TestDatabase;
  baseUrl: string;
  /** A valid token for the tenant (and app), signed with the server's secret. */
  token(tenantId: string, options?: { sub?: string; appId?: string }): Promise<string>;
  close(): Promise<void>;
}

/**
 * Watches every statement the service sends: each read or write of a table
 * must name tenant_id (a predicate, or the inserted column). Fails the suite
 * at close otherwise. Health pings and migrations are exempt.
 */
function sqlAudit(): { see: (sql: string) => void; check: () => void } {
  const offending: string[] = [];
  let seen = 0;
  return {
    see(sql) {
      seen++;
      const s = sql.trim().toLowerCase();
      if (!/^(select|insert|update|delete)\b/.test(s)) return; // DDL, BEGIN/COMMIT, PRAGMA
      if (s === "select 1" || /knex_migrations|sqlite_master|information_schema/.test(s)) return;
      const named = s.startsWith("insert") ? /[`"]tenant_id[`"]/.test(s) : /[`"]tenant_id[`"]\s*(=|in\b)/.test(s);
      if (!named) offending.push(sql);
    },
    check() {
      // The health ping alone guarantees statements: none seen means the hook is not wired.
      if (seen === 0) throw new Error("SQL audit saw no statement at all");
      if (offending.length > 0) throw new Error(`SQL without a tenant_id predicate:\n${offending.join("\n")}`);
    },
  };
}

export interface TestServerOptions {
  /** Extra environment for loadConfig. */
  env?: Record<string, string>;
  /** Where the server logs (default: nowhere, or TEST_LOG_LEVEL to stdout). */
  log?: Logger;
  /** Serve this MySQL URL instead of the test database (and do not migrate it). */
  databaseUrl?: string;
}

/** The real service on a free port of 127.0.0.1, on the given engine. */
export async function startTestServer(engine: Engine, options: TestServerOptions = {}): Promise<TestServer> {
  const db = testDatabase(engine);
  const url = options.databaseUrl ?? db.url;
  const config: Config = loadConfig({
    CAPACITY_HOST: "127.0.0.1",
    CAPACITY_PORT: "0",
    CAPACITY_ADMIN_PORT: "0",
    CAPACITY_DATA_DIR: db.dataDir,
    CAPACITY_JWT_SECRET: TEST_SECRET,
    ...(url !== undefined && { CAPACITY_DATABASE_URL: url }),
    ...options.env,
  });
  const log = options.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const audit = sqlAudit();
  const app = await startApp(config, log, {
    onQuery: audit.see,
    migrate: engine === "sqlite" && options.databaseUrl === undefined,
    ...(db.sqliteFile !== undefined && { sqliteFile: db.sqliteFile }),
  });
  return {
    app,
    db,
    baseUrl: `http://127.0.0.1:${app.port}`,
    token: (tenantId, options = {}) =>
      mintToken(TEST_SECRET, { tenantId, sub: options.sub ?? person(), appId: options.appId, ttlSeconds: 600 }),
    async close() {
      await app.close();
      await db.knex.destroy();
      audit.check();
    },
  };
}
