/**
 * The HTTP/JSON API (`/api/v1/…`): a third wire for the same method table,
 * routed by the `google.api.http` bindings of the contract. Each call goes
 * through the same admission (token, rate limits), deadline cap, service
 * core, observation (one log line with protocol `rest`, the same metrics) and
 * error mapping as gRPC and Connect; only the wire differs:
 *
 * - the request message is assembled from the path, the query and a JSON
 *   body (transcode.ts); answers are proto-JSON with lowerCamel names and
 *   every implicit-presence field written;
 * - errors are grpc-gateway's: HTTP status from the code, google.rpc.Status JSON;
 * - HTTP semantics: `ETag` on answers that carry a record and `If-None-Match`
 *   on reads (304), `If-Match` and `Idempotency-Key` on writes, `201` with
 *   `Location` on create, `405` with `Allow`, `HEAD` on reads, `OPTIONS`.
 */
import { toJson, type JsonValue, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Caller } from "../../auth/caller.js";
import { DeadlineExceededError, EtagMismatchError, InvalidArgumentError, LimitExceededError } from "../../domain/errors.js";
import { deadlineFor } from "../../service/call.js";
import type { Admission } from "../admission.js";
import { correlationId } from "../context.js";
import type { Observer } from "../observe.js";
import { isHttp2, peerOf, type Req, type Res } from "../requests.js";
import { timeoutFromHeaders } from "../timeouts.js";
import type { Binding, HttpMethod } from "./bindings.js";
import { httpError, plainStatus, REQUEST_TOO_LARGE } from "./status.js";
import { matchTemplate, type PathMatch } from "./template.js";
import { requestMessage } from "./transcode.js";

/** Where the HTTP/JSON API lives on the port. */
export const REST_PREFIX = "/api/";
/** The generated OpenAPI document's path. */
const OPENAPI_PATH = "/api/v1/openapi.json";

/** What the HTTP/JSON API needs: its bindings and the limits shared with every engine. */
export interface RestOptions {
  bindings: readonly Binding[];
  admission: Admission;
  observer: Observer;
  readMaxBytes: number;
  maxResponseBytes: number;
  maxDeadlineMs: number;
  /** The OpenAPI document's bytes, read once at start-up. */
  openApi: Buffer;
}

const JSON_TYPE = "application/json; charset=utf-8";
/** Decodes a body as UTF-8, refusing bytes that are not (never silently replaced). */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** A bound route that matched the path: the binding and the path's variables. */
interface Route {
  binding: Binding;
  path: PathMatch;
}

/** The one header value of a request, or undefined (a repeated header counts as its first value). */
function header(req: Req, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The deadline a request asks for: the `timeout` query parameter (`2s`,
 * `1500ms`, `1m`, `0.5s`) or `grpc-timeout`; malformed is INVALID_ARGUMENT.
 */
function requestedTimeoutMs(req: Req, query: URLSearchParams): number | undefined {
  const raw = query.getAll("timeout");
  if (raw.length === 0) return timeoutFromHeaders(req.headers);
  const m = raw.length === 1 ? /^(\d{1,8}(?:\.\d{1,9})?)(ms|s|m)$/.exec(raw[0]!) : null;
  if (!m) throw new InvalidArgumentError([{ field: "timeout", description: "must be one duration such as 2s, 1500ms or 1m" }]);
  return Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000);
}

/** The entity tag an `If-Match` names: undefined for none or `*` (any current record). */
function ifMatchTag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === "*") return undefined;
  if (/^W\//.test(v)) throw new EtagMismatchError("If-Match: a weak entity tag never matches (strong comparison)");
  const m = /^"([\x21\x23-\x7e]*)"$/.exec(v);
  if (!m) throw new InvalidArgumentError([{ field: "If-Match", description: 'must be one entity tag in quotes ("…") or *' }]);
  // Every record has an etag: an empty one matches none (and must not read as "no condition").
  if (m[1] === "") throw new EtagMismatchError('If-Match: "" matches no record');
  return m[1]!;
}

/** Reads a JSON body of at most `max` bytes by `deadline`; undefined when the body is empty. */
async function readJson(req: Req, max: number, deadline: number): Promise<JsonValue | undefined> {
  const type = header(req, "content-type");
  const encoding = header(req, "content-encoding");
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
    throw new InvalidArgumentError([{ field: "Content-Encoding", description: "request bodies are not compressed on this API" }]);
  }
  const declared = Number(header(req, "content-length"));
  if (declared > max) throw tooLarge(declared, max);
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(
      () => finish(new DeadlineExceededError("the request body did not arrive before the deadline")),
      Math.max(0, deadline - Date.now()),
    );
    const finish = (err?: Error) => {
      clearTimeout(timer);
      req.off("data", onData).off("end", onEnd).off("error", onError).off("aborted", onAborted);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) return finish(tooLarge(size, max));
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(err);
    const onAborted = () => finish(new ConnectError("the client went away", Code.Canceled));
    req.on("data", onData).on("end", onEnd).on("error", onError).on("aborted", onAborted);
  });
  if (bytes.length === 0) return undefined;
  if (type === undefined || !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new InvalidArgumentError([{ field: "Content-Type", description: "the body must be application/json" }]);
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new InvalidArgumentError([{ field: "body", description: "not UTF-8: bytes that would be stored as U+FFFD" }]);
  }
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new InvalidArgumentError([{ field: "body", description: `not valid JSON: ${(err as Error).message}` }]);
  }
  if (!wellFormed(value)) {
    // A \ud800 escape parses to a lone surrogate, which no column can store as sent: refused, as Connect's JSON does.
    throw new InvalidArgumentError([{ field: "body", description: "a string holds a lone surrogate escape (not well-formed Unicode)" }]);
  }
  return value;
}

