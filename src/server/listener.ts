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
  const h1 = http.createServer(options.handler as http.RequestListener);
  h1.keepAliveTimeout = 65_000;
  // h1 never listens itself (sockets are handed to it), but Node starts its
  // connection tracking on "listening": without it closeIdleConnections()
  // and the header/request timeouts do nothing for handed-over sockets.
  h1.emit("listening");
  const h2 = http2.createServer({}, options.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

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

  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(options.port, options.host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const address = tcp.address() as net.AddressInfo;

  return {
    port: address.port,
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
