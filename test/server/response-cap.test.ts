/**
 * The generic response cap (CAPACITY_MAX_RESPONSE_BYTES) on both engines,
 * below any domain budget: a fake service answers GetCapacity with a message
 * of a chosen size, and every client kind sees RESOURCE_EXHAUSTED past the cap.
 */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CapacitySchema } from "../../src/gen/work/v1/capacity_pb.js";
import { startGrpcEngine, type GrpcEngine } from "../../src/server/grpc-engine.js";
import { HealthMonitor } from "../../src/server/health.js";
import type { Listener } from "../../src/server/listener.js";
import { Admission } from "../../src/server/admission.js";
import { RateLimiter } from "../../src/server/rate-limit.js";
import { Metrics } from "../../src/server/metrics.js";
import { Observer } from "../../src/server/observe.js";
import { startServer } from "../../src/server/server.js";
import { servedMethods, type EngineOptions } from "../../src/server/routes.js";
import type { CapacityCore } from "../../src/service/capacity-service.js";
import type { WorkingTimeCore } from "../../src/service/working-time-service.js";
import { CLIENT_KINDS, createTestClient, ok, type TestClient } from "../helpers/clients.js";
import { capturedLog } from "../helpers/log.js";

const CAP = 64 * 1024;
const ID = "cap_01HV0000000000000000000000";

describe("response cap on both engines", () => {
  let notesLength = 0;
  const capacity = {
    getCapacity: () => Promise.resolve(create(CapacitySchema, { id: ID, notes: "n".repeat(notesLength) })),
  } as unknown as CapacityCore;
  // WorkingTimeService is served too, but never called here.
  const methods = servedMethods({ capacity, workingTime: {} as WorkingTimeCore });
  const captured = capturedLog();
  let listener: Listener;
  let engine: GrpcEngine;
  let clients: TestClient[];

  beforeAll(async () => {
    const verifier = { verify: () => Promise.resolve({ tenantId: "t", personId: "per_01HV0000000000000000000000", appId: undefined }) };
    const health = new HealthMonitor({ ping: () => Promise.resolve(), services: [] });
    const observer = new Observer(captured.log, new Metrics());
    const off = { tenantCallsPerS: 0, tenantWritesPerS: 0, appCallsPerS: 0, appWritesPerS: 0, burstMs: 1000, maxKeys: 10 };
    const admission = new Admission(verifier, new RateLimiter(off));
    // What both engines share: the same table, admission, health, observation and limits.
    const engines: EngineOptions = {
      host: "127.0.0.1",
      port: 0,
      methods,
      admission,
      health,
      observer,
      readMaxBytes: 1024 * 1024,
      maxResponseBytes: CAP,
      maxDeadlineMs: 10_000,
    };
    listener = await startServer({
      ...engines,
      limits: { maxConcurrentStreams: 100, maxHeaderBytes: 16_384, pingIntervalMs: 30_000, firstRequestTimeoutMs: 10_000, maxConnections: 100 },
      watchLimits: { perProcess: 10, perConnection: 10 },
      corsOrigins: [],
      uiDir: undefined,
      tls: undefined,
    });
    engine = await startGrpcEngine({ ...engines, maxConcurrentStreams: 100, pingIntervalMs: 30_000 });
    clients = [
      ...CLIENT_KINDS.map((k) => createTestClient(k, `http://127.0.0.1:${listener.port}`)),
      { ...createTestClient("grpc-js", `http://127.0.0.1:${engine.port}`), kind: "grpc-js engine" },
    ];
  });
  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await Promise.all([listener?.close(100), engine?.close(100)]);
  });

  it("answers up to the cap and refuses past it with RESOURCE_EXHAUSTED, on every protocol", async () => {
    for (const client of clients) {
      notesLength = CAP / 2;
      expect(ok(await client.call("getCapacity", { id: ID }, "token")).notes, client.kind).toHaveLength(CAP / 2);
      notesLength = CAP + 1;
      const got = await client.call("getCapacity", { id: ID }, "token");
      expect(got.ok ? "answered" : got.code, client.kind).toBe(Code.ResourceExhausted);
    }
  });

  it("observes the grpc-js engine's refusal with its real status", () => {
    const engineLines = captured.lines().filter((l) => l.msg === "call" && l.method === "work.v1.CapacityService/GetCapacity" && l.protocol === "grpc");
    expect(engineLines.map((l) => l.code)).toContain("ResourceExhausted");
  });
});
