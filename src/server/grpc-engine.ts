/**
 * The gRPC protocol on @grpc/grpc-js, a second engine for the same service
 * core: it costs about a third of connect-node's CPU per call. It listens on
 * CAPACITY_GRPC_PORT; the main port keeps serving every protocol. Requests
 * and responses are (de)serialized with the generated schemas, and admission
 * (auth, rate limits), deadlines, observation and error mapping are the ones
 * connect-node uses.
 */
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type Message } from "@bufbuild/protobuf";
import { anyPack, AnySchema, type Any } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import type { Caller } from "../auth/caller.js";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import { Health } from "../gen/health/v1/health_pb.js";
import { deadlineFor } from "../service/call.js";
import { correlationId } from "./context.js";
import type { EngineOptions } from "./routes.js";

/** What the grpc-js engine serves and with which limits (the main port's, from the configuration). */
export interface GrpcEngineOptions extends EngineOptions {
  maxConcurrentStreams: number;
  pingIntervalMs: number;
}

/** A running grpc-js engine. */
export interface GrpcEngine {
  port: number;
  close(graceMs: number): Promise<void>;
}

function definition(method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  const serialize = (schema: DescMessage) => (m: unknown) => Buffer.from(toBinary(schema, m as never));
  const deserialize = (schema: DescMessage) => (b: Buffer) => fromBinary(schema, b);
  const responseBytes = serialize(method.output);
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize(method.input),
    requestDeserialize: deserialize(method.input),
    // The handler serializes (to check the response cap); anything else is a message.
    responseSerialize: (m: unknown) => (m instanceof Uint8Array ? Buffer.from(m.buffer, m.byteOffset, m.byteLength) : responseBytes(m)),
    responseDeserialize: deserialize(method.output),
  };
}

/** A ConnectError as grpc-js sends it: code, message, google.rpc.Status details, x-request-id. */
function toServiceError(error: ConnectError, requestId: string): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set("x-request-id", requestId);
  for (const [k, v] of error.metadata) if (k !== "x-request-id") metadata.set(k, v);
  if (error.details.length > 0) {
    const details: Any[] = error.details.map((d) =>
      "desc" in d ? anyPack(d.desc, create(d.desc, d.value)) : create(AnySchema, { typeUrl: `type.googleapis.com/${d.type}`, value: d.value }),
    );
    const status = create(StatusSchema, { code: error.code, message: error.rawMessage, details });
    metadata.set("grpc-status-details-bin", Buffer.from(toBinary(StatusSchema, status)));
  }
  return { code: error.code as number, details: error.rawMessage, metadata };
}

/** Milliseconds left before a grpc-js deadline (undefined without one). */
function remaining(deadline: grpc.Deadline): number | undefined {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return at === Infinity ? undefined : Math.max(0, at - Date.now());
}

/** Serves the method table and Health/Check over gRPC on its own port; resolves once bound. */
export async function startGrpcEngine(options: GrpcEngineOptions): Promise<GrpcEngine> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.readMaxBytes,
    // A backstop: the handler below checks the size first, so the call is observed with its real status.
    "grpc.max_send_message_length": options.maxResponseBytes,
    "grpc.max_concurrent_streams": options.maxConcurrentStreams,
    "grpc.keepalive_time_ms": options.pingIntervalMs,
    "grpc.keepalive_timeout_ms": 20_000,
  });

  const unary = (
    method: DescMethod,
    handle: (caller: Caller | undefined, request: unknown, deadline: number) => Promise<unknown>,
    needsCaller: boolean,
  ): grpc.handleUnaryCall<unknown, unknown> => {
    return (call, callback) => {
      const requestId = correlationId(call.metadata.get("x-request-id")[0]?.toString());
      const observed = options.observer.start({
        service: method.parent.typeName,
        method: method.name,
        type: "unary",
        protocol: "grpc",
        correlationId: requestId,
        peer: call.getPeer(),
      });
      let caller: Caller | undefined;
      const deadline = deadlineFor(remaining(call.getDeadline()), options.maxDeadlineMs);
      (async () => {
        if (needsCaller) {
          await options.admission.admit(method, call.metadata.get("authorization")[0]?.toString(), (c) => (caller = c));
        }
        const bytes = toBinary(method.output, (await handle(caller, call.request, deadline)) as never);
        if (bytes.byteLength > options.maxResponseBytes) {
          throw new ConnectError(
            `response size ${bytes.byteLength} bytes is larger than the response cap ${options.maxResponseBytes} (CAPACITY_MAX_RESPONSE_BYTES)`,
            Code.ResourceExhausted,
          );
        }
        return bytes;
      })().then(
        (response) => {
          observed.end(caller);
          const md = new grpc.Metadata();
          md.set("x-request-id", requestId);
          call.sendMetadata(md);
          callback(null, response);
        },
        (err: unknown) => callback(toServiceError(observed.end(caller, err)!, requestId)),
      );
    };
  };

  const api: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const impl: grpc.UntypedServiceImplementation = {};
  for (const served of options.methods) {
    const method = served.method;
    // Keyed by full path: two services may share a method name.
    const key = `${method.parent.typeName}/${method.name}`;
    api[key] = definition(method);
    impl[key] = unary(method, (caller, req, deadline) => served.handle({ ...caller!, deadline }, req as Message), true);
  }
  server.addService(api, impl);

  // Health Check (no token) for gRPC load balancers on this port.
  const check = Health.method.check;
  server.addService(
    { Check: definition(check) },
    {
      Check: unary(check, async (_caller, req) => create(check.output, { status: await options.health.check((req as { service: string }).service) }), false),
    },
  );

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
