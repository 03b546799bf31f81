/**
 * Requests that once killed the process, sent to a real server process on
 * every transport, and the last-resort handlers for faults nobody caught.
 * After each request the process must be alive and serving.
 */
import { mkdtempSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { createTestClient, ok } from "../helpers/clients.js";
import { tenant } from "../helpers/ids.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { rawExchange, statusOf } from "../helpers/raw.js";
import { TEST_SECRET } from "../helpers/server.js";
import { throwawayCertificate } from "../helpers/tls.js";

/** Requests that crashed the first version (HTTP/2.0 on an HTTP/1.1 parser, broken percent-escapes), with what they must get now. */
const NAMED_CASES: Array<{ name: string; request: string; status: number; ui?: boolean }> = [
  { name: "GET /healthz HTTP/2.0", request: "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", status: 505 },
  { name: "GET /readyz HTTP/2.0", request: "GET /readyz HTTP/2.0\r\nHost: x\r\n\r\n", status: 505 },
  {
    name: "POST to an RPC path, HTTP/2.0",
    request: "POST /work.v1.CapacityService/GetCapacity HTTP/2.0\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    status: 505,
  },
  { name: "GET /ui/%E0%A4%A", request: "GET /ui/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", status: 400, ui: true },
  { name: "HEAD /ui/%", request: "HEAD /ui/% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", status: 400, ui: true },
  { name: "GET /ui/%00", request: "GET /ui/%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", status: 400, ui: true },
  {
    name: "RPC with a malformed Host",
    request:
      "POST /work.v1.CapacityService/GetCapacity HTTP/1.1\r\nHost: a b\r\ncontent-type: application/json\r\ncontent-length: 2\r\nConnection: close\r\n\r\n{}",
    status: 400,
  },
  {
    name: "RPC over HTTP/1.0 without Host",
    request: "POST /work.v1.CapacityService/GetCapacity HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    status: 400,
  },
];

async function h2Status(url: string, path: string, method = "GET", ca?: Buffer): Promise<number> {
  const session = http2.connect(url, ca ? { ca } : {});
  try {
    return await new Promise<number>((resolve, reject) => {
      session.on("error", reject);
      const stream = session.request({ ":method": method, ":path": path });
      stream.on("response", (h) => resolve(Number(h[":status"])));
      stream.on("error", reject);
      stream.resume();
    });
  } finally {
    session.close();
  }
}

/** One TLS connection with ALPN http/1.1, a raw request on it, and the status line that comes back. */
function tlsHttp1(port: number, ca: Buffer, request: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ port, host: "127.0.0.1", ca, ALPNProtocols: ["http/1.1"] }, () => socket.write(request));
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.on("error", () => resolve(statusOf(text)));
    socket.on("close", () => resolve(statusOf(text)));
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

async function serves(server: ServerProcess, token: string): Promise<void> {
  expect(server.child.exitCode).toBeNull();
  const client = createTestClient("connect-json-http1", server.baseUrl);
  ok(await client.call("listCapacities", { pageSize: 1 }, token));
  client.close();
}

describe.each<{ variant: string; env: Record<string, string> }>([
  { variant: "development, UI on", env: {} },
  { variant: "production, UI off", env: { NODE_ENV: "production", CAPACITY_UI: "off" } },
])("requests that crashed the first version ($variant)", ({ env }) => {
  let server: ServerProcess;
  let token: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-crash-"));
    server = await spawnServer({ CAPACITY_DATA_DIR: dir, CAPACITY_JWT_SECRET: TEST_SECRET, ...env });
    token = await mintToken(TEST_SECRET, { tenantId: tenant(), sub: "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", ttlSeconds: 600 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each(NAMED_CASES)("$name over HTTP/1.1: answered, and the process serves on", async ({ request, status, ui }) => {
    // With the UI off, /ui paths are not found before anything decodes them.
    expect(statusOf((await rawExchange(server.port, request, 5000)).text)).toBe(ui && env.CAPACITY_UI === "off" ? 404 : status);
    await serves(server, token);
  });

  it("broken percent-escapes under /ui over h2c: answered 400 (or 404 with the UI off), and the process serves on", async () => {
    const expected = env.CAPACITY_UI === "off" ? 404 : 400;
    expect(await h2Status(server.baseUrl, "/ui/%E0%A4%A")).toBe(expected);
    expect(await h2Status(server.baseUrl, "/ui/%", "HEAD")).toBe(expected);
    await serves(server, token);
  });

  it("the admin port answers the same requests and serves on", async () => {
    expect(statusOf((await rawExchange(server.adminPort, NAMED_CASES[0]!.request, 5000)).text)).toBe(505);
    expect(statusOf((await rawExchange(server.adminPort, "GET /metrics%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000)).text)).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.adminPort}/healthz`)).status).toBe(200);
  });
});

describe("requests that crashed the first version, over TLS", () => {
  let server: ServerProcess;
  let ca: Buffer;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-crash-tls-"));
    const { cert, key, pem } = throwawayCertificate();
    ca = pem;
    server = await spawnServer({ CAPACITY_DATA_DIR: dir, CAPACITY_JWT_SECRET: TEST_SECRET, CAPACITY_TLS_CERT_FILE: cert, CAPACITY_TLS_KEY_FILE: key });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("answers each named case over TLS with ALPN http/1.1 and h2, and keeps serving", async () => {
    for (const { request } of NAMED_CASES) {
      const status = await tlsHttp1(server.port, ca, request);
      expect(status === undefined || status >= 400).toBe(true);
      expect(server.child.exitCode).toBeNull();
    }
    expect(await h2Status(`https://127.0.0.1:${server.port}`, "/ui/%E0%A4%A", "GET", ca)).toBe(400);
    expect(await h2Status(`https://127.0.0.1:${server.port}`, "/healthz", "GET", ca)).toBe(200);
    expect(server.child.exitCode).toBeNull();
  });
});

describe("faults nobody caught", () => {
  it("logs an unhandled rejection and serves on; an uncaught exception drains through the normal shutdown and exits 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-fatal-"));
    const server = await spawnServer({ CAPACITY_DATA_DIR: dir, CAPACITY_JWT_SECRET: TEST_SECRET }, ["--import", "./test/helpers/fatal-preload.ts"]);
    const token = await mintToken(TEST_SECRET, { tenantId: tenant(), sub: "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", ttlSeconds: 600 });
    const logged = async (msg: string): Promise<Record<string, unknown>> => {
      for (let i = 0; i < 400; i++) {
        const line = server.logs.find((l) => l.msg === msg);
        if (line) return line;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no log line "${msg}"`);
    };
    try {
      server.child.kill("SIGUSR1");
      const rejection = await logged("unhandled promise rejection");
      expect(JSON.stringify(rejection.fault)).toContain("a rejection nobody handles");
      await serves(server, token);

      const exited = new Promise<number | null>((resolve) => server.child.once("exit", (code) => resolve(code)));
      server.child.kill("SIGUSR2");
      expect(await exited).toBe(1);
      expect(JSON.stringify((await logged("uncaught exception: draining and exiting")).fault)).toContain("an exception nobody catches");
      expect(await logged("shutting down: draining in-flight calls")).toMatchObject({ reason: "uncaughtException" });
      await logged("stopped");
    } finally {
      if (server.child.exitCode === null) server.child.kill("SIGKILL");
    }
  });
});