/** Whether every string (and key) in a parsed JSON value is well-formed Unicode; iterative, whatever the nesting. */
function wellFormed(root: JsonValue): boolean {
  const stack: JsonValue[] = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (typeof v === "string") {
      if (!v.isWellFormed()) return false;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === "object") {
      for (const [k, inner] of Object.entries(v)) {
        if (!k.isWellFormed()) return false;
        stack.push(inner);
      }
    }
  }
  return true;
}

/**
 * The query string's parameters, each name and value percent-decoded as UTF-8
 * (`+` is a space); a broken escape or bytes that are not UTF-8 are
 * INVALID_ARGUMENT rather than silently replaced.
 */
function parseQuery(raw: string): URLSearchParams {
  const params = new URLSearchParams();
  for (const pair of raw.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const [name, value] = eq < 0 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)];
    let key: string;
    try {
      key = decodeURIComponent(name.replaceAll("+", " "));
    } catch {
      throw new InvalidArgumentError([{ field: "query", description: "a parameter name is not percent-encoded UTF-8" }]);
    }
    try {
      params.append(key, decodeURIComponent(value.replaceAll("+", " ")));
    } catch {
      throw new InvalidArgumentError([{ field: key, description: "the value is not percent-encoded UTF-8" }]);
    }
  }
  return params;
}

function tooLarge(size: number, max: number): LimitExceededError {
  return new LimitExceededError(
    `request body of ${size} bytes is larger than the limit of ${max} (CAPACITY_READ_MAX_BYTES)`,
    REQUEST_TOO_LARGE,
    "CAPACITY_READ_MAX_BYTES",
    max,
  );
}

/** Writes a JSON answer (no body for HEAD and 304). */
function send(req: Req, res: Res, status: number, headers: Record<string, string>, body: Buffer | undefined): void {
  if (res.headersSent || res.destroyed) return;
  const all: Record<string, string> = { "cache-control": "no-store", ...headers };
  if (body !== undefined) {
    all["content-type"] = JSON_TYPE;
    all["content-length"] = String(body.length);
  }
  // An HTTP/1.1 body left unread would be parsed as the next request: close instead.
  if (!isHttp2(req) && !req.complete && (Number(req.headers["content-length"]) > 0 || req.headers["transfer-encoding"] !== undefined)) all.connection = "close";
  res.writeHead(status, all);
  if (req.method === "HEAD" || status === 304 || body === undefined) res.end();
  else res.end(body);
}

