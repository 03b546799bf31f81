/** What an operator relies on: metrics, quiet logs, deadlines and size limits. */
import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, it } from "vitest";
import { CapacityService } from "../../src/gen/work/v1/capacity_pb.js";
import { countCapacities, createRequest } from "../helpers/capacities.js";
import { createTestClient, ok } from "../helpers/clients.js";
import { capturedLog } from "../helpers/log.js";
import { person, tenant } from "../helpers/ids.js";
import { startTestServer, useTestServer, type TestServer } from "../helpers/server.js";

describe("metrics and logs", () => {
  const logs = capturedLog("debug");
  const suite = useTestServer("mysql", { log: logs.log });
  let server: TestServer;
  beforeAll(() => {
    server = suite.server;
  });

  it("counts calls by service, method and code on the admin port, with latency, in-flight, pool and process metrics", async () => {
    const client = createTestClient("grpc-js", server.baseUrl);
    const token = await server.token(tenant());
    ok(await client.call("listCapacities", {}, token));
    await client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" }, token);
    await client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" }, token);
    client.close();
    const res = await fetch(`http://127.0.0.1:${server.app.adminPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain(
      'grpc_server_handled_total{grpc_type="unary",grpc_service="work.v1.CapacityService",grpc_method="GetCapacity",grpc_code="NotFound"} 2',
    );
    expect(text).toContain('grpc_server_handled_total{grpc_type="unary",grpc_service="work.v1.CapacityService",grpc_method="ListCapacities",grpc_code="OK"} 1');
    expect(text).toContain('grpc_server_started_total{grpc_type="unary",grpc_service="work.v1.CapacityService",grpc_method="GetCapacity"} 2');
    expect(text).toMatch(
      /grpc_server_handling_seconds_bucket\{le="0\.1",grpc_type="unary",grpc_service="work.v1.CapacityService",grpc_method="GetCapacity"\} 2/,
    );
    expect(text).toContain('grpc_server_in_flight{grpc_service="work.v1.CapacityService",grpc_method="GetCapacity"} 0');
    expect(text).toMatch(/capacity_db_pool_connections\{state="max"\} 10/);
    expect(text).toMatch(/capacity_db_query_seconds_count\{operation="select",outcome="ok"\} \d+/);
    expect(text).toContain("process_cpu_user_seconds_total");
    expect((await fetch(`http://127.0.0.1:${server.app.adminPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${server.app.adminPort}/readyz`)).status).toBe(200);
  });

  it("logs one line per call with its facts, and never tokens or notes", async () => {
    const client = createTestClient("connect-json-http1", server.baseUrl);
    const t = tenant();
    const token = await server.token(t, { appId: "crm" });
    const notes = "private remark 7f3a9 about salary";
    ok(await client.call("setCapacity", createRequest({ notes }), token));
    await client.call("setCapacity", { capacity: { personId: "bad", notes } }, token);
    client.close();
    const lines = logs
      .text()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const mine = lines.filter((l) => l.tenant === t);
    expect(mine).toHaveLength(2);
    expect(mine[0]).toMatchObject({ msg: "call", method: "work.v1.CapacityService/SetCapacity", protocol: "connect", code: "OK", tenant: t, app: "crm" });
    expect(mine[0]!.ms).toBeTypeOf("number");
    expect(mine[0]!.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine[0]!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(mine[1]).toMatchObject({ code: "InvalidArgument" });
    expect(logs.text()).not.toContain(token);
    expect(logs.text()).not.toContain(token.split(".")[1]);
    expect(logs.text()).not.toContain("7f3a9");
  });
});

describe("deadlines and limits", () => {
  const suite = useTestServer("mysql", { env: { CAPACITY_MAX_DEADLINE_MS: "800" } });
  let server: TestServer;
  beforeAll(() => {
    server = suite.server;
  });

  /** Holds the person's write lock from another connection, so a write for them has to wait. */
  async function holdPersonLock(t: string, p: string): Promise<() => Promise<void>> {
    const trx = await server.db.knex.transaction();
    await trx("capacity_persons").insert({ tenant_id: t, person_id: p, revision: 1 }).onConflict(["tenant_id", "person_id"]).merge();
    return async () => {
      await trx.rollback();
    };
  }

  it("ends a call past the client's deadline with DEADLINE_EXCEEDED and rolls its transaction back", async () => {
    const t = tenant();
    const p = person();
    const release = await holdPersonLock(t, p);
    const client = createClient(CapacityService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const headers = { authorization: `Bearer ${await server.token(t)}` };
    const deadlineEndsBefore = Number(
      /grpc_server_handled_total\{[^}]*grpc_method="SetCapacity",grpc_code="DeadlineExceeded"\} (\d+)/.exec(
        await (await fetch(`http://127.0.0.1:${server.app.adminPort}/metrics`)).text(),
      )?.[1] ?? 0,
    );
    const started = Date.now();
    const call = client.setCapacity(createRequest({ personId: p }), { headers, timeoutMs: 300 });
    await expect(call).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    // Generous for a loaded machine; without deadlines the call would wait for the lock (10 s cap).
    expect(Date.now() - started).toBeLessThan(3000);
    // Wait for the server to end the call itself (its query timed out and the transaction rolled back:
    // the call is counted only then), and only then free the lock: a write still waiting would commit now.
    const ended = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${server.app.adminPort}/metrics`)).text();
      const m = /grpc_server_handled_total\{[^}]*grpc_method="SetCapacity",grpc_code="DeadlineExceeded"\} (\d+)/.exec(text);
      return m ? Number(m[1]) : 0;
    };
    for (let i = 0; i < 200 && (await ended()) < deadlineEndsBefore + 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await ended()).toBe(deadlineEndsBefore + 1);
    await release();
    expect(await countCapacities(server.db.knex, t)).toBe(0);
  });

  it("caps deadlines: a call without one gets CAPACITY_MAX_DEADLINE_MS", async () => {
    const t = tenant();
    const p = person();
    const release = await holdPersonLock(t, p);
    const client = createTestClient("grpc-js", server.baseUrl);
    const started = Date.now();
    const out = await client.call("setCapacity", createRequest({ personId: p }), await server.token(t));
    const took = Date.now() - started;
    await release();
    client.close();
    expect(out.ok ? "ok" : out.code).toBe(Code.DeadlineExceeded);
    expect(took).toBeGreaterThanOrEqual(700);
    expect(took).toBeLessThan(3000);
    expect(await countCapacities(server.db.knex, t)).toBe(0);
  });

  it("refuses a message over 1 MiB with RESOURCE_EXHAUSTED", async () => {
    for (const kind of ["grpc-connect-node", "connect-json-http1", "grpc-js"] as const) {
      const client = createTestClient(kind, server.baseUrl);
      const out = await client.call("setCapacity", createRequest({ notes: "x".repeat(1_100_000) }), await server.token(tenant()));
      expect(out.ok ? "ok" : out.code).toBe(Code.ResourceExhausted);
    }
  });

  it("does not let refused oversized requests pile up as open streams on a connection", async () => {
    const small = await startTestServer("sqlite", { env: { CAPACITY_READ_MAX_BYTES: "2048", CAPACITY_MAX_CONCURRENT_STREAMS: "5" } });
    try {
      const client = createTestClient("grpc-connect-node", small.baseUrl);
      const token = await small.token(tenant());
      const big = createRequest({ notes: "x".repeat(200_000) });
      for (let i = 0; i < 20; i++) {
        const out = await client.call("setCapacity", big, token);
        expect(out.ok ? "ok" : out.code).toBe(Code.ResourceExhausted);
      }
      // Same connection, still room for streams: a normal call goes through.
      const fine = await client.call("listCapacities", {}, token);
      expect(fine.ok).toBe(true);
    } finally {
      await small.close();
    }
  });

  it("refuses request headers over CAPACITY_MAX_HEADER_BYTES on HTTP/1.1 and HTTP/2 and keeps serving", async () => {
    // A valid call, so that only the header size can make it fail (the control with small padding passes).
    const authorization = `Bearer ${await server.token(tenant())}`;
    const huge = "x".repeat(20_000);
    const h1 = (padding: string) =>
      fetch(`${server.baseUrl}/work.v1.CapacityService/ListCapacities`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization, "x-padding": padding },
        body: "{}",
      });
    expect((await h1("small")).status).toBe(200);
    expect((await h1(huge)).status).toBe(431);
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    const h2 = (padding: string) =>
      new Promise<string>((resolve) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/work.v1.CapacityService/ListCapacities",
          "content-type": "application/json",
          authorization,
          "x-padding": padding,
        });
        stream.on("response", (h) => resolve(`status ${String(h[":status"])}`));
        stream.on("error", (err: Error) => resolve(`error ${err.message}`));
        stream.resume();
        stream.end("{}");
      });
    expect(await h2("small")).toBe("status 200");
    const refused = await h2(huge);
    session.destroy();
    expect(refused).toMatch(/^error /);
    const client = createTestClient("grpc-connect-node", server.baseUrl);
    expect((await client.call("listCapacities", {}, await server.token(tenant()))).ok).toBe(true);
  });
});
