/**
 * One raw exchange with a listener: bytes written by hand over TCP (or TLS),
 * whatever comes back read until the server closes, goes quiet after
 * answering, or the case's time is up. No HTTP client sits in between, so
 * anything can be sent.
 */
import net from "node:net";
import tls from "node:tls";

export interface RawTarget {
  host: string;
  port: number;
  /** Speak TLS first, offering these ALPN protocols. */
  tls?: { alpn: readonly string[] } | undefined;
}

export interface RawExchange {
  /** What is written, in order; one write per chunk. */
  chunks: Buffer[];
  /** Half-close the connection after the last chunk (default false). */
  halfClose?: boolean;
  /** Wait for the server to close, however much it sent (default: end once it goes quiet). */
  untilClose?: boolean;
}

export type RawEnd = "closed" | "quiet" | "timeout" | "refused";

export interface RawOutcome {
  end: RawEnd;
  /** Everything the server sent. */
  received: Buffer;
  /** How long the exchange took (ms). */
  ms: number;
}

/** After the first bytes of an answer, this much silence ends the case. */
const QUIET_MS = 60;
/** Connecting (and the TLS handshake) may take this long before the case's own time starts. */
const CONNECT_MS = 10_000;

/**
 * Writes the chunks once connected; `timeoutMs` counts from then. Ends on
 * close, on quiet after an answer, or on the timeout.
 */
export function rawExchange(target: RawTarget, exchange: RawExchange, timeoutMs: number): Promise<RawOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let settled = false;
    let quiet: NodeJS.Timeout | undefined;
    const socket: net.Socket = target.tls
      ? tls.connect({ host: target.host, port: target.port, ALPNProtocols: [...target.tls.alpn], rejectUnauthorized: false, servername: "localhost" })
      : net.connect({ host: target.host, port: target.port });
    const finish = (end: RawEnd): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(quiet);
      socket.destroy();
      resolve({ end, received: Buffer.concat(received), ms: Date.now() - started });
    };
    let deadline = setTimeout(() => finish("timeout"), CONNECT_MS);
    socket.on(target.tls ? "secureConnect" : "connect", () => {
      clearTimeout(deadline);
      deadline = setTimeout(() => finish("timeout"), timeoutMs);
      for (const chunk of exchange.chunks) socket.write(chunk);
      if (exchange.halfClose) socket.end();
    });
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      clearTimeout(quiet);
      if (!exchange.untilClose) quiet = setTimeout(() => finish("quiet"), QUIET_MS);
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // A refused connection before anything was exchanged means nobody listens.
      if (err.code === "ECONNREFUSED") finish("refused");
    });
    socket.on("close", () => finish("closed"));
  });
}

/** Plain TCP bytes to a port, even a TLS one: for garbage below TLS. */
export function plainTarget(target: RawTarget): RawTarget {
  return { host: target.host, port: target.port };
}

/** The status of the first HTTP/1.x answer in `received`, if any. */
export function http1Status(received: Buffer): number | undefined {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(received.subarray(0, 16).toString("latin1"));
  return match ? Number(match[1]) : undefined;
}

/** Frame types in what an HTTP/2 server sent, after its SETTINGS. */
export function http2FrameTypes(received: Buffer): number[] {
  const types: number[] = [];
  let at = 0;
  while (at + 9 <= received.length) {
    const length = received.readUIntBE(at, 3);
    types.push(received[at + 3]!);
    at += 9 + length;
  }
  return types;
}
