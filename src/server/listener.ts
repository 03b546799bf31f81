/**
 * One port for every client. Plaintext: HTTP/2 with prior knowledge (gRPC,
 * Connect, gRPC-Web) and HTTP/1.1 (browsers, curl); each connection's first
 * bytes decide, the HTTP/2 preface going to the http2 server and anything
 * else to the http server. With TLS, ALPN decides. Closing is graceful:
 * GOAWAY on HTTP/2 sessions, HTTP/1.1 connections closed once idle, and only
 * what is still open after the grace period is cut.
 *
 * Connection hygiene is set here and kept by connections.ts: a connection
 * must send its first complete request within `firstRequestTimeoutMs`, a
 * request body must be complete by the call's deadline, and the process holds
 * at most `maxConnections` connections. Every refusal is reported to
 * `onRefusal` (refusals.ts).
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { Code } from "@connectrpc/connect";
import { firstRequestTimer, trackHttp1, trackSessions, type Limits, type Sessions } from "./connections.js";
import { capConnections, type RefusalSink } from "./refusals.js";
import { answerInternalError, peerOf, type Req, type RequestHandler, type Res } from "./requests.js";
import { REST_PREFIX } from "./rest/rest-handler.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** The port, its handler and its limits; every limit has a default. */
export interface ListenerOptions {
  /** Listen address. */
  host: string;
  /** Port to bind; 0 picks a free one (see Listener.port). */
  port: number;
  /** Answers every request of both HTTP versions (the RPC adapter and the HTTP extras). */
  handler: RequestHandler;
  /** PEM certificate and key: serve TLS, HTTP/2 or HTTP/1.1 by ALPN. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** HTTP/2 streams per connection (default 100). */
  maxConcurrentStreams?: number;
  /** Request header limit in bytes (default 16 KiB). */
  maxHeaderBytes?: number;
  /** Keepalive ping interval for HTTP/2 sessions (default 30 s). */
  pingIntervalMs?: number;
  /** Time for a new connection to complete its first request's headers, TLS and protocol sniffing included (default 10 s). */
  firstRequestTimeoutMs?: number;
  /** Longest call deadline: a request body must be complete by its call's deadline, at most this (default 10 s). */
  maxDeadlineMs?: number;
  /** Connections this process holds at once; more are closed on arrival (default 4096). */
  maxConnections?: number;
  /** Told of every refusal. */
  onRefusal?: RefusalSink;
  /** Told of a request handler that threw; returns the correlation id to show the client. */
  onHandlerError?: (err: unknown, req: Req) => string;
}

/** A bound port serving every protocol, until closed. */
export interface Listener {
  /** The bound port (useful with port 0). */
  port: number;
  /**
   * Stops accepting, sends GOAWAY on HTTP/2 sessions and closes HTTP/1.1
   * connections as they become idle; whatever is still open after `graceMs`
   * is cut. Resolves when every connection is closed.
   */
  close(graceMs?: number): Promise<void>;
}

async function bind(server: net.Server, options: ListenerOptions): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

/**
 * A request whose `Expect` is not `100-continue` (Node answers that one):
 * 417, with a google.rpc.Status body on the HTTP/JSON API like its other errors.
 */