function jsonBytes(value: JsonValue): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** The HTTP/JSON API as a request handler for paths under REST_PREFIX. */
export function restHandler(options: RestOptions): (req: Req, res: Res) => void {
  const { bindings, observer } = options;

  /** The bindings whose template matches the path; custom-verb templates win over plain ones. */
  function routesFor(path: string): Route[] {
    const found: Route[] = [];
    for (const binding of bindings) {
      const match = matchTemplate(binding.template, path);
      if (match) found.push({ binding, path: match });
    }
    const withVerb = found.filter((r) => r.binding.template.verb !== undefined);
    return withVerb.length > 0 ? withVerb : found;
  }

  function allowOf(routes: Route[]): string {
    const methods = new Set<string>(routes.map((r) => r.binding.httpMethod));
    if (methods.has("GET")) methods.add("HEAD");
    methods.add("OPTIONS");
    return [...methods].join(", ");
  }

  async function run(route: Route, req: Req, rawQuery: string, known: (caller: Caller) => void): Promise<{ message: Message; created: boolean }> {
    const { binding } = route;
    const query = parseQuery(rawQuery);
    const method = binding.served.method;
    const deadline = deadlineFor(requestedTimeoutMs(req, query), options.maxDeadlineMs);
    const caller = await options.admission.admit(method, header(req, "authorization"), known);
    const body = binding.body === "" ? undefined : await readJson(req, options.readMaxBytes, deadline);
    const request = requestMessage(binding, {
      path: route.path,
      query,
      body,
      ifMatch: binding.httpMethod === "GET" ? undefined : ifMatchTag(header(req, "if-match")),
      idempotencyKey: header(req, "idempotency-key"),
    });
    if (header(req, "if-match") !== undefined && binding.httpMethod !== "GET" && binding.pathFields.size === 0 && !requestNamesId(request)) {
      // RFC 9110 §13.1.1: with no current record, no If-Match (not even *) can hold.
      throw new EtagMismatchError("If-Match: the request names no existing record");
    }
    const message = await binding.served.handle({ ...caller, deadline }, request);
    // A POST on a collection (no path variables) that returns a record with an id it was not given created it.
    const created =
      binding.httpMethod === "POST" && binding.pathFields.size === 0 && idOf(message) !== "" && !requestNamesId(request) && !validateOnly(request);
    return { message, created };
  }

  function answer(route: Route, req: Req, res: Res, requestId: string, path: string, result: { message: Message; created: boolean }): void {
    const { binding } = route;
    const json = toJson(binding.served.method.output, result.message, { alwaysEmitImplicit: true });
    const bytes = jsonBytes(json);
    if (bytes.length > options.maxResponseBytes) {
      throw new ConnectError(
        `response size ${bytes.length} bytes is larger than the response cap ${options.maxResponseBytes} (CAPACITY_MAX_RESPONSE_BYTES)`,
        Code.ResourceExhausted,
      );
    }
    const headers: Record<string, string> = { "x-request-id": requestId };
    const etag = binding.responseEtag ? (result.message as unknown as Record<string, unknown>)[binding.responseEtag.localName] : undefined;
    if (typeof etag === "string" && etag !== "") headers.etag = `"${etag}"`;
    if (binding.httpMethod === "GET" && headers.etag !== undefined && ifNoneMatches(header(req, "if-none-match"), headers.etag)) {
      return send(req, res, 304, headers, undefined);
    }
    if (result.created) {
      headers.location = `${path}/${encodeURIComponent(idOf(result.message))}`;
      return send(req, res, 201, headers, bytes);
    }
    send(req, res, 200, headers, bytes);
  }

  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    const requestId = correlationId(req.headers["x-request-id"]);
    const fail = (status: number, code: Code, message: string, extra: Record<string, string> = {}) =>
      send(req, res, status, { "x-request-id": requestId, ...extra }, jsonBytes(plainStatus(code, message)));

    if (path === OPENAPI_PATH && (method === "GET" || method === "HEAD")) {
      const doc = options.openApi;
      res.writeHead(200, { "content-type": JSON_TYPE, "content-length": String(doc.length), "cache-control": "no-cache" });
      if (method === "HEAD") res.end();
      else res.end(doc);
      return;
    }
    let routes: Route[];
    try {
      routes = routesFor(path);
    } catch {
      observer.refused("bad_request", { peer: peerOf(req.socket), detail: path.slice(0, 200), correlationId: requestId });
      return fail(400, Code.InvalidArgument, "broken percent-encoding in the path");
    }
    if (routes.length === 0) {
      return fail(404, Code.NotFound, `no operation at ${path.slice(0, 200)}; the API is described at ${OPENAPI_PATH}`);
    }
    const wanted = (method === "HEAD" ? "GET" : method) as HttpMethod;
    const route = routes.find((r) => r.binding.httpMethod === wanted);
    if (method === "OPTIONS") {
      res.writeHead(204, { allow: allowOf(routes), "x-request-id": requestId });
      res.end();
      return;
    }
    if (!route) {
      observer.refused("method_not_allowed", { peer: peerOf(req.socket), detail: `${method.slice(0, 16)} ${path.slice(0, 200)}`, correlationId: requestId });
      return fail(405, Code.Unimplemented, `${method.slice(0, 16)} is not allowed on ${path.slice(0, 200)}`, { allow: allowOf(routes) });
    }

    const rpc = route.binding.served.method;
    const observed = observer.start({
      service: rpc.parent.typeName,
      method: rpc.name,
      type: "unary",
      protocol: "rest",
      correlationId: requestId,
      peer: peerOf(req.socket),
    });
    let caller: Caller | undefined;
    run(route, req, q < 0 ? "" : url.slice(q + 1), (c) => (caller = c))
      .then((result) => answer(route, req, res, requestId, path, result))
      .then(
        () => observed.end(caller),
        (err: unknown) => {
          const error = observed.end(caller, err)!;
          const mapped = httpError(error);
          send(req, res, mapped.status, { "x-request-id": requestId, ...mapped.headers }, jsonBytes(mapped.body));
        },
      );
  };
}

/** Does an `If-None-Match` list name this (strong) entity tag, or `*`? Weak comparison, as RFC 9110 wants for it. */
function ifNoneMatches(value: string | undefined, etag: string): boolean {
  if (value === undefined) return false;
  if (value.trim() === "*") return true;
  return value.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

function idOf(message: Message): string {
  const id = (message as unknown as { id?: unknown }).id;
  return typeof id === "string" ? id : "";
}

/** Did the request name a record id anywhere at its top level or in its one message field? */
function requestNamesId(request: Message): boolean {
  for (const value of Object.values(request)) {
    if (value !== null && typeof value === "object" && "id" in value && typeof value.id === "string" && value.id !== "") return true;
  }
  return idOf(request) !== "";
}

function validateOnly(request: Message): boolean {
  return (request as unknown as { validateOnly?: unknown }).validateOnly === true;
}
