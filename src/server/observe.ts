/**
 * One call's observation, whatever engine serves it (connect-node or
 * grpc-js): metrics at start and end, one log line, and the mapping of any
 * error to its status (errors.ts). Never logs tokens or request bodies.
 */
import { randomUUID } from "node:crypto";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Caller } from "../auth/caller.js";
import { mayQuoteData } from "../store/driver-errors.js";
import { toConnectError } from "./errors.js";
import type { GrpcType, Metrics } from "./metrics.js";

/** What is known of a call when it starts, on either engine: its labels and its log line's fields. */
export interface CallFacts {
  /** Fully qualified service name, e.g. `work.v1.CapacityService`. */
  service: string;
  /** The method's name as in the proto, e.g. `GetCapacity`. */
  method: string;
  type: GrpcType;
  /** "grpc", "grpc-web" or "connect". */
  protocol: string;
  correlationId: string;
  peer: string;
}

/** A started call, to be ended exactly once. */
export interface ObservedCall {
  /** Ends the call: OK without an error, else the status the client gets. */
  end(caller: Caller | undefined, err?: unknown): ConnectError | undefined;
}

/**
 * What the log keeps of a server fault: its kind and driver code, and the
 * message only when it cannot carry stored values (see mayQuoteData).
 */
function fault(err: unknown): Record<string, unknown> {
  let e: unknown = err;
  // Unwrap our own wrappers down to the driver error.
  while (e instanceof Error && e.cause instanceof Error && !("sql" in e)) e = e.cause;
  if (!(e instanceof Error)) return { value: typeof e };
  const driver = e as Error & { code?: unknown; errno?: unknown; sqlState?: unknown; sql?: unknown };
  const fromSql = mayQuoteData(driver);
  return {
    name: driver.name,
    code: driver.code,
    errno: driver.errno,
    sqlState: driver.sqlState,
    ...(fromSql ? {} : { message: driver.message }),
  };
}

/** Facts about a request turned away outside the RPC layer. */
export interface RefusalFacts {
  peer: string;
  detail?: string | undefined;
  correlationId?: string | undefined;
}

/** Metrics and log lines for calls and refusals; one per process, shared by both engines and the listener. */
export class Observer {
  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** A request or connection turned away before (or outside) the RPC layer: a metric and a log line. */
  refused(reason: string, facts: RefusalFacts): void {
    this.metrics.refused.inc({ reason });
    this.log.warn({ reason, ...facts }, "refused");
  }

  /** A handler outside the RPC layer threw: logged with a new correlation id, which is returned for the client. */
  fault(err: unknown, facts: { path: string; peer: string }): string {
    const correlationId = randomUUID();
    this.metrics.refused.inc({ reason: "internal_error" });
    this.log.error({ ...facts, correlationId, fault: fault(err) }, "handler failed");
    return correlationId;
  }

  /** Counts the call as started and in flight; its end() counts the outcome and writes the log line. */
  start(facts: CallFacts): ObservedCall {
    const started = performance.now();
    const labels = { grpc_type: facts.type, grpc_service: facts.service, grpc_method: facts.method };
    const flight = { grpc_service: facts.service, grpc_method: facts.method };
    this.metrics.started.inc(labels);
    this.metrics.inFlight.inc(flight);
    return {
      end: (caller, err) => {
        const ms = performance.now() - started;
        let error: ConnectError | undefined;
        let internal = false;
        if (err !== undefined) ({ error, internal } = toConnectError(err, facts.correlationId));
        const code = error ? Code[error.code] : "OK";
        this.metrics.inFlight.dec(flight);
        this.metrics.handled.inc({ ...labels, grpc_code: code });
        this.metrics.handling.observe(labels, ms / 1000);
        const line = {
          method: `${facts.service}/${facts.method}`,
          protocol: facts.protocol,
          code,
          ms: Math.round(ms * 100) / 100,
          tenant: caller?.tenantId,
          app: caller?.appId,
          correlationId: facts.correlationId,
          peer: facts.peer,
        };
        if (internal) this.log.error({ ...line, fault: fault(err) }, "call failed");
        else this.log.info(line, "call");
        return error;
      },
    };
  }
}
