/**
 * A client of the HTTP/JSON API written the way a REST user writes one:
 * plain HTTP requests (fetch over HTTP/1.1, node:http2 over h2c) built from
 * the contract's google.api.http bindings, an etag sent as `If-Match` and a
 * request id as `Idempotency-Key` when they fit in a header, and answers read
 * from proto-JSON or from the google.rpc.Status error body. It plays the
 * same TestClient role as the gRPC and Connect clients, so every suite that
 * runs over CLIENT_KINDS runs over REST too.
 */
import http2 from "node:http2";
import { create, fromJson, toJson, type DescField, type JsonObject, type JsonValue, type Message } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { bindingsOf, type Binding } from "../../src/server/rest/bindings.js";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";
import type { ErrorInfo, Outcome, Rpc, TestClient, Violation } from "./clients.js";

const BINDINGS = bindingsOf(CapacityService.methods.map((method) => ({ method: method as never, handle: () => Promise.reject(new Error("client side")) })));

/** A call that has no HTTP form (an empty path variable); the client sends nothing. */
class Unencodable extends Error {}

/** A raw HTTP answer. */
export interface RestAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one HTTP request over HTTP/1.1 (fetch) or HTTP/2 (one h2c session per client). */
export interface RestTransport {
  send(method: string, path: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<RestAnswer>;
  close(): void;
}

/** A transport over HTTP/1.1 with fetch. */
export function http1Transport(baseUrl: string): RestTransport {
  return {
    async send(method, path, headers, body) {
      const res = await fetch(baseUrl + path, { method, headers, body });
      return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
    },
    close() {},
  };
}

/** A transport over HTTP/2 without TLS (prior knowledge), one session for all calls. */
export function http2Transport(baseUrl: string): RestTransport {
  let session: http2.ClientHttp2Session | undefined;
  const open = () => {
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(baseUrl);
      session.on("error", () => {});
    }
    return session;
  };
  return {
    send(method, path, headers, body) {
      return new Promise((resolve, reject) => {
        const stream = open().request({ ":method": method, ":path": path, ...headers }, { endStream: body === undefined });
        const chunks: Buffer[] = [];
        let head: Record<string, string> = {};
        let status = 0;
        stream.on("response", (h) => {
          status = Number(h[":status"]);
          head = Object.fromEntries(
            Object.entries(h)
              .filter(([k]) => !k.startsWith(":"))
              .map(([k, v]) => [k, String(v)]),
          );
        });
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => resolve({ status, headers: head, body: Buffer.concat(chunks).toString("utf8") }));
        stream.on("error", reject);
        if (body !== undefined) stream.end(body);
      });
    },
    close() {
      session?.close();
    },
  };
}

/** Visible ASCII without quotes: what fits in an entity tag or a header as sent. */
const HEADER_SAFE = /^[\x21\x23-\x7e]+$/;

function isSet(message: Message, field: DescField): boolean {
  const value = (message as unknown as Record<string, unknown>)[field.localName];
  if (field.fieldKind === "list") return (value as unknown[]).length > 0;
  if (field.fieldKind === "message") return value !== undefined;
  if (field.fieldKind === "scalar" && field.proto.proto3Optional) return value !== undefined;
  return value !== undefined && value !== "" && value !== 0 && value !== false && value !== 0n;
}

/** The binding for a request: SetCapacity with an id is the PATCH, without one the POST. */
function bindingFor(rpc: Rpc, request: Message): Binding {
  const candidates = BINDINGS.filter((b) => b.served.method.localName === rpc);
  // The most specific binding whose path variables the request fills (PATCH …/{capacity.id} over POST).
  const usable = candidates
    .filter((b) => [...b.pathFields.values()].every((chain) => valueAt(request, chain) !== ""))
    .sort((a, b) => b.pathFields.size - a.pathFields.size);
  return usable[0] ?? candidates[0]!;
}

function valueAt(message: Message, chain: DescField[]): string {
  let value: unknown = message;
  for (const field of chain) value = (value as Record<string, unknown> | undefined)?.[field.localName];
  return typeof value === "string" ? value : typeof value === "number" || typeof value === "bigint" ? value.toString() : "";
}

function clearAt(json: JsonObject, chain: DescField[]): void {
  let obj: JsonValue | undefined = json;
  for (const field of chain.slice(0, -1)) obj = (obj as JsonObject | undefined)?.[field.jsonName];
  if (obj && typeof obj === "object" && !Array.isArray(obj)) delete obj[chain[chain.length - 1]!.jsonName];
}

/**
 * Percent-encodes a string as UTF-8; a lone surrogate (which has no UTF-8
 * form) is written as the three bytes a lenient encoder would produce, so the
 * server sees, and must refuse, what a careless client sends.
 */
