/**
 * One port for every client. Plaintext: HTTP/2 with prior knowledge (gRPC,
 * Connect, gRPC-Web) and HTTP/1.1 (browsers, curl); each connection's first
 * bytes decide, the HTTP/2 preface going to the http2 server and anything
 * else to the http server. With TLS, ALPN decides. Closing is graceful:
 * GOAWAY on HTTP/2 sessions, HTTP/1.1 connections closed once idle, and only
 * what is still open after the grace period is cut.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { TLSSocket } from "node:tls";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** An HTTP/2 keepalive ping unanswered this long ends the session. */
const PING_TIMEOUT_MS = 20_000;

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

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

interface Sessions {
  /** GOAWAY on every session; each ends once its last stream has. */
  goAway(): void;
  cut(): void;
}

/**
 * HTTP/2 sessions: pinged while idle, and on close told GOAWAY and ended as
 * soon as their streams are done. (Node's graceful session.close() can wait
 * for the client when a stream ended early, e.g. an oversized request.)
 */
function trackSessions(server: H2Server, pingIntervalMs: number): Sessions {
  const open = new Map<http2.Http2Session, number>();
  let closing = false;
  const end = (session: http2.Http2Session): void => {
    // Let the GOAWAY frame go out first.
    setImmediate(() => session.destroy());
  };
  server.on("session", (session: http2.Http2Session) => {
    open.set(session, 0);
    const timer = setInterval(() => {
      if (session.closed || session.destroyed) return;
      const deadline = setTimeout(() => session.destroy(), PING_TIMEOUT_MS);
      deadline.unref();
      session.ping((err) => {
        clearTimeout(deadline);
        if (err) session.destroy();
      });
    }, pingIntervalMs);
    timer.unref();
    session.once("close", () => {
      clearInterval(timer);
      open.delete(session);
    });
  });
  server.on("stream", (stream: http2.ServerHttp2Stream) => {
    const session = stream.session;
    if (!session) return;
    open.set(session, (open.get(session) ?? 0) + 1);
    stream.once("close", () => {
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
 * keep-alive.
 */
function trackHttp1(server: http.Server | http2.Http2SecureServer): { closeWhenIdle(): void; cut(): void } {
  const busy = new Map<net.Socket, number>();
  let closing = false;
  const track = (socket: net.Socket): void => {
    busy.set(socket, 0);
    socket.once("close", () => busy.delete(socket));
  };
  if (server instanceof http.Server) server.on("connection", track);
  // With TLS, only connections that ALPN gave to HTTP/1.1 (h2 ones are sessions).
  else
    server.on("secureConnection", (socket: TLSSocket) => {
      if (socket.alpnProtocol !== "h2") track(socket);
    });
  server.on("request", (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const socket = req.socket as net.Socket;
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

export async function listen(options: ListenerOptions): Promise<Listener> {
  const maxHeaderBytes = options.maxHeaderBytes ?? 16_384;
  const h2Options = {
    settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 100, maxHeaderListSize: maxHeaderBytes },
    maxSessionInvalidFrames: 100,
  };
  const h2Handler = options.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
  const pingIntervalMs = options.pingIntervalMs ?? 30_000;

  if (options.tls) {
    const server = http2.createSecureServer({ ...h2Options, cert: options.tls.cert, key: options.tls.key, allowHTTP1: true }, h2Handler);
    return serve(server, trackSessions(server, pingIntervalMs), trackHttp1(server), await bind(server, options));
  }

  const h1 = http.createServer({ maxHeaderSize: maxHeaderBytes }, options.handler as http.RequestListener);
  h1.keepAliveTimeout = 65_000;
  // h1 never listens itself (sockets are handed to it), but Node starts its
  // connection tracking on "listening": without it the header and request
  // timeouts do nothing for handed-over sockets.
  h1.emit("listening");
  const h2 = http2.createServer(h2Options, h2Handler);
  const tcp = net.createServer((socket) => {
    socket.on("error", () => socket.destroy());
    let head = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      const maybeH2 = head.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (maybeH2 && head.length < PREFACE.length) return; // wait for the rest of the preface
      socket.off("readable", onReadable);
      socket.unshift(head);
      (maybeH2 ? h2 : h1).emit("connection", socket);
    };
    socket.on("readable", onReadable);
  });
  return serve(tcp, trackSessions(h2, pingIntervalMs), trackHttp1(h1), await bind(tcp, options));
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
