/**
 * Wiring: configuration → database → store → service → server. No DI
 * container; each part takes what it needs as an options object.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { devSecret } from "./auth/tokens.js";
import { createTokenVerifier } from "./auth/verifier.js";
import type { Config } from "./config.js";
import { createCapacityService } from "./service/capacity-service.js";
import { HealthMonitor } from "./server/health.js";
import { SERVED, startServer } from "./server/server.js";
import { uiDirectory } from "./server/ui.js";
import { migrate, openDatabase } from "./store/database.js";
import { KnexCapacityStore } from "./store/knex-store.js";

export interface App {
  port: number;
  health: HealthMonitor;
  /** The development secret when no verifier is configured (never in production). */
  devSecret: string | undefined;
  /** Reports NOT_SERVING, closes the listener (GOAWAY, then cut after `graceMs`) and the pool. */
  close(graceMs?: number): Promise<void>;
}

export interface AppOptions {
  /** Run migrations at start-up (default true). */
  migrate?: boolean;
  /** SQLite only: override the database file (e.g. `:memory:`). */
  sqliteFile?: string;
}

export async function startApp(config: Config, log: Logger, options: AppOptions = {}): Promise<App> {
  const knex = openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.dbPoolMax,
    warn: (message) => log.warn({ component: "knex" }, message),
    ...(options.sqliteFile !== undefined && { sqliteFile: options.sqliteFile }),
  });
  try {
    if (options.migrate ?? true) await migrate(knex, (m) => log.info(m));
    const secret =
      config.jwt.secret === undefined && config.jwt.jwksUrl === undefined && !config.production
        ? devSecret(config.dataDir)
        : undefined;
    const store = new KnexCapacityStore(knex);
    const health = new HealthMonitor({ ping: () => store.ping(), services: SERVED.map((s) => s.typeName) });
    await health.start();
    const listener = await startServer({
      host: config.host,
      port: config.port,
      services: { capacity: createCapacityService({ store }) },
      verifier: createTokenVerifier(config.jwt, secret),
      health,
      log,
      readMaxBytes: config.readMaxBytes,
      corsOrigins: config.corsOrigins,
      uiDir: config.ui ? uiDirectory() : undefined,
      tls: config.tls && { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
    });
    return {
      port: listener.port,
      health,
      devSecret: secret,
      async close(graceMs) {
        health.drain();
        health.stop();
        await listener.close(graceMs);
        await store.close();
      },
    };
  } catch (err) {
    await knex.destroy();
    throw err;
  }
}
