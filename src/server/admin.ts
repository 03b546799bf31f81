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

export async function startAdmin(options: {
  host: string;
  port: number;
  metrics: Metrics;
  /** Undefined until the database is reachable at start-up. */
  health: () => HealthMonitor | undefined;
}): Promise<AdminListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
    if (path === "/healthz") return reply(200, "ok\n");
    if (path === "/readyz") {
      const health = options.health();
      if (!health) return reply(503, "starting: waiting for the database\n");
      void health.fresh().then(() => (health.ready ? reply(200, "ready\n") : reply(503, "not ready\n")));
      return;
    }
    if (path === "/metrics") {
      void options.metrics.registry.metrics().then(
        (text) => reply(200, text, options.metrics.registry.contentType),
        () => reply(500, "metrics failed\n"),
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