function answerExpectation(req: Req, res: Res): void {
  const api = (req.url ?? "").startsWith(REST_PREFIX);
  const message = "Expect: only 100-continue is supported";
  const body = api ? JSON.stringify({ code: Code.FailedPrecondition, message, details: [] }) : `${message}\n`;
  res.writeHead(417, {
    "content-type": api ? "application/json; charset=utf-8" : "text/plain; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * Calls the handler, so that a throw becomes a 500 instead of an uncaught
 * exception (the handler answers its own asynchronous failures).
 */
function guarded(handler: RequestHandler, onError: ListenerOptions["onHandlerError"]): RequestHandler {
  return (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      answerInternalError(res, onError?.(err, req) ?? "");
    }
  };
}

/**
 * Binds the port and serves `options.handler` on it: TLS with ALPN when
 * `options.tls` is set, else plaintext HTTP/2 and HTTP/1.1 told apart by each
 * connection's first bytes. Rejects when the port cannot be bound.
 */
export async function listen(options: ListenerOptions): Promise<Listener> {
  const maxHeaderBytes = options.maxHeaderBytes ?? 16_384;
  const limits: Limits = {
    arrivedAt: new WeakMap(),
    pingIntervalMs: options.pingIntervalMs ?? 30_000,
    firstRequestTimeoutMs: options.firstRequestTimeoutMs ?? 10_000,
    maxDeadlineMs: options.maxDeadlineMs ?? 10_000,
    refuse: options.onRefusal ?? (() => {}),
  };
  const maxConnections = options.maxConnections ?? 4096;
  const h2Options = {
    settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 100, maxHeaderListSize: maxHeaderBytes },
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  };
  const handler = guarded(options.handler, options.onHandlerError);
  const h2Handler = handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

  if (options.tls) {
    const server = http2.createSecureServer(
      // The TLS handshake has the first-request timeout; the first request then has it again.
      { ...h2Options, cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, handshakeTimeout: limits.firstRequestTimeoutMs },
      h2Handler,
    );
    server.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
      limits.refuse("tls_handshake", { peer: peerOf(socket), detail: err.code ?? err.name });
    });
    capConnections(server, maxConnections, limits.refuse);
    server.on("checkExpectation", answerExpectation);
    return serve(server, trackSessions(server, limits), trackHttp1(server, limits), await bind(server, options));
  }

  const h1 = http.createServer(
    {
      maxHeaderSize: maxHeaderBytes,
      // Node's own timeouts, checked every second: headers of any request,
      // and a whole request (its body included) by the longest deadline.
      headersTimeout: limits.firstRequestTimeoutMs,
      requestTimeout: limits.firstRequestTimeoutMs + limits.maxDeadlineMs,
      connectionsCheckingInterval: 1000,
    },
    handler as http.RequestListener,
  );
  h1.keepAliveTimeout = 65_000;
  // h1 never listens itself (sockets are handed to it), but Node starts its
  // connection tracking on "listening": without it the header and request
  // timeouts do nothing for handed-over sockets.
  h1.emit("listening");
  const h2 = http2.createServer(h2Options, h2Handler);
  for (const server of [h1, h2]) server.on("checkExpectation", answerExpectation);
  const tcp = net.createServer((socket) => {
    socket.on("error", () => socket.destroy());
    limits.arrivedAt.set(socket, Date.now());
    // Until the protocol is known, only the first-request timeout holds the line.
    const sniffing = firstRequestTimer(limits, socket, () => {
      limits.refuse("first_request_timeout", { peer: peerOf(socket), detail: "no protocol preface" });
      socket.destroy();
    });
    socket.once("close", () => clearTimeout(sniffing));
    let head = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      const maybeH2 = head.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (maybeH2 && head.length < PREFACE.length) return; // wait for the rest of the preface
      clearTimeout(sniffing);
      socket.off("readable", onReadable);
      socket.unshift(head);
      // The session is made synchronously on "connection": it inherits the arrival time.
      const inherit = (session: http2.Http2Session): void => void limits.arrivedAt.set(session, limits.arrivedAt.get(socket)!);
      if (maybeH2) h2.once("session", inherit);
      (maybeH2 ? h2 : h1).emit("connection", socket);
      if (maybeH2) h2.off("session", inherit);
    };
    socket.on("readable", onReadable);
  });
  capConnections(tcp, maxConnections, limits.refuse);
  return serve(tcp, trackSessions(h2, limits), trackHttp1(h1, limits), await bind(tcp, options));
}

function serve(server: net.Server, sessions: Sessions, http1: ReturnType<typeof trackHttp1>, port: number): Listener {
  return {
    port,
    async close(graceMs = 5000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      sessions.goAway();
      http1.closeWhenIdle();
      const force = setTimeout(() => {
        http1.cut();
        sessions.cut();
      }, graceMs);
      await closed;
      clearTimeout(force);
    },
  };
}
