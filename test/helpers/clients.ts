/**
 * The kinds of client the service promises to serve, behind one interface so
 * a test can run the same calls through each and compare answers.
 */
import { fromBinary, create, type DescMessage, type MessageInitShape, type MessageShape, ScalarType } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema, type RetryInfo } from "../../src/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";
import { http1Transport, http2Transport, restClient } from "./rest-client.js";

type Methods = typeof CapacityService.method;
export type Rpc = keyof Methods;
export type Req<R extends Rpc> = MessageInitShape<Methods[R]["input"]>;
export type Res<R extends Rpc> = MessageShape<Methods[R]["output"]>;

export interface Violation {
  field: string;
  description: string;
}

export type Outcome<T> =
  | { ok: true; value: T }
  | {
      ok: false;
      code: Code;
      message: string;
      violations: Violation[];
      errorInfo: ErrorInfo[];
      /** google.rpc.RetryInfo's retry_delay, in milliseconds, when the status carried one. */
      retryDelayMs: number | undefined;
      requestId: string | undefined;
    };

function delayMs(info: RetryInfo | undefined): number | undefined {
  const d = info?.retryDelay;
  return d === undefined ? undefined : Number(d.seconds) * 1000 + d.nanos / 1e6;
}

export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

export interface TestClient {
  /** The client kind, plus the engine when it is not the main port. */
  kind: string;
  call<R extends Rpc>(rpc: R, req: Req<R>, token?: string): Promise<Outcome<Res<R>>>;
  close(): void;
}

/**
 * The outcome of a call made with a connect-es client: its answer, or the
 * status and details of the ConnectError it rejected with, read the way a
 * client on the wire reads them.
 */
export async function settle<T>(call: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await call };
  } catch (err) {
    const e = ConnectError.from(err);
    return {
      ok: false,
      code: e.code,
      message: e.rawMessage,
      violations: e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => ({ field: v.field, description: v.description }))),
      errorInfo: e.findDetails(ErrorInfoSchema).map((i) => ({ reason: i.reason, domain: i.domain, metadata: { ...i.metadata } })),
      retryDelayMs: delayMs(e.findDetails(RetryInfoSchema)[0]),
      requestId: e.metadata.get("x-request-id") ?? undefined,
    };
  }
}

export type ClientKind = "connect-json-http1" | "connect-binary-http2" | "grpc-connect-node" | "grpc-js" | "grpc-web-http1" | "rest-http1" | "rest-http2";
export const CLIENT_KINDS: ClientKind[] = [
  "connect-json-http1",
  "connect-binary-http2",
  "grpc-connect-node",
  "grpc-js",
  "grpc-web-http1",
  "rest-http1",
  "rest-http2",
];

export function createTestClient(kind: ClientKind, baseUrl: string): TestClient {
  switch (kind) {
    case "connect-json-http1":
      return connectClient(kind, createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }));
    case "connect-binary-http2":
      return connectClient(kind, createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }));
    case "grpc-connect-node":
      return connectClient(kind, createGrpcTransport({ baseUrl }));
    case "grpc-js":
      return grpcJsClient(baseUrl);
    case "grpc-web-http1":
      return connectClient(kind, createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }));
    case "rest-http1":
      return restClient(kind, http1Transport(baseUrl));
    case "rest-http2":
      return restClient(kind, http2Transport(baseUrl));
  }
}

function connectClient(kind: ClientKind, transport: Transport): TestClient {
  const client = createClient(CapacityService, transport) as unknown as Record<
    Rpc,
    (req: unknown, options: { headers: Record<string, string>; onHeader?: (h: Headers) => void }) => Promise<never>
  >;
  return {
    kind,
    async call(rpc, req, token) {
      return settle(client[rpc](req, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }));
    },
    close() {},
  };
}

let grpcJsService: grpc.ServiceClientConstructor | undefined;

function loadGrpcJsService(): grpc.ServiceClientConstructor {
  if (!grpcJsService) {
    const definition = protoLoader.loadSync("work/v1/capacity.proto", {
      includeDirs: ["proto", "node_modules/google-proto-files"],
      keepCase: false,
      longs: String,
      enums: Number,
      defaults: false,
      oneofs: false,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { work: { v1: { CapacityService: grpc.ServiceClientConstructor } } };
    grpcJsService = pkg.work.v1.CapacityService;
  }
  return grpcJsService;
}

/** protobuf-es message → the plain object protobufjs expects (64-bit ints as strings). */
function toLoaderObject(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(toLoaderObject);
  if (value instanceof Uint8Array) return value;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== "$typeName")
        .map(([k, v]) => [k, toLoaderObject(v)]),
    );
  }
  return value;
}

