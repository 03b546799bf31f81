/** Entry point: `node dist/src/main.js` (or `npm start`). */
import { ulid } from "ulid";
import { startApp } from "./app.js";
import { isWorker, runPrimary, runWorker } from "./cluster.js";
import { mintToken } from "./auth/tokens.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import type { Logger } from "pino";
import { createLogger, flushLog } from "./log.js";

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`capacity: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // Until a role below installs its drain, a fatal error exits straight away.
  let shutdown = (_reason: string, code: number): void => void flushLog(log).then(() => process.exit(code));
  onFatal(log, config.shutdownGraceMs, (reason) => shutdown(reason, 1));
  if (config.workers > 1 && !isWorker()) {
    log.info({ pid: process.pid, node: process.version, port: config.port, adminPort: config.adminPort, workers: config.workers }, "capacity starting");
    shutdown = await runPrimary(config, log);
    return;
  }
  const worker = isWorker();
  if (!worker) log.info({ pid: process.pid, node: process.version, port: config.port, adminPort: config.adminPort }, "capacity starting");
  log.flush();
  const app = worker ? await runWorker(config, log) : await startApp(config, log);
  if (worker) {
    let closing = false;
    shutdown = (_reason, code) => {
      if (closing) return;
      closing = true;
      void app
        .close()
        .then(() => flushLog(log))
        .then(() => process.exit(code));
    };
    process.on("SIGTERM", () => shutdown("SIGTERM", 0));
    process.on("SIGINT", () => {}); // the primary decides
    return;
  }
  log.info(
    { port: app.port, grpcPort: app.grpcPort, adminPort: app.adminPort, database: config.databaseUrl === undefined ? "sqlite" : "mysql", pid: process.pid },
    "capacity listening",
  );
  await flushLog(log);
  if (app.devSecret !== undefined) await printDevBanner(app.devSecret, app.port, Math.min(86_400, Math.floor(config.jwt.maxLifetimeMs! / 1000)));

  let stopping = false;
  const stop = (reason: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, graceMs: config.shutdownGraceMs }, "shutting down: draining in-flight calls");
    app.close().then(
      async () => {
        log.info("stopped");
        await flushLog(log);
        process.exit(code);
      },
      async (err: unknown) => {
        log.error({ err: String(err) }, "shutdown failed");
        await flushLog(log);
        process.exit(1);
      },
    );
  };
  shutdown = stop;
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/**
 * Last lines of defence. A rejected promise nobody handled is logged and the
 * process serves on (Node would exit); an uncaught exception is logged and
 * the process drains and exits 1 through the normal shutdown, never silently.
 */
function onFatal(log: Logger, graceMs: number, drain: (reason: string) => void): void {
  const describe = (e: unknown): Record<string, unknown> => (e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { value: String(e) });
  process.on("unhandledRejection", (reason) => {
    log.error({ fault: describe(reason) }, "unhandled promise rejection");
  });
  process.on("uncaughtException", (err) => {
    log.fatal({ fault: describe(err) }, "uncaught exception: draining and exiting");
    log.flush();
    // Should the drain itself hang, exit anyway once the grace period is well past.
    setTimeout(() => process.exit(1), graceMs + 5000).unref();
    drain("uncaughtException");
  });
}

/** Development only: a ready token and a call to paste, on stderr (never in the JSON log). */
async function printDevBanner(secret: string, port: number, ttlSeconds: number): Promise<void> {
  const sub = `per_${ulid()}`;
  // One day, or less when CAPACITY_JWT_MAX_LIFETIME_MS allows less.
  const token = await mintToken(secret, { tenantId: "demo", sub, ttlSeconds });
  const body = JSON.stringify({ personId: sub, projectId: `prj_${ulid()}`, periodStart: "2027-01-04", periodEnd: "2027-01-29", allocatedPct: 50 });
  process.stderr.write(
    [
      "",
      "Development mode: no CAPACITY_JWT_SECRET or CAPACITY_JWKS_URL, so tokens are signed with the",
      `secret in the data folder. A token for tenant 'demo' (valid ${+(ttlSeconds / 3600).toFixed(2)} hours; more: npm run token -- --tenant T --sub S):`,
      "",
      `  export TOKEN=${token}`,
      "",
      "Create an allocation, then list yours (the HTTP/JSON API; its OpenAPI document is at /api/v1/openapi.json):",
      "",
      `  curl -s http://127.0.0.1:${port}/api/v1/work/capacity \\`,
      `    -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`,
      `    -d '${body}'`,
      `  curl -s "http://127.0.0.1:${port}/api/v1/work/capacity?person_id=${sub}" -H "authorization: Bearer $TOKEN"`,
      "",
    ].join("\n"),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`capacity: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
