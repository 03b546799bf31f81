/**
 * What the listeners turn away before (or outside) the RPC layer, and the
 * one way each refusal is reported: a reason for the log line and the
 * `capacity_requests_refused_total` metric.
 */
import http from "node:http";
import type net from "node:net";
import { peerOf } from "./requests.js";

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

/** The status line and reason for an HTTP/1.1 parse failure, or undefined to just close. */
function clientErrorAnswer(code: string | undefined): { status: number; reason: RefusalReason } | undefined {
  if (code === "HPE_HEADER_OVERFLOW") return { status: 431, reason: "header_too_large" };
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return { status: 408, reason: "request_timeout" };
  if (code === "ECONNRESET" || code === "EPIPE") return undefined;
  return { status: 400, reason: "bad_request" };
}

/** The requests of an HTTP/1.1 connection still being answered, where the listener tracks them. */
export interface InFlight {
  count(socket: net.Socket): number;
  /** Calls `fn` once the connection has answered every request it received. */
  whenIdle(socket: net.Socket, fn: () => void): void;
}

/**
 * Answers what Node's HTTP/1.1 parser could not parse (400, 431, 408), and
 * reports it; then closes the connection. With `inFlight`, a request that
 * arrived before the broken one (pipelined) is answered first, and the
 * refusal follows it; without, the refusal is only written on a connection
 * that has not started a response, as Node's default does.
 */
export function clientErrorHandler(refuse: RefusalSink, where?: string, inFlight?: InFlight): (err: Error & { code?: string }, socket: net.Socket) => void {
  return (err, socket) => {
    const answer = clientErrorAnswer(err.code);
    if (answer) refuse(answer.reason, { peer: peerOf(socket), detail: where === undefined ? err.code : `${where}: ${err.code ?? err.name}` });
    const close = (): void => {
      if (answer && socket.writable && (inFlight !== undefined || socket.bytesWritten === 0)) {
        socket.end(`HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      }
      socket.destroySoon();
    };
    if (inFlight && inFlight.count(socket) > 0) inFlight.whenIdle(socket, close);
    else close();
  };
}

/** Caps the connections a server holds; each one closed on arrival is reported. */
export function capConnections(server: net.Server, maxConnections: number, refuse: RefusalSink, where?: string): void {
  server.maxConnections = maxConnections;
  server.on("drop", (data?: { remoteAddress?: string; remotePort?: number }) => {
    refuse("connection_limit", { peer: `${data?.remoteAddress ?? ""}:${data?.remotePort ?? ""}`, detail: where });
  });
}