export function percentEncode(text: string): string {
  let out = "";
  for (const ch of text) {
    const unit = ch.charCodeAt(0);
    if (ch.length === 1 && unit >= 0xd800 && unit <= 0xdfff) {
      out += [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join("");
    } else out += encodeURIComponent(ch);
  }
  return out;
}

/** The HTTP request for one RPC call. */
export function restRequest(
  rpc: Rpc,
  init: unknown,
  token: string | undefined,
): { method: string; path: string; headers: Record<string, string>; body?: string } {
  const methodDesc = CapacityService.method[rpc];
  const request = create(methodDesc.input, init as never) as Message;
  const binding = bindingFor(rpc, request);
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  // A field mask travels as its paths, comma-joined and as written (its JSON form cannot carry every path).
  const masks = methodDesc.input.fields.filter((f) => f.fieldKind === "message" && f.message.typeName === "google.protobuf.FieldMask");
  const maskPaths = new Map(masks.map((f) => [f, (request as unknown as Record<string, { paths: string[] } | undefined>)[f.localName]?.paths] as const));
  const json = toJson(
    methodDesc.input,
    create(methodDesc.input, { ...(request as object), ...Object.fromEntries(masks.map((f) => [f.localName, undefined])) }) as never,
  ) as JsonObject;

  // Path: each variable's value, escaped as one segment.
  let path = binding.template.source;
  if (binding.template.verb !== undefined) path = path.slice(0, -(binding.template.verb.length + 1));
  for (const [variable, chain] of binding.pathFields) {
    // A path segment cannot be empty: such a call has no URL (RPCs answer it INVALID_ARGUMENT).
    if (valueAt(request, chain) === "") throw new Unencodable(`cannot encode an empty ${variable} in the path ${binding.template.source}`);
    path = path.replace(`{${variable}}`, percentEncode(valueAt(request, chain)));
    clearAt(json, chain);
  }
  if (binding.template.verb !== undefined) path += `:${binding.template.verb}`;

  // Headers for what fits in them: the etag and the request id.
  const etagChain = binding.body !== "" && binding.body !== "*" && binding.body.fieldKind === "message" ? ["capacity", "etag"] : ["etag"];
  const etag = etagChain.reduce<JsonValue | undefined>((o, k) => (o as JsonObject | undefined)?.[k], json);
  // If-Match names the record the path targets; a create has none, so its etag stays in the body.
  if (typeof etag === "string" && HEADER_SAFE.test(etag) && binding.pathFields.size > 0) {
    headers["if-match"] = `"${etag}"`;
    if (etagChain.length === 2) delete (json.capacity as JsonObject).etag;
    else delete json.etag;
  }
  if (typeof json.requestId === "string" && HEADER_SAFE.test(json.requestId)) {
    headers["idempotency-key"] = json.requestId;
    delete json.requestId;
  }

  let body: string | undefined;
  const query: Array<[string, string]> = [];
  if (binding.body === "*") {
    body = JSON.stringify(json);
  } else {
    if (binding.body !== "") {
      body = JSON.stringify(json[binding.body.jsonName] ?? {});
      delete json[binding.body.jsonName];
    }
    for (const field of methodDesc.input.fields) {
      const value = json[field.jsonName];
      if (value === undefined || !isSet(request, field)) continue;
      for (const v of Array.isArray(value) ? value : [value]) query.push([field.name, typeof v === "string" ? v : JSON.stringify(v)]);
    }
    for (const [field, paths] of maskPaths) {
      if (paths !== undefined) query.push([field.name, paths.join(",")]);
      // An RPC without a mask replaces every field; a PATCH without one changes only what its body names.
      else if (binding.httpMethod === "PATCH") query.push([field.name, "*"]);
    }
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  const qs = query.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join("&");
  return { method: binding.httpMethod, path: qs === "" ? path : `${path}?${qs}`, headers, body };
}

interface StatusJson {
  code?: number;
  message?: string;
  details?: Array<JsonObject & { "@type"?: string }>;
}

function text(value: JsonValue | undefined): string {
  return typeof value === "string" ? value : "";
}

function durationMs(value: JsonValue | undefined): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(-?\d+(?:\.\d+)?)s$/.exec(value);
  return m ? Math.round(Number(m[1]) * 1000 * 1e6) / 1e6 : undefined;
}

/** An HTTP answer as the outcome of a call: the message from proto-JSON, or the status from google.rpc.Status. */
export function restOutcome(rpc: Rpc, answer: RestAnswer): Outcome<never> {
  const output = CapacityService.method[rpc].output;
  if (answer.status >= 200 && answer.status < 300) {
    return { ok: true, value: fromJson(output, JSON.parse(answer.body) as JsonValue) as never };
  }
  let status: StatusJson;
  try {
    status = JSON.parse(answer.body) as StatusJson;
  } catch {
    throw new Error(`HTTP ${answer.status} without a google.rpc.Status body: ${answer.body.slice(0, 200)}`);
  }
  const violations: Violation[] = [];
  const errorInfo: ErrorInfo[] = [];
  let retryDelayMs: number | undefined;
  for (const d of status.details ?? []) {
    const type = d["@type"];
    if (type === "type.googleapis.com/google.rpc.BadRequest") {
      for (const v of (d.fieldViolations as JsonObject[] | undefined) ?? []) violations.push({ field: text(v.field), description: text(v.description) });
    } else if (type === "type.googleapis.com/google.rpc.ErrorInfo") {
      errorInfo.push({ reason: text(d.reason), domain: text(d.domain), metadata: { ...((d.metadata as Record<string, string> | undefined) ?? {}) } });
    } else if (type === "type.googleapis.com/google.rpc.RetryInfo") {
      retryDelayMs ??= durationMs(d.retryDelay);
    }
  }
  return {
    ok: false,
    code: (status.code ?? 2) as Code,
    message: status.message ?? "",
    violations,
    errorInfo,
    retryDelayMs,
    requestId: answer.headers["x-request-id"],
  };
}

/** A TestClient over the HTTP/JSON API. */
export function restClient(kind: string, transport: RestTransport): TestClient {
  return {
    kind,
    async call(rpc, req, token) {
      let r: ReturnType<typeof restRequest>;
      try {
        r = restRequest(rpc, req, token);
      } catch (err) {
        // What REST cannot express is not sent: the outcome says so, without a request id (nothing answered).
        if (!(err instanceof Unencodable)) throw err;
        return { ok: false, code: Code.InvalidArgument, message: err.message, violations: [], errorInfo: [], retryDelayMs: undefined, requestId: undefined };
      }
      return restOutcome(rpc, await transport.send(r.method, r.path, r.headers, r.body));
    },
    close() {
      transport.close();
    },
  };
}
