/**
 * The Connect router as a Node request handler (what connectNodeAdapter
 * does), plus one correction: connect-es reports a request message that is
 * not valid protobuf ("parse binary: …") as INTERNAL, before any interceptor
 * runs. That is the caller's fault, so it leaves as INVALID_ARGUMENT in every
 * protocol (gRPC status, gRPC-Web trailer frame, Connect error body).
 */
import { Code, createConnectRouter, type ConnectRouter, type ConnectRouterOptions, type ContextValues } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import type http from "node:http";
import type http2 from "node:http2";
import type { RequestHandler } from "./listener.js";

const PARSE_ERROR = /^parse binary/;

async function collect(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (body) for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** The response with a new body (and a content-length that matches it). */
function withBody(res: UniversalServerResponse, body: Uint8Array, status = res.status): UniversalServerResponse {
  if (res.header?.has("content-length")) res.header.set("content-length", String(body.length));
  return { ...res, status, body: once(body) };
}

function fixHeaders(headers: Headers | undefined): boolean {
  if (headers?.get("grpc-status") !== String(Code.Internal) || !PARSE_ERROR.test(decodeURIComponent(headers.get("grpc-message") ?? ""))) return false;
  headers.set("grpc-status", String(Code.InvalidArgument));
  return true;
}

/** Rewrites a parse error's INTERNAL into INVALID_ARGUMENT; anything else passes untouched. */
async function correctParseError(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const type = res.header?.get("content-type") ?? "";
  if (type.startsWith("application/grpc-web")) {
    // The status travels in the body's trailer frame (flag 0x80).
    const body = await collect(res.body);
    let at = 0;
    while (at + 5 <= body.length) {
      const length = body.readUInt32BE(at + 1);
      if ((body[at]! & 0x80) !== 0) {
        const trailer = body.subarray(at + 5, at + 5 + length).toString("latin1");
        if (trailer.includes(`grpc-status: ${Code.Internal}`) && /grpc-message: parse(%20| )binary/.test(trailer)) {
          const fixed = Buffer.from(trailer.replace(`grpc-status: ${Code.Internal}`, `grpc-status: ${Code.InvalidArgument}`), "latin1");
          const frame = Buffer.alloc(5);
          frame[0] = body[at]!;
          frame.writeUInt32BE(fixed.length, 1);
          return withBody(res, Buffer.concat([body.subarray(0, at), frame, fixed]));
        }
      }
      at += 5 + length;
    }
    return withBody(res, body);
  }
  if (type.startsWith("application/grpc")) {
    fixHeaders(res.header);
    fixHeaders(res.trailer);
    return res;
  }
  if (res.status === 500 && type.startsWith("application/json")) {
    const body = await collect(res.body);
    const error = JSON.parse(body.toString("utf8")) as { code?: string; message?: string };
    if (error.code === "internal" && PARSE_ERROR.test(error.message ?? "")) {
      return withBody(res, Buffer.from(JSON.stringify({ ...error, code: "invalid_argument" })), 400);
    }
    return withBody(res, body);
  }
  return res;
}

export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes: (router: ConnectRouter) => void;
  contextValues: (req: http.IncomingMessage | http2.Http2ServerRequest) => ContextValues;
  /** Requests for paths that are not RPCs. */
  fallback: RequestHandler;
}

export function rpcHandler(options: RpcHandlerOptions): RequestHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (!handler) return options.fallback(req, res);
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues(req));
    handler(uReq)
      .then(correctParseError)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch(() => {
        // The client went away mid-response; nothing left to tell it.
      });
  };
}
