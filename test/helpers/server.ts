import { pino } from "pino";
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

/** The real service on a free port of 127.0.0.1, on the given engine. */
export async function startTestServer(engine: Engine, env: Record<string, string> = {}): Promise<TestServer> {
  const db = testDatabase(engine);
  const config: Config = loadConfig({
    CAPACITY_HOST: "127.0.0.1",
    CAPACITY_PORT: "0",
    CAPACITY_DATA_DIR: db.dataDir,
    CAPACITY_JWT_SECRET: TEST_SECRET,
    ...(db.url !== undefined && { CAPACITY_DATABASE_URL: db.url }),
    ...env,
  });
  const app = await startApp(config, pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }), {
    migrate: engine === "sqlite",
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
    },
  };
}
