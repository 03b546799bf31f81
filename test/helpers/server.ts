import { pino, type Logger } from "pino";
import { afterAll, beforeAll } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { mintToken } from "../../src/auth/tokens.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createTestClient, type ClientKind, type TestClient } from "./clients.js";
import { testDatabase, type Engine, type TestDatabase } from "./databases.js";
import { person } from "./ids.js";
import { sqlAudit } from "./sql-audit.js";

export const TEST_SECRET = "test-secret-test-secret-test-secret-0123";

export interface TestServer {
  app: App;
  db: TestDatabase;
  baseUrl: string;
  /** A valid token for the tenant (and app), signed with the server's secret. */
  token(tenantId: string, options?: { sub?: string; appId?: string }): Promise<string>;
  close(): Promise<void>;
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
    onQuery: (sql) => audit.see(sql),
    migrate: engine === "sqlite" && options.databaseUrl === undefined,
    ...(db.sqliteFile !== undefined && { sqliteFile: db.sqliteFile }),
  });
  return {
    app,
    db,
    baseUrl: `http://127.0.0.1:${app.port}`,
    token: (tenantId, options = {}) => mintToken(TEST_SECRET, { tenantId, sub: options.sub ?? person(), appId: options.appId, ttlSeconds: 600 }),
    async close() {
      await app.close();
      await db.knex.destroy();
      audit.check();
    },
  };
}

/** A server that lives for one `describe` block, with its clients. */
export interface SuiteServer {
  /** The running server; read it inside tests and hooks, not at collection time. */
  readonly server: TestServer;
  /**
   * The suite's client of `kind` on the main port, or on the grpc-js engine's
   * port (CAPACITY_GRPC_PORT must be set), made on first use and closed with
   * the server.
   */
  client(kind: ClientKind, port?: "main" | "grpc-engine"): TestClient;
}

/**
 * Registers hooks that start the real server before the block's tests and
 * close it, with every client made through the handle, after them: the setup
 * each over-the-wire suite used to write out.
 */
export function useTestServer(engine: Engine, options: TestServerOptions = {}): SuiteServer {
  let server: TestServer | undefined;
  const clients = new Map<string, TestClient>();
  beforeAll(async () => {
    server = await startTestServer(engine, options);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients.values()) c.close();
    clients.clear();
    await server?.close();
  });
  const running = (): TestServer => {
    if (!server) throw new Error("the suite's server is not running (read it inside a test or hook)");
    return server;
  };
  return {
    get server() {
      return running();
    },
    client(kind, port = "main") {
      const key = `${kind}|${port}`;
      let c = clients.get(key);
      if (!c) {
        const s = running();
        c =
          port === "main"
            ? createTestClient(kind, s.baseUrl)
            : { ...createTestClient(kind, `http://127.0.0.1:${s.app.grpcPort}`), kind: `${kind} → grpc-js engine` };
        clients.set(key, c);
      }
      return c;
    },
  };
}
