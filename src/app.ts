/**
 * Wiring: configuration → admin listener → database → store → service →
 * server. No DI container; each part takes what it needs as an options object.
 */
import { readFileSync } from "node:fs";
import type { Knex } from "knex";
import type { Logger } from "pino";
import { devSecret } from "./auth/tokens.js";
import { createTokenVerifier } from "./auth/verifier.js";
import type { Config } from "./config.js";
import { Admission } from "./server/admission.js";
import { processAdmin, startAdmin } from "./server/admin.js";
import { startGrpcEngine } from "./server/grpc-engine.js";
import { HealthMonitor } from "./server/health.js";
import { Metrics } from "./server/metrics.js";
import { Observer } from "./server/observe.js";
import { RateLimiter } from "./server/rate-limit.js";
import { servedMethods } from "./server/routes.js";
import { SERVED, startServer } from "./server/server.js";
import { uiDirectory } from "./server/ui.js";
import { createCapacityService } from "./service/capacity-service.js";
import { createWorkingTimeService } from "./service/working-time-service.js";
import { migrate, openDatabase } from "./store/database.js";
import { KnexCapacityStore } from "./store/knex-store.js";
import { KnexWorkingTimeStore } from "./store/knex-working-time-store.js";

/** A running service: its ports, health and metrics, and how to stop it. */
export interface App {
  port: number;
  /** The grpc-js engine's port when CAPACITY_GRPC_PORT is set. */
  grpcPort: number | undefined;
  adminPort: number;
  health: HealthMonitor;
  metrics: Metrics;
  /** The development secret when no verifier is configured (never in production). */
  devSecret: string | undefined;
  /** Reports NOT_SERVING, closes the listener (GOAWAY, then cut after `graceMs`), then the pool. */
  close(graceMs?: number): Promise<void>;
}

/** Start-up choices that are not configuration (tests and the cluster set them). */
export interface AppOptions {
  /** Run migrations at start-up (default true). */
  migrate?: boolean;
  /** SQLite only: override the database file (e.g. `:memory:`). */
  sqliteFile?: string;
  /** Sees every SQL statement the service sends (tests audit them). */
  onQuery?: (sql: string) => void;
  /** A cluster worker: the primary runs the admin listener and the migrations. */
  worker?: boolean;
}

/** Where the database is, without credentials, for log lines. */
function describeDatabase(config: Config): string {
  if (config.databaseUrl === undefined) return `SQLite in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `MySQL at ${url.hostname}:${url.port || 3306}${url.pathname}`;
}

/**
 * Runs the migrations, retrying with backoff (0.5 s doubling to 10 s) while
 * the database cannot be reached, for at most CAPACITY_DB_WAIT_MS (0: forever).
 */
export async function waitForDatabase(knex: Knex, config: Config, log: Logger, runMigrations: boolean): Promise<void> {
  const started = Date.now();
  for (let attempt = 1, delay = 500; ; attempt++, delay = Math.min(delay * 2, 10_000)) {
    try {
      if (runMigrations) await migrate(knex, (m) => log.info(m));
      else await knex.raw("select 1");
      if (attempt > 1) log.info({ attempt }, `database reachable: ${describeDatabase(config)}`);
      return;
    } catch (err) {
      const waited = Date.now() - started;
      if (config.dbWaitMs > 0 && waited + delay > config.dbWaitMs) throw err;
      const reason = (err as { code?: string }).code ?? (err instanceof Error ? err.name : "error");
      log.warn({ attempt, retryInMs: delay, reason }, `waiting for the database: ${describeDatabase(config)}`);
      log.flush();
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Starts one process's service: admin port, database (migrated), service core, main port, grpc-js engine. */
export async function startApp(config: Config, log: Logger, options: AppOptions = {}): Promise<App> {
  const metrics = new Metrics();
  const observer = new Observer(log, metrics);
  let health: HealthMonitor | undefined;
  const admin = options.worker
    ? undefined
    : await startAdmin({
        host: config.adminHost,
        port: config.adminPort,
        ...processAdmin(metrics, () => health),
        onRefusal: (reason, facts) => observer.refused(reason, facts),
      });
  const knex = openDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.dbPoolMax,
    warn: (message) => log.warn({ component: "knex" }, message),
    ...(options.sqliteFile !== undefined && { sqliteFile: options.sqliteFile }),
  });
  if (options.onQuery) knex.on("query", (q: { sql: string }) => options.onQuery!(q.sql));
  metrics.watchDatabase(knex);
  try {
    await waitForDatabase(knex, config, log, !options.worker && (options.migrate ?? true));
    const secret = config.jwt.secret === undefined && config.jwt.jwksUrl === undefined && !config.production ? devSecret(config.dataDir) : undefined;
    const store = new KnexCapacityStore(knex, { warn: (facts, message) => log.warn(facts, message) });
    const monitor = new HealthMonitor({ ping: () => store.ping(), services: SERVED.map((s) => s.typeName) });
    await monitor.start();
    health = monitor;
    const capacity = createCapacityService({
      store,
      limits: { maxResponseBytes: config.maxResponseBytes, availabilityMaxAllocations: config.availabilityMaxAllocations },
    });
    // Its request ids share the capacity store's table, so that store's purge covers them.
    const workingTime = createWorkingTimeService({
      store: new KnexWorkingTimeStore(knex, { onRequestsSaved: (tenantId) => store.requestsSaved(tenantId) }),
      limits: { maxResponseBytes: config.maxResponseBytes },
    });
    const methods = servedMethods({ capacity, workingTime });
    const admission = new Admission(createTokenVerifier(config.jwt, secret), new RateLimiter(config.rateLimits, metrics));
    const listener = await startServer({
      host: config.host,
      port: config.port,
      methods,
      admission,
      health: monitor,
      observer,
      readMaxBytes: config.readMaxBytes,
      maxResponseBytes: config.maxResponseBytes,
      maxDeadlineMs: config.maxDeadlineMs,
      limits: {
        maxConcurrentStreams: config.maxConcurrentStreams,
        maxHeaderBytes: config.maxHeaderBytes,
        pingIntervalMs: config.pingIntervalMs,
        firstRequestTimeoutMs: config.firstRequestTimeoutMs,
        maxConnections: config.maxConnections,
      },
      watchLimits: { perProcess: config.maxWatchStreams, perConnection: config.maxWatchStreamsPerConnection },
      corsOrigins: config.corsOrigins,
      uiDir: config.ui ? uiDirectory() : undefined,
      tls: config.tls && { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
    });
    const grpcEngine =
      config.grpcPort === undefined
        ? undefined
        : await startGrpcEngine({
            host: config.host,
            port: config.grpcPort,
            methods,
            admission,
            health: monitor,
            observer,
            maxDeadlineMs: config.maxDeadlineMs,
            readMaxBytes: config.readMaxBytes,
            maxResponseBytes: config.maxResponseBytes,
            maxConcurrentStreams: config.maxConcurrentStreams,
            pingIntervalMs: config.pingIntervalMs,
          });
    return {
      port: listener.port,
      grpcPort: grpcEngine?.port,
      adminPort: admin?.port ?? config.adminPort,
      metrics,
      health: monitor,
      devSecret: secret,
      async close(graceMs = config.shutdownGraceMs) {
        monitor.drain();
        monitor.stop();
        await Promise.all([listener.close(graceMs), grpcEngine?.close(graceMs)]);
        await store.close();
        await admin?.close();
      },
    };
  } catch (err) {
    await knex.destroy();
    await admin?.close();
    throw err;
  }
}
