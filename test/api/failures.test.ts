/**
 * How calls fail when something is wrong outside the request: bad tokens,
 * a broken schema (driver errors), an unreachable database.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { openDatabase } from "../../src/store/database.js";
import { countCapacities, createRequest as create } from "../helpers/capacities.js";
import { codeOf as code, createTestClient, type Outcome } from "../helpers/clients.js";
import { ENGINES, MYSQL_URL } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { startTestServer, TEST_SECRET, useTestServer, type TestServer } from "../helpers/server.js";
import { capturedLog } from "../helpers/log.js";
import { freePort } from "../helpers/ports.js";
import { startMysqlProxy } from "../helpers/tcp-proxy.js";

describe.each(ENGINES)("on %s", (engine) => {
  describe("tokens", () => {
    const suite = useTestServer(engine);
    let server: TestServer;
    beforeAll(() => {
      server = suite.server;
    });

    it("rejects missing, expired and foreign-signed tokens with UNAUTHENTICATED and writes nothing", async () => {
      const t = tenant();
      const client = createTestClient("grpc-js", server.baseUrl);
      const expired = await mintToken(TEST_SECRET, { tenantId: t, sub: person(), ttlSeconds: -60 });
      const foreign = await mintToken("some-other-secret-some-other-secret-0", { tenantId: t, sub: person() });
      for (const token of [undefined, expired, foreign, "not-a-jwt"]) {
        expect(code(await client.call("setCapacity", create(), token))).toBe(Code.Unauthenticated);
        expect(code(await client.call("listCapacities", {}, token))).toBe(Code.Unauthenticated);
      }
      expect(await countCapacities(server.db.knex, t)).toBe(0);
      client.close();
    });

    it("echoes a sent x-request-id and makes one up otherwise", async () => {
      const token = await server.token(tenant());
      const mine = await fetch(`${server.baseUrl}/work.v1.CapacityService/ListCapacities`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "x-request-id": "trace-abc-123" },
        body: "{}",
      });
      expect(mine.status).toBe(200);
      expect(mine.headers.get("x-request-id")).toBe("trace-abc-123");
      const made = await fetch(`${server.baseUrl}/work.v1.CapacityService/GetCapacity`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: '{"id":"cap_01M8FMTT425T0SWT9WYGC66PKF"}',
      });
      expect(made.status).toBe(404);
      expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  it("turns a driver error into INTERNAL with a correlation id that the log also has, and no SQL text", async () => {
    const captured = capturedLog();
    let databaseUrl: string | undefined;
    let dropDatabase = async (): Promise<void> => {};
    if (engine === "mysql") {
      // A database without our tables: every query fails in the driver.
      const name = `capacity_broken_${randomUUID().slice(0, 8)}`;
      const admin = openDatabase({ url: MYSQL_URL, dataDir: "." });
      await admin.raw(`CREATE DATABASE ${name}`);
      const url = new URL(MYSQL_URL);
      url.pathname = `/${name}`;
      databaseUrl = url.toString();
      dropDatabase = async () => {
        await admin.raw(`DROP DATABASE ${name}`);
        await admin.destroy();
      };
    }
    const server = await startTestServer(engine, { log: captured.log, ...(databaseUrl !== undefined && { databaseUrl }) });
    try {
      if (engine === "sqlite") await server.db.knex.schema.dropTable("capacities");
      const client = createTestClient("connect-json-http1", server.baseUrl);
      const token = await server.token(tenant());
      for (const outcome of [
        await client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" }, token),
        await client.call("setCapacity", create(), token),
        await client.call("listCapacities", { personId: person() }, token),
      ]) {
        expect(outcome.ok).toBe(false);
        if (outcome.ok) continue;
        expect(outcome.code).toBe(Code.Internal);
        expect(outcome.message).toMatch(/^internal error \(correlation id [0-9a-f-]{36}\)$/);
        expect(outcome.message).not.toMatch(/select|insert|capacities|table|sqlite|mysql/i);
        expect(outcome.message).toContain(outcome.requestId);
        const logged = captured.lines().find((l) => l.correlationId === outcome.requestId);
        expect(logged).toMatchObject({ level: 50, code: "Internal" });
      }
      client.close();
      // The HTTP/JSON API: 500 with a google.rpc.Status body that carries the same kind of message, nothing more.
      const rest = await fetch(`${server.baseUrl}/api/v1/work/capacity/cap_01M8FMTT425T0SWT9WYGC66PKF`, { headers: { authorization: `Bearer ${token}` } });
      expect(rest.status).toBe(500);
      const status = (await rest.json()) as { code: number; message: string; details: unknown[] };
      expect(status).toEqual({ code: Code.Internal, message: `internal error (correlation id ${rest.headers.get("x-request-id")!})`, details: [] });
      expect(captured.lines().find((l) => l.correlationId === rest.headers.get("x-request-id"))).toMatchObject({ level: 50, protocol: "rest" });
    } finally {
      await server.close();
      await dropDatabase();
    }
  });
});

describe("MySQL going away", () => {
  it("fails calls fast with UNAVAILABLE while it is gone, and recovers by itself", async () => {
    const proxy = await startMysqlProxy();
    const server = await startTestServer("mysql", { databaseUrl: proxy.url });
    const client = createTestClient("grpc-connect-node", server.baseUrl);
    try {
      const token = await server.token(tenant());
      expect(code(await client.call("setCapacity", create(), token))).toBe("ok");
      await proxy.cut();
      for (const call of [
        () => client.call("getCapacity", { id: "cap_01M8FMTT425T0SWT9WYGC66PKF" }, token),
        () => client.call("setCapacity", create(), token),
        () => client.call("listCapacities", {}, token),
      ] as Array<() => Promise<Outcome<unknown>>>) {
        const started = Date.now();
        expect(code(await call())).toBe(Code.Unavailable);
        // Fails fast (about a second here; docs/operations.md) rather than waiting out the 10 s deadline;
        // the bound is generous for a loaded machine.
        expect(Date.now() - started).toBeLessThan(5000);
      }
      // The HTTP/JSON API says the same as 503 Service Unavailable.
      const rest = await fetch(`${server.baseUrl}/api/v1/work/capacity`, { headers: { authorization: `Bearer ${token}` } });
      expect(rest.status).toBe(503);
      expect(((await rest.json()) as { code: number }).code).toBe(Code.Unavailable);
      await proxy.restore();
      let recovered: Code | "ok" = Code.Unavailable;
      for (let i = 0; i < 50 && recovered !== "ok"; i++) {
        recovered = code(await client.call("setCapacity", create(), token));
        if (recovered !== "ok") await new Promise((r) => setTimeout(r, 100));
      }
      expect(recovered).toBe("ok");
    } finally {
      client.close();
      await server.close();
      await proxy.close();
    }
  });

  it("waits at start-up, saying what for, and starts once the database is there", async () => {
    const proxy = await startMysqlProxy();
    await proxy.cut();
    const captured = capturedLog();
    const adminPort = await freePort();
    const starting = startTestServer("mysql", { databaseUrl: proxy.url, log: captured.log, env: { CAPACITY_ADMIN_PORT: String(adminPort) } });
    // The log names the host, port and database, never the credentials.
    const expected = `waiting for the database: MySQL at 127.0.0.1:${proxy.port}${new URL(MYSQL_URL).pathname}`;
    try {
      await expect.poll(() => captured.lines().some((l) => l.msg === expected)).toBe(true);
      const waiting = captured.lines().find((l) => String(l.msg).startsWith("waiting for the database"));
      expect(waiting).toMatchObject({ level: 40, msg: expected, reason: "ECONNREFUSED" });
      expect(JSON.stringify(captured.lines())).not.toContain("root@");
      // Probes answer meanwhile: alive, not ready.
      expect((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(503);
      await proxy.restore();
      const server = await starting;
      const client = createTestClient("connect-json-http1", server.baseUrl);
      expect(code(await client.call("listCapacities", {}, await server.token(tenant())))).toBe("ok");
      client.close();
      await server.close();
    } finally {
      await proxy.close();
    }
  });
});