/** protobufjs plain object → protobuf-es message, guided by the schema (64-bit ints back to bigint). */
function fromLoaderObject<D extends DescMessage>(desc: D, obj: Record<string, unknown>): MessageShape<D> {
  const init: Record<string, unknown> = {};
  for (const field of desc.fields) {
    const value = obj[field.localName];
    if (value === undefined || value === null) continue;
    const convert = (v: unknown): unknown => {
      if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) {
        return fromLoaderObject(field.message, v as Record<string, unknown>);
      }
      const scalar = field.fieldKind === "scalar" ? field.scalar : field.fieldKind === "list" ? field.scalar : undefined;
      if (
        scalar === ScalarType.INT64 ||
        scalar === ScalarType.UINT64 ||
        scalar === ScalarType.SINT64 ||
        scalar === ScalarType.FIXED64 ||
        scalar === ScalarType.SFIXED64
      ) {
        return BigInt(v as string);
      }
      return v;
    };
    init[field.localName] = Array.isArray(value) ? value.map(convert) : convert(value);
  }
  return create(desc, init as MessageInitShape<D>);
}

function grpcJsClient(baseUrl: string): TestClient {
  const Service = loadGrpcJsService();
  const client = new Service(new URL(baseUrl).host, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void
  >;
  return {
    kind: "grpc-js",
    call(rpc, req, token) {
      const method = CapacityService.method[rpc];
      const md = new grpc.Metadata();
      if (token !== undefined) md.set("authorization", `Bearer ${token}`);
      const input = create(method.input, req as never);
      return new Promise((resolve) => {
        client[rpc]!.call(client, toLoaderObject(input), md, (err, res) => {
          if (!err) {
            resolve({ ok: true, value: fromLoaderObject(method.output, res) as never });
            return;
          }
          const raw = err.metadata?.get("grpc-status-details-bin")[0];
          const violations: Violation[] = [];
          const errorInfo: ErrorInfo[] = [];
          let retry: RetryInfo | undefined;
          if (raw instanceof Buffer) {
            const status = fromBinary(StatusSchema, raw);
            for (const any of status.details) {
              const bad = anyUnpack(any, BadRequestSchema);
              if (bad) violations.push(...bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
              const info = anyUnpack(any, ErrorInfoSchema);
              if (info) errorInfo.push({ reason: info.reason, domain: info.domain, metadata: { ...info.metadata } });
              retry ??= anyUnpack(any, RetryInfoSchema);
            }
          }
          resolve({
            ok: false,
            code: err.code as number as Code,
            message: err.details,
            violations,
            errorInfo,
            retryDelayMs: delayMs(retry),
            requestId: err.metadata?.get("x-request-id")[0]?.toString(),
          });
        });
      });
    },
    close() {
      (client as unknown as grpc.Client).close();
    },
  };
}

/** The value of a successful outcome; fails the test with the status otherwise. */
export function ok<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new Error(`expected success, got ${Code[outcome.code]}: ${outcome.message}`);
  return outcome.value;
}

/** A failed outcome, reduced to what tests compare; fails the test when the call succeeded. */
export interface Failure {
  code: Code;
  /** The BadRequest field violations' fields, in order. */
  fields: string[];
  violations: Violation[];
  message: string;
  errorInfo: ErrorInfo[];
}

/** The status of a failed outcome; fails the test with the answer otherwise. */
export function failure<T>(outcome: Outcome<T>): Failure {
  if (outcome.ok)
    throw new Error(`expected a failure, got success: ${JSON.stringify(outcome.value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
  return {
    code: outcome.code,
    fields: outcome.violations.map((v) => v.field),
    violations: outcome.violations,
    message: outcome.message,
    errorInfo: outcome.errorInfo,
  };
}

/** The status of a connect-es call that must fail; fails the test when it succeeds. */
export async function failed<T>(call: Promise<T>): Promise<Failure> {
  return failure(await settle(call));
}

/** "ok" or the status code: for loops that expect either. */
export function codeOf<T>(outcome: Outcome<T>): Code | "ok" {
  return outcome.ok ? "ok" : outcome.code;
}
