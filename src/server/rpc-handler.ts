/**
 * The Connect router as a Node request handler (what connectNodeAdapter
 * does), plus what happens before any interceptor runs:
 *
 * - A request that the RPC layer refuses before the interceptors (too large,
 *   a body that does not decompress or parse, an unsupported content type) is
 *   reported to `onRefused` with a reason, so it has a log line and a metric.
 * - connect-es reports a request message that is not valid protobuf ("parse
 *   binary: …"), a body that does not decompress ("decompression failed") or
 *   a frame flagged compressed without a grpc-encoding as INTERNAL. That is the caller's fault, so it leaves as INVALID_ARGUMENT
 *   in every protocol (gRPC status, gRPC-Web trailer frame, Connect error body).
 * - A request whose authority cannot be read (no or a malformed `Host`) is 400.
 */
import { Code, createConnectRouter, type ConnectRouter, type ConnectRouterOptions, type ContextValues } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { createAsyncIterable, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import type http from "node:http";
import { answerInternalError, isHttp2, type Req, type RequestHandler, type Res } from "./requests.js";

/**
 * Messages connect-es gives as INTERNAL although the request is at fault: not
 * protobuf, does not decompress, or a frame flagged compressed on a call that
 * named no grpc-encoding (gRPC calls that a protocol error; grpc-go says
 * INTERNAL too, but here nothing in the server failed).
 */
const CALLER_FAULT = /^(parse binary|decompression failed|received compressed envelope)/;

/** Why the RPC layer refused a call before any interceptor saw it. */
export type RpcRefusal = "message_too_large" | "decompression" | "parse" | "unsupported_protocol" | "bad_request" | "rpc_refused";

async function collect(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (body) for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The response with a new body (and a content-length that matches it). */
function withBody(res: UniversalServerResponse, body: Uint8Array, status = res.status): UniversalServerResponse {
  if (res.header?.has("content-length")) res.header.set("content-length", String(body.length));
  return { ...res, status, body: createAsyncIterable([body]) };
}

/** A refused call's status as the response carries it, and the response itself (its body read once). */
interface Refused {
  code: Code | undefined;
  message: string;
  res: UniversalServerResponse;
}

function statusIn(headers: Headers | undefined): { code: Code; message: string } | undefined {
  const status = headers?.get("grpc-status");
  if (status === null || status === undefined) return undefined;
  return { code: Number(status) as Code, message: safeDecode(headers?.get("grpc-message") ?? "") };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Reads the status of a response the interceptors never saw, turning a
 * caller-fault INTERNAL into INVALID_ARGUMENT on the way.
 */
async function inspect(res: UniversalServerResponse): Promise<Refused> {
  const type = res.header?.get("content-type") ?? "";
  if (type.startsWith("application/grpc-web")) {
    // The status travels in the body's trailer frame (flag 0x80).
    const body = await collect(res.body);
    let at = 0;
    while (at + 5 <= body.length) {
      const length = body.readUInt32BE(at + 1);
      if ((body[at]! & 0x80) !== 0) {
        const trailer = body.subarray(at + 5, at + 5 + length).toString("latin1");
        const code = Number(/grpc-status: ?(\d+)/.exec(trailer)?.[1]) as Code;
        const message = safeDecode(/grpc-message: ?([^\r\n]*)/.exec(trailer)?.[1] ?? "");
        if (code === Code.Internal && CALLER_FAULT.test(message)) {
          const fixed = Buffer.from(trailer.replace(/grpc-status: ?\d+/, `grpc-status: ${Code.InvalidArgument}`), "latin1");
          const frame = Buffer.alloc(5);
          frame[0] = body[at]!;
          frame.writeUInt32BE(fixed.length, 1);
          return { code: Code.InvalidArgument, message, res: withBody(res, Buffer.concat([body.subarray(0, at), frame, fixed])) };
        }
        return { code, message, res: withBody(res, body) };
      }
      at += 5 + length;
    }
    return { code: undefined, message: "", res: withBody(res, body) };
  }
  if (type.startsWith("application/grpc")) {
    const status = statusIn(res.trailer) ?? statusIn(res.header);
    if (status?.code === Code.Internal && CALLER_FAULT.test(status.message)) {
      for (const h of [res.header, res.trailer]) if (h?.has("grpc-status")) h.set("grpc-status", String(Code.InvalidArgument));
      return { code: Code.InvalidArgument, message: status.message, res };
    }
    return { code: status?.code, message: status?.message ?? "", res };
  }
  if (type.startsWith("application/json")) {
    const body = await collect(res.body);
    let error: { code?: string; message?: string } = {};
    try {
      error = JSON.parse(body.toString("utf8")) as typeof error;
    } catch {
      // Not an error body; leave it as it is.
    }
    const message = error.message ?? "";
    if (error.code === "internal" && CALLER_FAULT.test(message)) {
      return { code: Code.InvalidArgument, message, res: withBody(res, Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" })), 400) };
    }
    const code = Object.values(Code).find((c) => typeof c === "number" && codeName(c) === error.code) as Code | undefined;
    return { code, message, res: withBody(res, body) };
  }
  return { code: undefined, message: "", res };
}

/** Connect's snake_case name of a code (`invalid_argument`). */
function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function reasonOf(refused: Refused): RpcRefusal {
  if (refused.code === Code.ResourceExhausted) return "message_too_large";
  if (/^decompression failed|compression|compressed envelope/.test(refused.message)) return "decompression";
  if (/^parse|cannot decode|unexpected end|invalid/i.test(refused.message)) return "parse";
  if (refused.code === undefined && refused.res.status === 415) return "unsupported_protocol";
  return "rpc_refused";
}

/** Has the client gone away (the HTTP/2 stream reset or closed, the HTTP/1.1 connection closed)? */
function gone(req: Req, res: Res): boolean {
  return isHttp2(req) ? req.stream.destroyed || req.stream.closed : (res as http.ServerResponse).destroyed;
}

/** Can connect-node build a URL from this request? (It throws on a missing or malformed authority.) */
function hasAuthority(req: Req): boolean {
  const authority = isHttp2(req) ? req.authority : req.headers.host;
  if (!authority) return false;
  try {
    new URL(`http://${authority}`);
    return true;
  } catch {
    return false;
  }
}

/** The Connect adapter's routes and limits, and the hooks that observe refusals and failures. */
export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  /**
   * The context of one call; `observed()` must say whether an interceptor saw
   * the call (set by the observing interceptor through the context).
   */
  contextValues: (req: Req) => { values: ContextValues; observed: () => boolean; correlationId: string };
  /** Requests for paths that are not RPCs. */
  fallback: RequestHandler;
  /** Logs a failure outside the RPC layer; returns the correlation id to show the client. */
  onError: (err: unknown, req: Req) => string;
  /** Told of a call refused before any interceptor saw it. */
  onRefused: (reason: RpcRefusal, req: Req, facts: { code: string; correlationId: string }) => void;
}

/** The Connect adapter (Connect, gRPC, gRPC-Web) as a request handler for the listener. */
export function rpcHandler(options: RpcHandlerOptions): RequestHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (!handler) return options.fallback(req, res);
    const call = options.contextValues(req);
    if (!hasAuthority(req)) {
      options.onRefused("bad_request", req, { code: "no authority", correlationId: call.correlationId });
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      res.end("bad request: missing or malformed Host\n");
      return;
    }
    const uReq = universalRequestFromNodeRequest(req, res, undefined, call.values);
    handler(uReq)
      .then(async (uRes) => {
        // Seen by the interceptors, or cut by the listener (which reported it already).
        if (call.observed() || gone(req, res)) return uRes;
        const refused = await inspect(uRes);
        const code = refused.code === undefined ? `http ${refused.res.status}` : Code[refused.code];
        options.onRefused(reasonOf(refused), req, { code, correlationId: call.correlationId });
        return refused.res;
      })
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((err: unknown) => {
        // Mostly the client went away mid-response: nothing left to tell it.
        if (res.headersSent || gone(req, res)) return res.destroy();
        answerInternalError(res, options.onError(err, req));
      });
  };
}
