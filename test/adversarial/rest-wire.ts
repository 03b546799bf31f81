/**
 * The HTTP/JSON API spoken by hand, below any client library: one HTTP/1.1
 * keep-alive connection written and parsed byte by byte (so a request may be
 * anything the grammar allows, and a broken one must not poison the next),
 * and one HTTP/2 session over node:http2 (prior knowledge). Both answer the
 * same request shape with the same answer shape, so a property can send one
 * request over either.
 */
import http2 from "node:http2";
import net from "node:net";

/** One request as written on the wire. */
export interface WireRequest {
  method: string;
  /** The request target as sent: path and query, escaped or not. */
  target: string;
  /** In order; a name may repeat (HTTP/1.1 sends each; HTTP/2 keeps the first, see Http2Line). */
  headers: Array<[string, string]>;
  body: Buffer | undefined;
  /** HTTP/1.1: send the body chunked (else with Content-Length, unless a header already frames it). */
  chunked: boolean;
  /** Where the body is cut into separate writes (chunks, DATA frames). */
  splits: number[];
}

/** What came back for one request. */
export interface WireAnswer {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** HTTP/1.1: the server closed the connection after answering. HTTP/2: the stream was reset after the answer. */
  closed: boolean;
}

/** Bodies without content, by the request method and the status (RFC 9110 §6.4.1). */
function bodiless(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

function pieces(body: Buffer, splits: readonly number[]): Buffer[] {
  const cuts = [...new Set(splits.map((s) => s % (body.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    if (cut > from) out.push(body.subarray(from, cut));
    from = Math.max(from, cut);
  }
  return out;
}

/** The bytes of an HTTP/1.1 request: the body framed by Content-Length or chunked, unless a header of the request frames it. */
export function http1Bytes(req: WireRequest): Buffer {
  const head = [`${req.method} ${req.target} HTTP/1.1`, "Host: 127.0.0.1", ...req.headers.map(([n, v]) => `${n}: ${v}`)];
  const framed = req.headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n));
  const body = req.body ?? Buffer.alloc(0);
  if (framed || req.body === undefined) return Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), body]);
  if (!req.chunked) return Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"), body]);
  const chunks = pieces(body, req.splits).map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from("\r\n")]));
  return Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\nTransfer-Encoding: chunked\r\n\r\n`, "latin1"), ...chunks, Buffer.from("0\r\n\r\n")]);
}

/**
 * One HTTP/1.1 connection kept alive across requests; reopened (and counted)
 * only after the server closed it. Answers are parsed by hand: Content-Length,
 * chunked, or until close.
 */
export class Http1Line {
  /** Connections opened so far. */
  opened = 0;
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private ended = true;
  private wake: (() => void) | undefined;

  constructor(private readonly port: number) {}

  private async open(): Promise<void> {
    this.socket?.destroy();
    this.buffer = Buffer.alloc(0);
    this.ended = false;
    this.opened++;
    const socket = net.connect(this.port, "127.0.0.1");
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake?.();
    });
    const end = () => {
      if (this.socket !== socket) return;
      this.ended = true;
      this.wake?.();
    };
    socket.on("end", end).on("close", end).on("error", end);
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  }

  /** Waits until `ready` holds on the bytes read so far; throws when the connection ends first or `deadline` passes. */
  private async until(ready: () => boolean, deadline: number, what: string): Promise<void> {
    while (!ready()) {
      if (this.ended) throw new Error(`HTTP/1.1: the connection closed before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`HTTP/1.1: no ${what} in time`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private take(n: number): Buffer {
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** Sends `req` (on a new connection if the last one was closed) and reads one whole answer. */
  async exchange(req: WireRequest, timeoutMs = 15_000): Promise<WireAnswer> {
    if (this.ended) await this.open();
    const deadline = Date.now() + timeoutMs;
    this.socket!.write(http1Bytes(req));
    let head: string;
    let status: number;
    do {
      // Interim answers (100 Continue to an Expect) come first and are skipped.
      await this.until(() => this.buffer.includes("\r\n\r\n"), deadline, "answer head");
      head = this.take(this.buffer.indexOf("\r\n\r\n") + 4).toString("latin1");
      status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    } while (status >= 100 && status < 200);
    const lines = head.trimEnd().split("\r\n").slice(1);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let body: Buffer = Buffer.alloc(0);
    if (!bodiless(req.method, status)) {
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        const parts: Buffer[] = [];
        for (;;) {
          await this.until(() => this.buffer.includes("\r\n"), deadline, "chunk size");
          const size = parseInt(this.take(this.buffer.indexOf("\r\n") + 2).toString("latin1"), 16);
          await this.until(() => this.buffer.length >= size + 2, deadline, "chunk");
          parts.push(this.take(size));
          this.take(2);
          if (size === 0) break;
        }
        body = Buffer.concat(parts);
      } else if (headers["content-length"] !== undefined) {
        const length = Number(headers["content-length"]);
        await this.until(() => this.buffer.length >= length, deadline, "answer body");
        body = this.take(length);
      } else {
        await this.until(() => this.ended, deadline, "end of an unframed answer").catch(() => undefined);
        body = this.take(this.buffer.length);
      }
    }
    let closed = this.ended;
    if (/close/i.test(headers.connection ?? "")) {
      // The server said it closes: it must, promptly.
      await this.until(() => this.ended, Date.now() + 5000, "close after connection: close");
      closed = true;
    }
    return { status, headers, body, closed };
  }

  /** Bytes the server sent beyond the answers read (a second answer to one request would show here). */
  get unread(): number {
    return this.buffer.length;
  }

  close(): void {
    this.socket?.destroy();
    this.ended = true;
  }
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or Node's client refuses to send. */
const NOT_IN_H2 = /^(connection|keep-alive|proxy-connection|transfer-encoding|upgrade|host|te|content-length)$/i;

