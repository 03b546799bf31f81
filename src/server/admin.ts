/**
 * The admin listener (CAPACITY_ADMIN_PORT): Prometheus metrics and the probes,
 * apart from the API port so they can be firewalled and never need a token.
 * It starts first, so probes answer while start-up waits for the database.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { HealthMonitor } from "./health.js";
import { capConnections, clientErrorHandler, type RefusalSink } from "./refusals.js";
import { answerInternalError, peerOf } from "./requests.js";
import type { Metrics } from "./metrics.js";
import { answerProbe, isProbePath, type Readiness } from "./probes.js";

/** The admin port serves a scraper and probes: a few connections, quick requests. */
const ADMIN_MAX_CONNECTIONS = 64;
const ADMIN_REQUEST_TIMEOUT_MS = 10_000;

/** The running admin listener. */
export interface AdminListener {
  port: number;
  close(): Promise<void>;
}

/** What the admin port answers, and where it listens. */
export interface AdminOptions {
  host: string;
  port: number;
  /** The Prometheus exposition and its content type. */
  metrics: () => Promise<{ text: string; contentType: string }>;
  /** Would this process serve? Undefined while starting. */
  ready: Readiness;
  /** Told of every refused request or connection. */
  onRefusal?: RefusalSink;
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

/** Starts the admin listener (HTTP/1.1 only: GET and HEAD of /metrics, /healthz, /readyz). */
export async function startAdmin(options: AdminOptions): Promise<AdminListener> {
  const refuse = options.onRefusal ?? (() => {});
  const server = http.createServer(
    { headersTimeout: ADMIN_REQUEST_TIMEOUT_MS, requestTimeout: ADMIN_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    (req, res) => {
      try {
        route(req, res);
      } catch {
        answerInternalError(res, "");
      }
    },
  );
  const route = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0]!;
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8"): void => {
      if (res.headersSent) return;
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.httpVersionMajor !== 1) {
      refuse("unsupported_http_version", { peer: peerOf(req.socket), detail: path });
      res.setHeader("connection", "close");
      return reply(505, "HTTP version not supported\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
    if (isProbePath(path)) {
      answerProbe(path, options.ready).then(
        (a) => reply(a.status, a.body),
        () => reply(503, "not ready\n"),
      );
      return;
    }
    if (path === "/metrics") {
      void options.metrics().then(
        (m) => reply(200, m.text, m.contentType),
        () => reply(500, "metrics failed\n"),
      );
      return;
    }
    reply(404, "not found\n");
  };
  server.keepAliveTimeout = 5000;
  capConnections(server, ADMIN_MAX_CONNECTIONS, refuse, "admin port");
  server.on("clientError", clientErrorHandler(refuse, "admin port"));
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
