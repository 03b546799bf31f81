/**
 * Everything on the port that is not an RPC: CORS for browsers, the load
 * balancer probes and the built web UI. Paths under /api/ go to the HTTP/JSON
 * API; RPCs go to the Connect adapter.
 */
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { cors } from "@connectrpc/connect";
import type { HealthMonitor } from "./health.js";
import { answerInternalError, isHttp2, type Req, type RequestHandler, type Res } from "./requests.js";
import { answerProbe, isProbePath } from "./probes.js";
import { REST_PREFIX } from "./rest/rest-handler.js";
import { setUiSecurityHeaders } from "./ui.js";

/** What the HTTP layer in front of the RPC adapter needs. */
export interface HttpOptions {
  rpc: RequestHandler;
  /** The HTTP/JSON API, for paths under REST_PREFIX. */
  rest: RequestHandler;
  health: HealthMonitor;
  /** Exact origins (scheme://host[:port]) whose pages may call the API. */
  corsOrigins: readonly string[];
  /** Folder of the built UI, or undefined when the UI is off. */
  uiDir: string | undefined;
  /** Logs a handler that failed; returns the correlation id to show the client. */
  onError: (err: unknown, req: Req) => string;
  /** Told of a request refused here (an HTTP version the connection cannot have, a broken path). */
  onRefusal: (reason: "unsupported_http_version" | "bad_request", req: Req) => void;
}

// Connect's and gRPC-Web's CORS headers, plus the HTTP/JSON API's conditional and idempotent writes.
const ALLOWED_HEADERS = [...cors.allowedHeaders, "Authorization", "X-Request-Id", "If-Match", "If-None-Match", "Idempotency-Key"].join(", ");
const EXPOSED_HEADERS = [...cors.exposedHeaders, "X-Request-Id", "ETag", "Location", "Retry-After", "Allow"].join(", ");
const ALLOWED_METHODS = [...new Set([...cors.allowedMethods, "GET", "HEAD", "POST", "PATCH", "DELETE"])].join(", ");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

function send(res: Res, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

/** A percent-decoded path, or undefined when an escape is broken or it names a NUL byte. */
function decodePath(path: string): string | undefined {
  try {
    const decoded = decodeURIComponent(path);
    return decoded.includes("\0") ? undefined : decoded;
  } catch {
    return undefined;
  }
}

/** The port's request handler: refusals, CORS, probes, the UI, then the RPC adapter. */
export function createHttpHandler(options: HttpOptions): RequestHandler {
  const allowed = new Set(options.corsOrigins);

  /** Answers a failed asynchronous handler: 500 with a correlation id, or a cut stream once the answer has begun. */
  const failed = (req: Req, res: Res) => (err: unknown) => answerInternalError(res, options.onError(err, req));

  async function serveUi(req: Req, path: string, res: Res): Promise<void> {
    const dir = options.uiDir!;
    const relative = path === "/ui" || path === "/ui/" ? "index.html" : decodePath(path.slice("/ui/".length));
    if (relative === undefined) {
      options.onRefusal("bad_request", req);
      return send(res, 400, "bad request: broken percent-encoding in the path\n");
    }
    const file = normalize(join(dir, relative));
    if (!file.startsWith(dir + sep)) return send(res, 404, "not found\n");
    try {
      if (!(await stat(file)).isFile()) return send(res, 404, "not found\n");
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
        // Vite names assets by content hash; index.html must be re-read.
        "cache-control": relative.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      });
      res.end(body);
    } catch {
      send(res, 404, relative === "index.html" ? "the UI is not built: run npm run build\n" : "not found\n");
    }
  }

  return (req: Req, res: Res) => {
    if (isHttp2(req)) {
      // A response complete before the request was read to its end (a refused
      // or oversized message): end the stream shortly after, once the
      // trailers are out (RFC 9113 §8.1 allows the reset). Otherwise the
      // half-read stream stays open, holding one of the session's streams.
      const stream = req.stream;
      stream.once("finish", () => {
        if (stream.readableEnded) return;
        setTimeout(() => {
          if (!stream.readableEnded && !stream.destroyed) stream.destroy();
        }, 100).unref();
      });
    } else if (req.httpVersionMajor !== 1) {
      // Node's HTTP/1.1 parser accepts a request line saying HTTP/2.0 (or 3.x).
      options.onRefusal("unsupported_http_version", req);
      res.setHeader("connection", "close");
      return send(res, 505, "HTTP version not supported on this connection\n");
    }
    const origin = req.headers.origin;
    const corsAllowed = typeof origin === "string" && allowed.has(origin);
    if (corsAllowed) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
    }
    if (origin !== undefined) res.setHeader("vary", "Origin");

    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      // A refused origin gets no CORS headers, so the browser blocks the call.
      if (!corsAllowed) return send(res, 403, "origin not allowed\n");
      res.writeHead(204, {
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": "7200",
      });
      res.end();
      return;
    }

    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method === "GET" || req.method === "HEAD") {
      if (isProbePath(path)) {
        answerProbe(path, () => options.health.isReady()).then((a) => send(res, a.status, a.body), failed(req, res));
        return;
      }
      if (options.uiDir !== undefined && (path === "/ui" || path.startsWith("/ui/"))) {
        setUiSecurityHeaders(res);
        if (path === "/ui") {
          res.writeHead(308, { location: "/ui/" });
          res.end();
          return;
        }
        serveUi(req, path, res).catch(failed(req, res));
        return;
      }
    }
    if (path.startsWith(REST_PREFIX)) return options.rest(req, res);
    options.rpc(req, res);
  };
}
