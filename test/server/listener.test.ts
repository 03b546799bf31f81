/**
 * Connection hygiene and refusals on the main and admin ports, with real
 * sockets: first-request timeouts, request bodies that never end, capped
 * Health/Watch streams and connections, and a log line plus a metric for
 * every refusal that happens before the RPC layer.
 */
import http2 from "node:http2";
import net from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturedLog } from "../helpers/log.js";
import { rawExchange, statusOf } from "../helpers/raw.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { tenant } from "../helpers/ids.js";

const FIRST_REQUEST_MS = 800;
const MAX_DEADLINE_MS = 1500;

/** The value of one `capacity_requests_refused_total` series on the admin port. */
async function refused(server: TestServer, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.app.adminPort}/metrics`)).text();
  const m = new RegExp(`capacity_requests_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

/** Waits for `cond` (event-driven code may log a moment after the socket closes). */
async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("connection hygiene", () => {
  let server: TestServer;
  const logs = capturedLog("info");
  beforeAll(async () => {
    server = await startTestServer("sqlite", {
      log: logs.log,
      env: {
        CAPACITY_FIRST_REQUEST_TIMEOUT_MS: String(FIRST_REQUEST_MS),
        CAPACITY_MAX_DEADLINE_MS: String(MAX_DEADLINE_MS),
        CAPACITY_MAX_WATCH_STREAMS: "3",
        CAPACITY_MAX_WATCH_STREAMS_PER_CONNECTION: "2",
      },
    });
  });
  afterAll(async () => server?.close());
  const refusalLines = (reason: string): Array<Record<string, unknown>> => logs.lines().filter((l) => l.msg === "refused" && l.reason === reason);

  it("closes a connection that sends nothing, or half the HTTP/2 preface, or unfinished HTTP/1.1 headers, after the first-request timeout", async () => {
    const before = await refused(server, "first_request_timeout");
    const cases = ["", "PRI * HTTP/2.0\r\n", "GET /healthz HTTP/1.1\r\nHost: x\r\n"];
    const outcomes = await Promise.all(cases.map((payload) => rawExchange(server.app.port, payload, 20_000)));
    for (const o of outcomes) {
      expect(o.closedByServer).toBe(true);
      expect(o.ms).toBeGreaterThanOrEqual(FIRST_REQUEST_MS - 100);
    }
    // Unfinished headers may be answered 408 by Node's own timer: either way the line is cut.
    expect(outcomes[0]!.text).toBe("");
    expect(outcomes[1]!.text).toBe("");
    await until(async () => (await refused(server, "first_request_timeout")) >= before + 2);
    expect(refusalLines("first_request_timeout").length).toBeGreaterThanOrEqual(2);
  });

  it("closes an HTTP/2 session that opens no stream", async () => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    const started = Date.now();
    await new Promise<void>((resolve) => session.once("close", () => resolve()));
    expect(Date.now() - started).toBeGreaterThanOrEqual(FIRST_REQUEST_MS - 100);
    await until(() => refusalLines("first_request_timeout").some((l) => String(l.detail).includes("no stream")));
  });

  it("resets an HTTP/2 stream whose request body does not end by the call's deadline, with or without grpc-timeout", async () => {
    const session = http2.connect(server.baseUrl);
    session.on("error", () => {});
    const open = (headers: Record<string, string>): Promise<{ ms: number; rstCode: number }> =>
      new Promise((resolve) => {
        const started = Date.now();
        const stream = session.request({
          ":method": "POST",
          ":path": "/work.v1.CapacityService/GetCapacity",
          "content-type": "application/grpc",
          te: "trailers",
          ...headers,
        });
        stream.write(Buffer.from([0, 0, 0, 0, 50])); // promises 50 bytes, sends none
        stream.on("error", () => {});
        stream.on("data", () => {});
        stream.on("close", () => resolve({ ms: Date.now() - started, rstCode: stream.rstCode ?? -1 }));
      });
    const [short, none] = await Promise.all([open({ "grpc-timeout": "300m" }), open({})]);
    expect(short.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(none.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(short.ms).toBeGreaterThanOrEqual(300);
    expect(none.ms).toBeGreaterThanOrEqual(MAX_DEADLINE_MS);
    expect(short.ms).toBeLessThan(none.ms);
    // The session itself survives: a probe on it still answers.
    const status = await new Promise<number>((resolve) => {
      const s = session.request({ ":path": "/healthz" });
      s.on("response", (h) => resolve(Number(h[":status"])));
      s.resume();
    });
    expect(status).toBe(200);
    session.close();
    await until(() => refusalLines("body_timeout").length >= 2);
  });

  it("caps Health/Watch streams per connection and per process with RESOURCE_EXHAUSTED", async () => {
    const watch = (session: http2.ClientHttp2Session): Promise<string> =>
      new Promise((resolve) => {
        const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
        stream.on("error", () => resolve("error"));
        stream.on("data", () => resolve("streaming"));
        stream.on("trailers", (t: http2.IncomingHttpHeaders) => resolve(`status ${String(t["grpc-status"])}`));
        stream.on("response", (h) => h["grpc-status"] !== undefined && resolve(`status ${String(h["grpc-status"])}`));
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
    const a = http2.connect(server.baseUrl);
    const b = http2.connect(server.baseUrl);
    const c = http2.connect(server.baseUrl);
    try {
      expect(await watch(a)).toBe("streaming");
      expect(await watch(a)).toBe("streaming");
      expect(await watch(a)).toBe("status 8"); // third on one connection
      expect(await watch(b)).toBe("streaming"); // third in the process
      expect(await watch(c)).toBe("status 8"); // fourth in the process
      a.destroy(); // its two watches end with it
      // Places are given back when streams end.
      await until(async () => (await watch(c)) === "streaming");
    } finally {
      for (const s of [a, b, c]) s.destroy();
    }
  });

  it("logs and counts requests the RPC layer refuses before any interceptor: too large, cut gzip, unparseable, wrong content type", async () => {
    const token = await server.token(tenant());
    const url = `${server.baseUrl}/work.v1.CapacityService/GetCapacity`;
    const post = (body: Buffer | string, headers: Record<string, string>) =>
      fetch(url, { method: "POST", body, headers: { authorization: `Bearer ${token}`, ...headers } });
    const json = { "content-type": "application/json" };
    const cut = gzipSync(JSON.stringify({ id: "cap_01J9Z3V4M5N6P7Q8R9S0T1V2W3" })).subarray(0, 20);
    const before = {
      large: await refused(server, "message_too_large"),
      gzip: await refused(server, "decompression"),
      parse: await refused(server, "parse"),
      type: await refused(server, "unsupported_protocol"),
    };
    const large = await post("a".repeat(1024 * 1024 + 10), json);
    expect(large.status).toBe(429);
    expect(((await large.json()) as { code: string }).code).toBe("resource_exhausted");
    const gz = await post(cut, { ...json, "content-encoding": "gzip" });
    expect(gz.status).toBe(400);
    expect(((await gz.json()) as { code: string }).code).toBe("invalid_argument");
    const bad = await post('{"id":', json);
    expect(bad.status).toBe(400);
    await bad.text();
    const type = await post("x", { "content-type": "text/plain" });
    expect(type.status).toBe(415);
    await type.text();
    await until(async () => (await refused(server, "unsupported_protocol")) === before.type + 1);
    expect(await refused(server, "message_too_large")).toBe(before.large + 1);
    expect(await refused(server, "decompression")).toBe(before.gzip + 1);
    expect(await refused(server, "parse")).toBe(before.parse + 1);
    const line = refusalLines("decompression").at(-1)!;
    expect(line.detail).toBe("/work.v1.CapacityService/GetCapacity: InvalidArgument");
    expect(line.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a cut gzip body INVALID_ARGUMENT over gRPC and gRPC-Web too", async () => {
    const token = await server.token(tenant());
    const message = gzipSync(Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63])).subarray(0, 12);
    const frame = Buffer.concat([Buffer.from([1, 0, 0, 0, message.length]), message]);
    // gRPC-Web over HTTP/1.1: the status is in the trailer frame.
    const web = await fetch(`${server.baseUrl}/work.v1.CapacityService/GetCapacity`, {
      method: "POST",
      body: frame,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/grpc-web+proto", "grpc-encoding": "gzip" },
    });
    const body = Buffer.from(await web.arrayBuffer()).toString("latin1");
    expect(body).toMatch(/grpc-status: ?3\b/);
    // gRPC over HTTP/2.
    const session = http2.connect(server.baseUrl);
    const status = await new Promise<string>((resolve) => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/work.v1.CapacityService/GetCapacity",
        "content-type": "application/grpc",
        "grpc-encoding": "gzip",
        te: "trailers",
        authorization: `Bearer ${token}`,
      });
      stream.on("response", (h) => h["grpc-status"] !== undefined && resolve(String(h["grpc-status"])));
      stream.on("trailers", (t: http2.IncomingHttpHeaders) => resolve(String(t["grpc-status"])));
      stream.resume();
      stream.end(frame);
    });
    session.close();
    expect(status).toBe("3");
  });

  it("answers HTTP/1.1 parse failures 400 or 431 and counts them, on the main and admin ports", async () => {
    const before = await refused(server, "bad_request");
    const conflicting = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
    const huge = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`;
    for (const port of [server.app.port, server.app.adminPort]) {
      expect(statusOf((await rawExchange(port, conflicting, 5000)).text)).toBe(400);
      expect(statusOf((await rawExchange(port, huge, 5000)).text)).toBe(431);
      expect(statusOf((await rawExchange(port, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 5000)).text)).toBe(505);
    }
    await until(async () => (await refused(server, "bad_request")) >= before + 2);
    expect(await refused(server, "header_too_large")).toBeGreaterThanOrEqual(2);
    expect(await refused(server, "unsupported_http_version")).toBeGreaterThanOrEqual(2);
  });
});

describe("connection cap", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { env: { CAPACITY_MAX_CONNECTIONS: "4" } });
  });
  afterAll(async () => server?.close());

  it("closes connections beyond CAPACITY_MAX_CONNECTIONS on arrival, counts them, and serves again once some close", async () => {
    // Hold four connections open, then try a fifth.
    const held = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(server.app.port, "127.0.0.1", () => resolve(s));
            s.on("error", () => {});
          }),
      ),
    );
    const fifth = await rawExchange(server.app.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5000);
    expect(fifth.closedByServer).toBe(true);
    expect(fifth.text).toBe("");
    await until(async () => (await refused(server, "connection_limit")) >= 1);
    for (const s of held) s.destroy();
    await until(async () => statusOf((await rawExchange(server.app.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000)).text) === 200);
  });
});
