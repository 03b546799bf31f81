/**
 * The admin listener (CAPACITY_ADMIN_PORT): Prometheus metrics and the probes,
 * apart from the API port so they can be firewalled and never need a token.
 * It starts first, so probes answer while start-up waits for the database.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { HealthMonitor } from "./health.js";
import type { Metrics } from "./metrics.js";

export interface AdminListener {
  port: number;
  close(): Promise<void>;
}

export interface AdminOptions {
  host: string;
  port: number;
  /** The Prometheus exposition and its content type. */
  metrics: () => Promise<{ text: string; contentType: string }>;
  /** Would this process serve? Undefined while starting. */
  ready: () => Promise<boolean | undefined>;
}

/** Admin answers for one process: its registry, and its health monitor once started. */
export function processAdmin(metrics: Metrics, health: () => HealthMonitor | undefined): Pick<AdminOptions, "metrics" | "ready"> {
  return {
    metrics: async () => ({ text: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    ready: async () => {
      return health()?.isReady();
    },
  };
}

export async function startAdmin(options: AdminOptions): Promise<AdminListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
    if (path === "/healthz") return reply(200, "ok\n");
    if (path === "/readyz") {
      void options.ready().then((ready) =>
        ready === undefined ? reply(503, "starting: waiting for the database\n") : ready ? reply(200, "ready\n") : reply(503, "not ready\n"),
      );
      return;
    }
    if (path === "/metrics") {
      void options.metrics().then(
        (m) => reply(200, m.text, m.contentType),
        (err: unknown) => reply(500, `metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    reply(404, "not found\n");
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
