/** The request and response objects of both HTTP versions, and the facts every layer asks of them. */
import http2 from "node:http2";
import type http from "node:http";
import type net from "node:net";

/** A request of either HTTP version. */
export type Req = http.IncomingMessage | http2.Http2ServerRequest;
/** A response of either HTTP version. */
export type Res = http.ServerResponse | http2.Http2ServerResponse;
/** Node's request listener for both versions; it answers its own asynchronous failures (see answerInternalError). */
export type RequestHandler = (req: Req, res: Res) => void;

/** Is this request an HTTP/2 one? (Never judge by `httpVersionMajor`: the HTTP/1.1 parser accepts "HTTP/2.0".) */
export function isHttp2(req: Req): req is http2.Http2ServerRequest {
  return req instanceof http2.Http2ServerRequest;
}

/**
 * Answers a request whose handler failed: 500 naming the correlation id that
 * the failure's log line carries (none: no id given), or, once the answer has
 * begun, a cut stream.
 */
export function answerInternalError(res: Res, correlationId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (correlationId === "") {
    res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end("internal error\n");
    return;
  }
  res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "x-request-id": correlationId });
  res.end(`internal error (correlation id ${correlationId})\n`);
}

/** `address:port` of a socket, for log lines. */
export function peerOf(socket: net.Socket | undefined | null): string {
  return socket ? `${socket.remoteAddress ?? ""}:${socket.remotePort ?? ""}` : "";
}
