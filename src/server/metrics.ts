/**
 * Prometheus metrics, named as go-grpc-prometheus made familiar, plus the
 * database pool and query latency and the process itself.
 */
import type { Knex } from "knex";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The `grpc_type` label, spelled as go-grpc-prometheus spells it. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/** One registry per process (the cluster primary aggregates the workers' registries). */
export class Metrics {
  readonly registry = new Registry();
  readonly started: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  readonly handled: Counter<"grpc_type" | "grpc_service" | "grpc_method" | "grpc_code">;
  readonly handling: Histogram<"grpc_type" | "grpc_service" | "grpc_method">;
  readonly inFlight: Gauge<"grpc_service" | "grpc_method">;
  readonly queries: Histogram<"operation" | "outcome">;
  readonly refused: Counter<"reason">;
  readonly rateLimited: Counter<"grpc_service" | "grpc_method" | "scope">;

  constructor() {
    const registers = [this.registry];
    const call = ["grpc_type", "grpc_service", "grpc_method"] as const;
    this.started = new Counter({ name: "grpc_server_started_total", help: "RPCs started on the server.", labelNames: call, registers });
    this.handled = new Counter({
      name: "grpc_server_handled_total",
      help: "RPCs completed on the server, whatever their status.",
      labelNames: [...call, "grpc_code"],
      registers,
    });
    this.handling = new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Time from the start of an RPC to its response, in seconds.",
      labelNames: call,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rateLimited = new Counter({
      name: "grpc_server_rate_limited_total",
      help: "RPCs refused RESOURCE_EXHAUSTED by a rate limit of this process, by the limit (scope) that refused.",
      labelNames: ["grpc_service", "grpc_method", "scope"],
      registers,
    });
    this.inFlight = new Gauge({ name: "grpc_server_in_flight", help: "RPCs being handled now.", labelNames: ["grpc_service", "grpc_method"], registers });
    this.queries = new Histogram({
      name: "capacity_db_query_seconds",
      help: "Database query latency, in seconds.",
      labelNames: ["operation", "outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.refused = new Counter({
      name: "capacity_requests_refused_total",
      help: "Requests and connections turned away before (or outside) the RPC layer, by reason.",
      labelNames: ["reason"],
      registers,
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Pool gauges and query timings of one Knex instance. */
  watchDatabase(knex: Knex): void {
    const pool = (): { numUsed(): number; numFree(): number; numPendingAcquires(): number; max: number } | undefined =>
      (knex.client as { pool?: ReturnType<typeof pool> }).pool;
    new Gauge({
      name: "capacity_db_pool_connections",
      help: "Database pool connections by state (used, free, pending acquires, max).",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        const p = pool();
        if (!p) return;
        this.set({ state: "used" }, p.numUsed());
        this.set({ state: "free" }, p.numFree());
        this.set({ state: "pending" }, p.numPendingAcquires());
        this.set({ state: "max" }, p.max);
      },
    });
    const startedAt = new Map<string, { at: number; operation: string }>();
    knex.on("query", (q: { __knexQueryUid?: string; method?: string; sql?: string }) => {
      if (q.__knexQueryUid) startedAt.set(q.__knexQueryUid, { at: performance.now(), operation: operationOf(q) });
    });
    const done = (outcome: string) => (_r: unknown, q: { __knexQueryUid?: string }) => {
      const s = q.__knexQueryUid === undefined ? undefined : startedAt.get(q.__knexQueryUid);
      if (!s) return;
      startedAt.delete(q.__knexQueryUid!);
      this.queries.observe({ operation: s.operation, outcome }, (performance.now() - s.at) / 1000);
    };
    knex.on("query-response", done("ok"));
    knex.on("query-error", (err: unknown, q: { __knexQueryUid?: string }) => done("error")(err, q));
  }
}

const OPERATIONS: Record<string, string> = {
  select: "select",
  first: "select",
  pluck: "select",
  insert: "insert",
  update: "update",
  del: "delete",
  delete: "delete",
};

/** select, insert, update, delete, or other (transaction control, raw). */
function operationOf(q: { method?: string; sql?: string }): string {
  const verb = (q.method ?? q.sql?.trim().split(/\s+/, 1)[0] ?? "").toLowerCase();
  return OPERATIONS[verb] ?? "other";
}
