/**
 * One port for every client. Plaintext: HTTP/2 with prior knowledge (gRPC,
 * Connect, gRPC-Web) and HTTP/1.1 (browsers, curl); each connection's first
 * bytes decide, the HTTP/2 preface going to the http2 server and anything
 * else to the http server. With TLS, ALPN decides. Closing is graceful:
 * GOAWAY on HTTP/2 sessions, HTTP/1.1 connections closed once idle, and only
 * what is still open after the grace period is cut.
 *
 * Connection hygiene lives here too: a connection must send its first
 * complete request within `firstRequestTimeoutMs`, a request body must be
 * complete by the call's deadline, and the process holds at most
 * `maxConnections` connections. Every refusal is reported to `onRefusal`.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { TLSSocket } from "node:tls";
import { timeoutFromHeaders } from "./timeouts.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** An HTTP/2 keepalive ping unanswered this long ends the session. */
const PING_TIMEOUT_MS = 20_000;

export type Req = http.IncomingMessage | http2.Http2ServerRequest;
export type Res = http.ServerResponse | http2.Http2ServerResponse;
export type RequestHandler = (req: Req, res: Res) => void;

/** Why the listener turned something away before (or instead of) the RPC layer. */
export type RefusalReason =
  | "bad_request"
  | "header_too_large"
  | "first_request_timeout"
  | "request_timeout"
  | "body_timeout"
  | "connection_limit"
  | "http2_protocol_error"
  | "tls_handshake"
  | "unsupported_http_version";

/** Hears of every refusal: a log line and a metric. */
export type RefusalSink = (reason: RefusalReason, facts: { peer: string; detail?: string | undefined }) => void;

/** Is this request an HTTP/2 one? (Never judge by `httpVersionMajor`: the HTTP/1.1 parser accepts "HTTP/2.0".) */
export function isHttp2(req: Req): req is http2.Http2ServerRequest {
  return req instanceof http2.Http2ServerRequest;
}

/** `address:port` of a socket, for log lines. */
export function peerOf(socket: net.Socket | undefined | null): string {
  return socket ? `${socket.remoteAddress ?? ""}:${socket.remotePort ?? ""}` : "";
}