/**
 * One HTTP/2 session (h2c, prior knowledge) for every request; a session the
 * server ended is reopened and counted. A repeated header keeps its first
 * value (node:http2 refuses repeats of most fields); raw frames cover repeats.
 */
export class Http2Line {
  /** Sessions opened so far. */
  opened = 0;
  /** Sessions the server ended with GOAWAY or a reset. */
  lost = 0;
  private session: http2.ClientHttp2Session | undefined;

  constructor(private readonly baseUrl: string) {}

  private current(): http2.ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      this.opened++;
      const session = http2.connect(this.baseUrl);
      session.on("error", () => {});
      session.on("goaway", () => this.lost++);
      this.session = session;
    }
    return this.session;
  }

  /** Sends `req` on a new stream and reads the whole answer. */
  exchange(req: WireRequest, timeoutMs = 15_000): Promise<WireAnswer> {
    const headers: http2.OutgoingHttpHeaders = { ":method": req.method, ":path": req.target };
    for (const [name, value] of req.headers) {
      const n = name.toLowerCase();
      if (!NOT_IN_H2.test(n) && headers[n] === undefined) headers[n] = value;
    }
    return new Promise((resolve, reject) => {
      const stream = this.current().request(headers, { endStream: req.body === undefined });
      const chunks: Buffer[] = [];
      let status = 0;
      let answerHeaders: Record<string, string> = {};
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`HTTP/2: no answer in time to ${req.method} ${req.target.slice(0, 80)}`));
      }, timeoutMs);
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        answerHeaders = Object.fromEntries(
          Object.entries(h)
            .filter(([k]) => !k.startsWith(":"))
            .map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)]),
        );
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      // The server may answer before the body is sent and reset the stream: not an error of the answer.
      stream.on("error", () => {});
      stream.on("close", () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        if (status === 0) reject(new Error(`HTTP/2: stream closed (code ${stream.rstCode}) without an answer`));
        else resolve({ status, headers: answerHeaders, body, closed: stream.rstCode !== 0 });
      });
      if (req.body !== undefined) {
        for (const piece of pieces(req.body, req.splits)) stream.write(piece);
        stream.end();
      }
    });
  }

  /** Is the session the answers came on still open (no GOAWAY)? */
  get open(): boolean {
    return this.session !== undefined && !this.session.closed && !this.session.destroyed;
  }

  close(): void {
    this.session?.close();
  }
}
