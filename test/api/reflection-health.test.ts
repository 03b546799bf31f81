/**
 * Reflection through real third-party clients (buf curl, the grpcurl stand-in,
 * and grpc-js-reflection-client), health over gRPC and HTTP, and its transitions.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { GrpcReflection } from "grpc-js-reflection-client";
import { beforeAll, describe, expect, it } from "vitest";
import { ServerReflection, ServerReflectionRequestSchema } from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../src/gen/health/v1/health_pb.js";
import { HealthMonitor } from "../../src/server/health.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, useTestServer, type TestServer } from "../helpers/server.js";
import { startMysqlProxy } from "../helpers/tcp-proxy.js";

const run = promisify(execFile);
const BUF = "node_modules/.bin/buf";

async function bufCurl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(BUF, ["curl", "--http2-prior-knowledge", ...args], { timeout: 30_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("server reflection", () => {
  const suite = useTestServer("sqlite");
  let server: TestServer;
  beforeAll(() => {
    server = suite.server;
  });

  it("lists services and methods for buf curl (v1 and v1alpha), without a token", async () => {
    for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
      const services = await bufCurl(["--reflect-protocol", protocol, "--list-services", server.baseUrl]);
      expect(services.code).toBe(0);
      expect(services.out.trim().split("\n").sort()).toEqual([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "work.v1.CapacityService",
        "work.v1.WorkingTimeService",
      ]);
    }
    const methods = await bufCurl(["--list-methods", server.baseUrl]);
    expect(methods.out).toContain("work.v1.CapacityService/SetCapacity");
    expect(methods.out).toContain("work.v1.CapacityService/BatchGetPersonAvailability");
    expect(methods.out).toContain("work.v1.WorkingTimeService/SetHolidays");
    expect(methods.out).toContain("work.v1.WorkingTimeService/ListTimeOff");
  });

  it("makes a real call with the schema from reflection only", async () => {
    const token = await server.token(tenant());
    const body = JSON.stringify({
      capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 12.5 },
    });
    const url = `${server.baseUrl}/work.v1.CapacityService/SetCapacity`;
    const created = await bufCurl(["--protocol", "grpc", "-H", `authorization: Bearer ${token}`, "-d", body, url]);
    expect(created.code).toBe(0);
    const capacity = JSON.parse(created.out) as { id: string; allocatedPct: number; createdAt: string };
    expect(capacity.id).toMatch(/^cap_/);
    expect(capacity.allocatedPct).toBe(12.5);
    expect(capacity.createdAt).toMatch(/^20\d\d-/); // a Timestamp, resolved through the imported file
    const refused = await bufCurl(["--protocol", "grpc", "-d", body, url]);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain("unauthenticated");
  });

  it("serves grpc-js-reflection-client, whose descriptors are enough to build a working grpc-js client", async () => {
    const host = new URL(server.baseUrl).host;
    for (const version of ["v1", "v1alpha"]) {
      const reflection = new GrpcReflection(host, grpc.credentials.createInsecure(), {}, version);
      expect((await reflection.listServices()).sort()).toContain("work.v1.CapacityService");
    }
    const reflection = new GrpcReflection(host, grpc.credentials.createInsecure());
    const descriptor = await reflection.getDescriptorBySymbol("work.v1.CapacityService");
    // Not reflection.listMethods() or descriptor.getPackageObject(): both round-trip the descriptors through
    // protobufjs's toDescriptor(), which writes the repeated google.api.field_behavior extension twice
    // ("duplicate id 1052"; docs/http-api.md). The reflected root itself is complete.
    const root = descriptor.getProtobufJsRoot();
    expect(Object.keys(root.lookupService("work.v1.CapacityService").methods).sort()).toEqual([
      "BatchGetPersonAvailability",
      "ConfirmCapacity",
      "DeleteCapacity",
      "GetCapacity",
      "GetPersonAvailability",
      "ListCapacities",
      "SetCapacity",
      "UndeleteCapacity",
    ]);
    const workingTime = (await reflection.getDescriptorBySymbol("work.v1.WorkingTimeService")).getProtobufJsRoot();
    expect(Object.keys(workingTime.lookupService("work.v1.WorkingTimeService").methods).sort()).toEqual([
      "DeleteTimeOff",
      "DeleteWorkSchedule",
      "GetTimeOff",
      "ListHolidayCalendars",
      "ListHolidays",
      "ListTimeOff",
      "ListWorkSchedules",
      "SetHolidayCalendar",
      "SetHolidays",
      "SetTimeOff",
      "SetWorkSchedule",
    ]);
    const definition = protoLoader.fromJSON(root.toJSON(), { longs: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      work: { v1: { CapacityService: grpc.ServiceClientConstructor } };
    };
    const client = new pkg.work.v1.CapacityService(host, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${await server.token(tenant())}`);
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) =>
      (
        client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: Error | null, r: Record<string, unknown>) => void) => void>
      ).SetCapacity!.call(
        client,
        { capacity: { personId: person(), projectId: project(), periodStart: "2027-02-01", periodEnd: "2027-02-02", allocatedPct: 5 } },
        md,
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    expect(reply.id).toMatch(/^cap_/);
    expect(reply.createdAt).toHaveProperty("seconds");
    client.close();
  });

  it("answers symbol, file and extension lookups, and NOT_FOUND for unknown ones", async () => {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: server.baseUrl }));
    const ask = async (init: MessageInitShape<typeof ServerReflectionRequestSchema>) => {
      const requests = createAsyncIterable([create(ServerReflectionRequestSchema, init)]);
      for await (const res of client.serverReflectionInfo(requests)) return res;
      throw new Error("no response");
    };
    const bySymbol = await ask({ messageRequest: { case: "fileContainingSymbol", value: "work.v1.CapacityService.GetCapacity" } });
    expect(bySymbol.messageResponse.case).toBe("fileDescriptorResponse");
    if (bySymbol.messageResponse.case === "fileDescriptorResponse") {
      // The file and its imports, transitively: the HTTP annotations and field behaviors (and descriptor.proto under them), timestamp, field_mask.
      const names = bySymbol.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name).sort();
      expect(names).toEqual([
        "google/api/annotations.proto",
        "google/api/field_behavior.proto",
        "google/api/http.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/field_mask.proto",
        "google/protobuf/timestamp.proto",
        "work/v1/capacity.proto",
      ]);
    }
    const byFile = await ask({ messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } });
    expect(byFile.messageResponse.case).toBe("fileDescriptorResponse");
    for (const missing of [
      { case: "fileContainingSymbol", value: "work.v1.Nope" },
      { case: "fileByFilename", value: "nope.proto" },
      { case: "fileContainingExtension", value: { containingType: "work.v1.Capacity", extensionNumber: 100 } },
    ] as const) {
      const res = await ask({ messageRequest: missing });
      expect(res.messageResponse.case).toBe("errorResponse");
      if (res.messageResponse.case === "errorResponse") expect(res.messageResponse.value.errorCode).toBe(Code.NotFound);
    }
    const numbers = await ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "work.v1.Capacity" } });
    expect(numbers.messageResponse.case).toBe("allExtensionNumbersResponse");
  });
});

describe("health", () => {
  it("is SERVING for the server and the API, NOT_FOUND for other services, and the HTTP probes agree", async () => {
    const server = await startTestServer("sqlite");
    try {
      const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
      expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
      expect((await health.check({ service: "work.v1.CapacityService" })).status).toBe(Status.SERVING);
      await expect(health.check({ service: "nope.v1.Nope" })).rejects.toMatchObject({ code: Code.NotFound });
      expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("follows the database away and back (Watch, Check, /readyz) and reports NOT_SERVING while draining", async () => {
    const proxy = await startMysqlProxy();
    const server = await startTestServer("mysql", { databaseUrl: proxy.url });
    server.app.health.stop();
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    const abort = new AbortController();
    const seen: Status[] = [];
    const watching = (async () => {
      try {
        for await (const r of health.watch({ service: "work.v1.CapacityService" }, { signal: abort.signal })) seen.push(r.status);
      } catch (err) {
        if (ConnectError.from(err).code !== Code.Canceled) throw err;
      }
    })();
    const until = async (want: Status[]) => {
      for (let i = 0; i < 100 && seen.join() !== want.join(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen).toEqual(want);
    };
    try {
      await until([Status.SERVING]);
      await proxy.cut();
      await server.app.health.refresh();
      await until([Status.SERVING, Status.NOT_SERVING]);
      expect((await health.check({ service: "" })).status).toBe(Status.NOT_SERVING);
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(503);
      expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
      await proxy.restore();
      await server.app.health.refresh();
      await until([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
      server.app.health.drain();
      await until([Status.SERVING, Status.NOT_SERVING, Status.SERVING, Status.NOT_SERVING]);
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(503);
    } finally {
      abort.abort();
      await watching;
      await server.close();
      await proxy.close();
    }
  });

  it("watching an unknown service says SERVICE_UNKNOWN", async () => {
    const monitor = new HealthMonitor({ ping: async () => {}, services: ["a.v1.A"] });
    const abort = new AbortController();
    const first = await monitor.watch("b.v1.B", abort.signal).next();
    abort.abort();
    expect(first.value).toBe(Status.SERVICE_UNKNOWN);
  });
});
