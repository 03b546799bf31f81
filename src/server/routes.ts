/**
 * The API's RPCs as one table, built from the generated service descriptors
 * and their typed cores: the Connect router and the grpc-js engine both serve
 * exactly this table, each with its own wire handling.
 */
import type { DescMethodUnary, DescService, Message } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { UnauthenticatedError } from "../domain/errors.js";
import { CapacityService } from "../gen/work/v1/capacity_pb.js";
import { WorkingTimeService } from "../gen/work/v1/working_time_pb.js";
import { deadlineFor, type Call, type ServiceCore } from "../service/call.js";
import type { Admission } from "./admission.js";
import { callerKey } from "./context.js";
import type { HealthMonitor } from "./health.js";
import type { Observer } from "./observe.js";

/** The API's services (token required) by name, in the order reflection lists them: the one list to extend. */
const API = { capacity: CapacityService, workingTime: WorkingTimeService } as const;

/** The service cores behind the API, one per entry of the list above, each typed against its descriptor. */
export type Services = { [K in keyof typeof API]: ServiceCore<(typeof API)[K]> };

/** The API's service descriptors. */
export const API_SERVICES: readonly DescService[] = Object.values(API);

/** One served RPC: its descriptor and the core method that answers it. */
export interface ServedMethod {
  method: DescMethodUnary;
  handle(call: Call, req: Message): Promise<Message>;
}

/**
 * The rows of one service: every method of the descriptor, each bound to the
 * core's method of the same local name. `core` is checked against the
 * descriptor at compile time, so the lookup below cannot miss.
 */
function rowsOf<S extends DescService>(service: S, core: ServiceCore<S>): ServedMethod[] {
  const byName = core as unknown as Record<string, ServedMethod["handle"]>;
  return service.methods.map((method) => {
    if (method.methodKind !== "unary") throw new Error(`${service.typeName}/${method.name}: only unary RPCs are served`);
    const handle = byName[method.localName]!;
    return { method: method as DescMethodUnary, handle: (call, req) => handle.call(core, call, req) };
  });
}

/** Every RPC of the API: the one table both engines serve. */
export function servedMethods(services: Services): ServedMethod[] {
  return (Object.keys(API) as Array<keyof typeof API>).flatMap((name) => rowsOf(API[name], services[name]));
}

/**
 * What both engines serve and how, from the configuration: the method table,
 * admission (token, rate limits), health, observation, and the per-call limits.
 */
export interface EngineOptions {
  host: string;
  port: number;
  /** The API's RPCs: the same table on both engines. */
  methods: readonly ServedMethod[];
  /** Token verification and rate limits. */
  admission: Admission;
  health: HealthMonitor;
  observer: Observer;
  /** CAPACITY_READ_MAX_BYTES: larger request messages are RESOURCE_EXHAUSTED. */
  readMaxBytes: number;
  /** CAPACITY_MAX_RESPONSE_BYTES: larger response messages are RESOURCE_EXHAUSTED. */
  maxResponseBytes: number;
  /** CAPACITY_MAX_DEADLINE_MS: the longest a call may take, whatever the client asked. */
  maxDeadlineMs: number;
}

/** How the Connect router adapts each call. */
export interface RouteOptions {
  /** Longest a call may take, whatever deadline the client sent (or none). */
  maxDeadlineMs: number;
}

/** The verified caller and the call's deadline: the client's, capped. */
function callOf(ctx: HandlerContext, maxDeadlineMs: number): Call {
  const caller = ctx.values.get(callerKey);
  if (!caller) throw new UnauthenticatedError("no verified caller");
  return { ...caller, deadline: deadlineFor(ctx.timeoutMs(), maxDeadlineMs) };
}

/** Registers the table on a Connect router: each RPC handed to its core with its call. */
export function routes(methods: readonly ServedMethod[], options: RouteOptions): (router: ConnectRouter) => void {
  return (router) => {
    for (const served of methods) {
      router.rpc(served.method, (req, ctx) => served.handle(callOf(ctx, options.maxDeadlineMs), req));
    }
  };
}
