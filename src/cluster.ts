/**
 * CAPACITY_WORKERS > 1: a primary process and N workers sharing the ports
 * (Node's cluster), so one replica uses several cores. The primary migrates
 * once, serves the admin port (metrics summed over workers, ready when every
 * worker is), replaces a worker that dies, and on SIGTERM drains them all.
 */
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { AggregatorRegistry } from "prom-client";
import { startApp, waitForDatabase, type App } from "./app.js";
import type { Config } from "./config.js";
import { flushLog } from "./log.js";
import { startAdmin } from "./server/admin.js";
import { openDatabase } from "./store/database.js";

interface ReadyMessage {
  type: "capacity:ready";
  ready: boolean;
  port: number;
  grpcPort: number | undefined;
}

/** Starts the workers; returns the primary's shutdown (drain every worker, then exit with `code`). */
export async function runPrimary(config: Config, log: Logger): Promise<(reason: string, code: number) => void> {
  const knex = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  await waitForDatabase(knex, config, log, true);
  await knex.destroy();

  const aggregator = new AggregatorRegistry();
  const ready = new Map<number, boolean>();
  let announced = false;
  const admin = await startAdmin({
    host: config.adminHost,
    port: config.adminPort,
    metrics: async () => ({ text: await aggregator.clusterMetrics(), contentType: aggregator.contentType }),
    // Until every worker has reported once, "starting"; after that a missing (dead, replacing) worker is "not ready".
    ready: () => Promise.resolve(ready.size < config.workers ? (announced ? false : undefined) : [...ready.values()].every(Boolean)),
    onRefusal: (reason, facts) => log.warn({ reason, ...facts }, "refused"),
  });

  let stopping = false;
  const fork = (): Worker => {
    const worker = cluster.fork({ CAPACITY_CLUSTER_WORKER: "1" });
    worker.on("message", (m: ReadyMessage) => {
      if (m?.type !== "capacity:ready") return;
      ready.set(worker.id, m.ready);
      if (!announced && ready.size === config.workers) {
        announced = true;
        log.info({ port: m.port, grpcPort: m.grpcPort, adminPort: admin.port, workers: config.workers, pid: process.pid }, "capacity listening");
        log.flush();
      }
    });
    return worker;
  };
  cluster.on("exit", (worker, code, signal) => {
    ready.delete(worker.id);
    if (stopping) return;
    log.error({ worker: worker.process.pid, code, signal }, "worker died; starting another");
    log.flush();
    setTimeout(fork, 500);
  });
  for (let i = 0; i < config.workers; i++) fork();

  const stop = (reason: string, code = 0): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, graceMs: config.shutdownGraceMs }, "shutting down: draining workers");
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const exits = workers.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once("exit", () => r()))));
    for (const w of workers) w.process.kill("SIGTERM");
    const force = setTimeout(() => workers.forEach((w) => w.process.kill("SIGKILL")), config.shutdownGraceMs + 5000);
    void Promise.all(exits).then(async () => {
      clearTimeout(force);
      await admin.close();
      log.info("stopped");
      await flushLog(log);
      process.exit(code);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  return stop;
}

/** A worker: the service without admin listener or migrations, reporting readiness to the primary. */
export async function runWorker(config: Config, log: Logger): Promise<App> {
  const app = await startApp(config, log, { worker: true });
  // Constructing one installs prom-client's answer to the primary's metrics requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([app.metrics.registry]);
  const report = (): void => {
    process.send?.({ type: "capacity:ready", ready: app.health.ready, port: app.port, grpcPort: app.grpcPort } satisfies ReadyMessage);
  };
  app.health.onChange(report);
  report();
  return app;
}

/** True in a process forked by runPrimary (marked by CAPACITY_CLUSTER_WORKER), not in one that merely runs under cluster. */
export const isWorker = (): boolean => cluster.isWorker && process.env.CAPACITY_CLUSTER_WORKER === "1";