export interface ListenerOptions {
  host: string;
  port: number;
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

type H2Server = http2.Http2Server | http2.Http2SecureServer;

interface Limits {
  /** When each connection (or HTTP/2 session) arrived, so the first-request timeout spans protocol sniffing too. */
  arrivedAt: WeakMap<object, number>;
  pingIntervalMs: number;
  firstRequestTimeoutMs: number;
  maxDeadlineMs: number;
  refuse: RefusalSink;
}

interface Sessions {
  /** GOAWAY on every session; each ends once its last stream has. */
  goAway(): void;
  cut(): void;
}

/** Runs `fire` after `ms` unless cleared; never keeps the process alive. */
function timer(ms: number, fire: () => void): NodeJS.Timeout {
  const t = setTimeout(fire, ms);
  t.unref();
  return t;
}

/** A connection's first request must be complete this long after it arrived: fires `expire` then, unless cleared. */
function firstRequestTimer(limits: Limits, conn: object, expire: () => void): NodeJS.Timeout {
  const arrived = limits.arrivedAt.get(conn) ?? Date.now();
  return timer(Math.max(0, arrived + limits.firstRequestTimeoutMs - Date.now()), expire);
}

/**
 * HTTP/2 sessions: the first stream must open within the first-request
 * timeout, each stream's request body must end by its deadline, idle
 * sessions are pinged, and on close they are told GOAWAY and ended as soon
 * as their streams are done. (Node's graceful session.close() can wait for
 * the client when a stream ended early, e.g. an oversized request.)
 */
function trackSessions(server: H2Server, limits: Limits): Sessions {
  const open = new Map<http2.Http2Session, number>();
  let closing = false;
  const end = (session: http2.Http2Session): void => {
    // Let the GOAWAY frame go out first.
    setImmediate(() => session.destroy());
  };
  server.on("session", (session: http2.Http2Session) => {
    open.set(session, 0);
    const peer = peerOf(session.socket as net.Socket | undefined);
    const first = firstRequestTimer(limits, session, () => {
      limits.refuse("first_request_timeout", { peer, detail: "http2: no stream opened" });
      session.destroy();
    });
    session.once("stream", () => clearTimeout(first));
    const ping = setInterval(() => {
      if (session.closed || session.destroyed) return;
      const deadline = timer(PING_TIMEOUT_MS, () => session.destroy());
      try {
        session.ping((err) => {
          clearTimeout(deadline);
          if (err) session.destroy();
        });
      } catch {
        clearTimeout(deadline);
        session.destroy();
      }
    }, limits.pingIntervalMs);
    ping.unref();
    session.once("close", () => {
      clearTimeout(first);
      clearInterval(ping);
      open.delete(session);
    });
  });
  server.on("sessionError", (err: Error & { code?: string }, session?: http2.Http2Session) => {
    limits.refuse("http2_protocol_error", { peer: peerOf(session?.socket as net.Socket | undefined), detail: err.code ?? err.name });
  });
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const session = stream.session;
    // The request body must be complete by the call's deadline; a stream
    // that keeps it open longer is reset (RST_STREAM CANCEL).
    const ms = Math.min(timeoutFromHeaders(headers) ?? limits.maxDeadlineMs, limits.maxDeadlineMs);
    const body = timer(ms + 1000, () => {
      if (stream.readableEnded || stream.destroyed) return;
      limits.refuse("body_timeout", { peer: peerOf(session?.socket as net.Socket | undefined), detail: String(headers[":path"] ?? "") });
      stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    if (!session) return;
    open.set(session, (open.get(session) ?? 0) + 1);
    stream.once("close", () => {
      clearTimeout(body);
      const left = (open.get(session) ?? 1) - 1;
      open.set(session, left);
      if (closing && left === 0) end(session);
    });
  });
  return {
    goAway() {
      closing = true;
      for (const [session, streams] of open) {
        session.close();
        if (streams === 0) end(session);
      }
    },
    cut() {
      for (const session of open.keys()) session.destroy();
    },
  };
}

/** The status line and reason for an HTTP/1.1 parse failure, or undefined to just close. */
function clientErrorAnswer(code: string | undefined): { status: number; reason: RefusalReason } | undefined {
  if (code === "HPE_HEADER_OVERFLOW") return { status: 431, reason: "header_too_large" };
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return { status: 408, reason: "request_timeout" };
  if (code === "ECONNRESET" || code === "EPIPE") return undefined;
  return { status: 400, reason: "bad_request" };
}

/**
 * Answers what Node's HTTP/1.1 parser could not parse (400, 431, 408) on a
 * connection that has not started a response, as Node's default does, and
 * reports it; then closes the connection.
 */
export function clientErrorHandler(refuse: RefusalSink, where?: string): (err: Error & { code?: string }, socket: net.Socket) => void {
  return (err, socket) => {
    const answer = clientErrorAnswer(err.code);
    if (answer) {
      refuse(answer.reason, { peer: peerOf(socket), detail: where === undefined ? err.code : `${where}: ${err.code ?? err.name}` });
      if (socket.writable && socket.bytesWritten === 0) {
        socket.end(`HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      }
    }
    socket.destroySoon();
  };
}

/**
 * HTTP/1.1 connections and their requests in progress, so a closing server
 * can end each connection as soon as it is idle instead of waiting out
 * keep-alive. A connection's first request must arrive within the
 * first-request timeout; parse failures are answered and reported.
 */
function trackHttp1(server: http.Server | http2.Http2SecureServer, limits: Limits): { closeWhenIdle(): void; cut(): void } {
  const busy = new Map<net.Socket, number>();
  const first = new Map<net.Socket, NodeJS.Timeout>();
  let closing = false;
  const track = (socket: net.Socket): void => {
    busy.set(socket, 0);
    first.set(
      socket,
      firstRequestTimer(limits, socket, () => {
        limits.refuse("first_request_timeout", { peer: peerOf(socket), detail: "http/1.1: no complete request" });
        socket.destroy();
      }),
    );
    socket.once("close", () => {
      clearTimeout(first.get(socket));
      first.delete(socket);
      busy.delete(socket);
    });
  };
  if (server instanceof http.Server) {
    server.on("connection", track);
    server.on("clientError", clientErrorHandler(limits.refuse));
  }
  // With TLS, only connections that ALPN gave to HTTP/1.1 (h2 ones are sessions).
  else
    server.on("secureConnection", (socket: TLSSocket) => {
      if (socket.alpnProtocol !== "h2") track(socket);
    });
  server.on("request", (req: Req, res: Res) => {
    if (isHttp2(req)) return;
    const socket = req.socket;
    clearTimeout(first.get(socket));
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    if (closing) res.setHeader("connection", "close");
    res.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1;
      busy.set(socket, left);
      if (closing && left === 0) socket.destroySoon();
    });
  });
  return {
    closeWhenIdle() {
      closing = true;
      for (const [socket, n] of busy) if (n === 0) socket.destroySoon();
    },
    cut() {
      for (const socket of busy.keys()) socket.destroy();
    },
  };
}

/** Caps the connections a server holds; each one closed on arrival is reported. */
function capConnections(server: net.Server, maxConnections: number, refuse: RefusalSink): void {
  server.maxConnections = maxConnections;
  server.on("drop", (data?: { remoteAddress?: string; remotePort?: number }) => {
    refuse("connection_limit", { peer: `${data?.remoteAddress ?? ""}:${data?.remotePort ?? ""}` });
  });
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
 * Calls the handler, so that a throw becomes a 500 instead of an uncaught
 * exception (the handler answers its own asynchronous failures).
 */
function guarded(handler: RequestHandler, onError: ListenerOptions["onHandlerError"]): RequestHandler {
  return (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      const id = onError?.(err, req) ?? "";
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "x-request-id": id });
        res.end(`internal error (correlation id ${id})\n`);
      }
    }
  };
}

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
