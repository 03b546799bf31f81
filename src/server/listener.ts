/**
 * One plaintext port for every client: HTTP/2 with prior knowledge (gRPC,
 * Connect, gRPC-Web) and HTTP/1.1 (browsers, curl). Each connection's first
 * bytes decide: the HTTP/2 preface goes to the http2 server, anything else
 * to the http server.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

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
}

export interface Listener {
  /** The bound port (useful with port 0). */
  port: number;
  /**
   * Stops accepting, sends GOAWAY on HTTP/2 sessions and closes idle HTTP/1.1
   * connections; whatever is still open after `graceMs` is cut.
   */
  close(graceMs?: number): Promise<void>;
}

export async function listen(options: ListenerOptions): Promise<Listener> {
  if (options.tls) return listenTls(options, options.tls);
  const h1 = http.createServer(options.handler as http.RequestListener);
  h1.keepAliveTimeout = 65_000;
  // h1 never listens itself (sockets are handed to it), but Node starts its
  // connection tracking on "listening": without it closeIdleConnections()
  // and the header/request timeouts do nothing for handed-over sockets.
  h1.emit("listening");
  const h2 = http2.createServer({}, options.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);

  const sessions = trackSessions(h2);

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

  const port = await bind(tcp, options);

  return {
    port,
    async close(graceMs = 5000) {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const session of sessions) session.close();
      h2.close();
      h1.close();
      h1.closeIdleConnections();
      const force = setTimeout(() => {
        h1.closeAllConnections();
        for (const session of sessions) session.destroy();
      }, graceMs);
      await closed;
      clearTimeout(force);
    },
  };
}

function trackSessions(server: http2.Http2Server | http2.Http2SecureServer): Set<http2.Http2Session> {
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (session: http2.Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  return sessions;
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

/** TLS on the same port: ALPN picks h2 or http/1.1. */
async function listenTls(options: ListenerOptions, tls: { cert: Buffer; key: Buffer }): Promise<Listener> {
  const server = http2.createSecureServer(
    { cert: tls.cert, key: tls.key, allowHTTP1: true },
    options.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  const sessions = trackSessions(server);
  const sockets = new Set<net.Socket>();
  server.on("secureConnection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const port = await bind(server, options);
  return {
    port,
    async close(graceMs = 5000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const force = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(force);
    },
  };
}
