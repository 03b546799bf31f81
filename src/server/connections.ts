/**
 * The connections of the API port, tracked for hygiene and for closing:
 * HTTP/2 sessions (first stream within the first-request timeout, request
 * bodies ended by the call's deadline, keepalive pings, GOAWAY on close) and
 * HTTP/1.1 connections (first request within the timeout, closed once idle
 * on close).
 */
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { TLSSocket } from "node:tls";
import { clientErrorHandler, type InFlight, type RefusalSink } from "./refusals.js";
import { isHttp2, peerOf, type Req, type Res } from "./requests.js";
import { timeoutFromHeaders } from "./timeouts.js";

/** An HTTP/2 keepalive ping unanswered this long ends the session. */
const PING_TIMEOUT_MS = 20_000;

/** The HTTP/2 server of the port, plaintext (prior knowledge) or TLS. */
export type H2Server = http2.Http2Server | http2.Http2SecureServer;

/** The hygiene limits of one listener (ListenerOptions with its defaults applied), shared by every tracker. */
export interface Limits {
  /** When each connection (or HTTP/2 session) arrived, so the first-request timeout spans protocol sniffing too. */
  arrivedAt: WeakMap<object, number>;
  /** Keepalive ping interval of HTTP/2 sessions, in ms. */
  pingIntervalMs: number;
  /** A new connection's time to complete its first request, in ms. */
  firstRequestTimeoutMs: number;
  /** Longest call deadline, in ms: no request body may stay open longer (plus one second). */
  maxDeadlineMs: number;
  /** Told of every connection or stream turned away. */
  refuse: RefusalSink;
}

/** The open HTTP/2 sessions of a server, for a graceful close. */
export interface Sessions {
  /** GOAWAY on every session; each ends once its last stream has. */
  goAway(): void;
  /** Destroys every session still open (the end of the grace period). */
  cut(): void;
}

/** Runs `fire` after `ms` unless cleared; never keeps the process alive. */
export function timer(ms: number, fire: () => void): NodeJS.Timeout {
  const t = setTimeout(fire, ms);
  t.unref();
  return t;
}

/** A connection's first request must be complete this long after it arrived: fires `expire` then, unless cleared. */
export function firstRequestTimer(limits: Limits, conn: object, expire: () => void): NodeJS.Timeout {
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
export function trackSessions(server: H2Server, limits: Limits): Sessions {
  const open = new Map<http2.Http2Session, number>();
  let closing = false;
  const end = (session: http2.Http2Session): void => {
    // Let the GOAWAY frame go out first.
    setImmediate(() => session.destroy());
  };
  server.on("session", (session: http2.Http2Session) => {
    open.set(session, 0);
    const peer = peerOf(session.socket);
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
    limits.refuse("http2_protocol_error", { peer: peerOf(session?.socket), detail: err.code ?? err.name });
  });
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const session = stream.session;
    // The request body must be complete by the call's deadline; a stream
    // that keeps it open longer is reset (RST_STREAM CANCEL).
    const ms = Math.min(timeoutFromHeaders(headers) ?? limits.maxDeadlineMs, limits.maxDeadlineMs);
    const body = timer(ms + 1000, () => {
      if (stream.readableEnded || stream.destroyed) return;
      limits.refuse("body_timeout", { peer: peerOf(session?.socket), detail: String(headers[":path"] ?? "") });
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

/**
 * HTTP/1.1 connections and their requests in progress, so a closing server
 * can end each connection as soon as it is idle instead of waiting out
 * keep-alive. A connection's first request must arrive within the
 * first-request timeout; parse failures are answered and reported.
 */
export function trackHttp1(server: http.Server | http2.Http2SecureServer, limits: Limits): { closeWhenIdle(): void; cut(): void } {
  const busy = new Map<net.Socket, number>();
  const idle = new Map<net.Socket, () => void>();
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
      idle.delete(socket);
    });
  };
  const inFlight: InFlight = { count: (socket) => busy.get(socket) ?? 0, whenIdle: (socket, fn) => idle.set(socket, fn) };
  if (server instanceof http.Server) {
    server.on("connection", track);
    server.on("clientError", clientErrorHandler(limits.refuse, undefined, inFlight));
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
      if (left === 0) idle.get(socket)?.();
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
