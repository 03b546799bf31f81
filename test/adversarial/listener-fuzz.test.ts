/**
 * Raw-socket fuzzing of the listeners, not only the RPCs: thousands of
 * hand-written requests, HTTP/2 frames, random bytes and TLS garbage against
 * the main port (plaintext with HTTP/1 and h2c, UI on and off, TLS with
 * ALPN), the admin port and the grpc-js port, each server its own process.
 * A case ends on an answer, a close, or its time running out; the server not
 * answering is not a failure by itself. After every batch the process must
 * be alive and serve a real call; a batch that kills it is bisected down to
 * the case that did, which the failure then shows.
 */
import { writeFileSync } from "node:fs";
import http2 from "node:http2";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { MYSQL_URL } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { http1Status, plainTarget, rawExchange, type RawTarget } from "../helpers/raw-socket.js";
import { TEST_SECRET } from "../helpers/server.js";
import { FIGURES_DIR } from "./figures.js";
import { ADMIN_ROUTES, http1Case, MAIN_ROUTES, type RawCase } from "./listener-cases.js";
import { http2Case, prefaceCase, randomBytesCase, tlsGarbageCase } from "./listener-frames.js";
import { CASE_MS, figures, findings, fuzz, restart, trouble } from "./listener-fuzzer.js";
import { throwawayCertificate } from "../helpers/tls.js";
import { captureClientHello, metricSamples, servingProblem, startFuzzedServer, type FuzzedServer } from "./listener-servers.js";

const SEED = Number(process.env.LISTENER_FUZZ_SEED ?? 20_261_201);
const SCALE = Number(process.env.LISTENER_FUZZ_SCALE ?? 1);
/** Short limits for the connection-level cases (the defaults are 10 s). */
const FIRST_REQUEST_MS = 2000;
const MAX_DEADLINE_MS = 3000;
const WATCHES_PER_CONNECTION = 4;
const started = Date.now();

function sample(arbitrary: fc.Arbitrary<RawCase>, n: number, offset: number): RawCase[] {
  return fc.sample(arbitrary, { seed: SEED + offset, numRuns: Math.round(n * SCALE) });
}

describe(`listener fuzzing (seed ${SEED})`, () => {
  let plain: FuzzedServer;
  let uiOff: FuzzedServer;
  let secure: FuzzedServer;
  let token: string;
  let clientHello: Buffer;

  beforeAll(async () => {
    process.stdout.write(`listener fuzzing: seed ${SEED} (LISTENER_FUZZ_SEED), scale ${SCALE}, case time ${CASE_MS} ms\n`);
    const cert = throwawayCertificate();
    clientHello = await captureClientHello();
    token = await mintToken(TEST_SECRET, { tenantId: tenant("fuzz-listener"), sub: person(), ttlSeconds: 3600 });
    const base = {
      CAPACITY_JWT_SECRET: TEST_SECRET,
      CAPACITY_FIRST_REQUEST_TIMEOUT_MS: String(FIRST_REQUEST_MS),
      CAPACITY_MAX_DEADLINE_MS: String(MAX_DEADLINE_MS),
      CAPACITY_MAX_WATCH_STREAMS_PER_CONNECTION: String(WATCHES_PER_CONNECTION),
    };
    [plain, uiOff, secure] = await Promise.all([
      startFuzzedServer("plaintext on MySQL", { ...base, CAPACITY_DATABASE_URL: MYSQL_URL }, { grpc: true }),
      startFuzzedServer("plaintext, UI off, on SQLite", { ...base, CAPACITY_UI: "off" }),
      startFuzzedServer("TLS on SQLite", base, { tls: cert }),
    ]);
  }, 120_000);

  // Other work on this machine may stop our processes (SIGTERM): count it, start them again, go on.
  beforeEach(async () => {
    for (const server of [plain, uiOff, secure]) {
      if (server.alive()) continue;
      // A crash was already a failure of the test that caused it.
      const why = server.endedFromOutside() ? "was stopped from outside" : "crashed in an earlier test";
      figures.add(`restarts: ${why}`);
      process.stdout.write(`listener fuzzing: ${server.name} ${why}; restarting\n`);
      await restart(server, token);
    }
  }, 120_000);

  afterAll(async () => {
    figures.add("findings (crashes, hangs, unhandled errors, 500s)", findings.length);
    figures.add("seconds", Math.round((Date.now() - started) / 1000));
    figures.save();
    // The reproductions, for a findings note (the failure messages carry the same).
    writeFileSync(
      join(FIGURES_DIR, "listener-fuzz-findings.txt"),
      findings.map((f) => `${f.target}: ${f.problem}\n  ${f.signature}\n  culprit: ${f.culprit}\n`).join("\n"),
    );
    await Promise.all([plain?.stop(), uiOff?.stop(), secure?.stop()]);
  });

  const targets: Array<[string, () => [FuzzedServer, RawTarget, RawCase[]]]> = [
    ["main plaintext HTTP/1", () => [plain, plain.main, sample(http1Case(MAIN_ROUTES, token), 3000, 1)]],
    ["main h2c", () => [plain, plain.main, sample(http2Case(token), 2000, 2)]],
    ["main plaintext random bytes", () => [plain, plain.main, sample(fc.oneof(randomBytesCase, prefaceCase), 600, 3)]],
    [
      "admin HTTP/1",
      () => [
        plain,
        plain.admin,
        sample(
          fc.oneof(
            { weight: 4, arbitrary: http1Case(ADMIN_ROUTES, undefined) },
            { weight: 1, arbitrary: randomBytesCase },
            { weight: 1, arbitrary: prefaceCase },
          ),
          1000,
          4,
        ),
      ],
    ],
    [
      "grpc-js port",
      () => [plain, plain.grpc!, sample(fc.oneof({ weight: 4, arbitrary: http2Case(token) }, { weight: 1, arbitrary: randomBytesCase }), 600, 5)],
    ],
    ["main HTTP/1, UI off", () => [uiOff, uiOff.main, sample(http1Case(MAIN_ROUTES, token), 800, 6)]],
    ["main TLS HTTP/1 (ALPN http/1.1)", () => [secure, { ...secure.main, tls: { alpn: ["http/1.1"] } }, sample(http1Case(MAIN_ROUTES, token), 800, 7)]],
    ["main TLS h2 (ALPN h2)", () => [secure, { ...secure.main, tls: { alpn: ["h2"] } }, sample(http2Case(token), 600, 8)]],
    ["main TLS port, bytes below TLS", () => [secure, plainTarget(secure.main), sample(fc.oneof(tlsGarbageCase(clientHello), randomBytesCase), 600, 9)]],
  ];

  /** A request by hand over HTTP/2 (Node's client sends any :path): the status, or how the stream ended. */
  function h2Request(target: RawTarget, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<{ status: number | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`${target.tls ? "https" : "http"}://${target.host}:${target.port}`, { rejectUnauthorized: false });
      session.on("error", reject);
      const stream = session.request(headers, { endStream: body === undefined });
      const chunks: Buffer[] = [];
      let status: number | undefined;
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", () => {});
      stream.on("close", () => {
        session.close();
        resolve({ status, body: Buffer.concat(chunks).toString() });
      });
      if (body !== undefined) stream.end(body);
    });
  }

  const http2Healthz = "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n";
  /** An answer, and not a server error: 505 (HTTP Version Not Supported) is a fair one for HTTP/2.0 over HTTP/1. */
  const answered = (s: number | undefined): boolean => s !== undefined && (s < 500 || s === 505);
  const http2Rpc = (path: string): string => `POST ${path} HTTP/2.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
  /** Requests that each crashed the process on the first version of the listener. */
  const named: Array<[string, () => [FuzzedServer, RawTarget, string], (status: number | undefined) => boolean]> = [
    ["GET /healthz HTTP/2.0 over plain TCP", () => [plain, plain.main, http2Healthz], answered],
    ["GET /healthz HTTP/2.0 with the UI off", () => [uiOff, uiOff.main, http2Healthz], answered],
    ["GET /healthz HTTP/2.0 over TLS (ALPN http/1.1)", () => [secure, { ...secure.main, tls: { alpn: ["http/1.1"] } }, http2Healthz], answered],
    ["POST GetCapacity HTTP/2.0 over plain TCP", () => [plain, plain.main, http2Rpc("/work.v1.CapacityService/GetCapacity")], answered],
    ["POST ListCapacities HTTP/2.0 with the UI off", () => [uiOff, uiOff.main, http2Rpc("/work.v1.CapacityService/ListCapacities")], answered],
    [
      "POST GetCapacity HTTP/2.0 over TLS (ALPN http/1.1)",
      () => [secure, { ...secure.main, tls: { alpn: ["http/1.1"] } }, http2Rpc("/work.v1.CapacityService/GetCapacity")],
      answered,
    ],
    ["GET /healthz HTTP/2.0 on the admin port", () => [plain, plain.admin, http2Healthz], answered],
    ["GET /ui/%E0%A4%A", () => [plain, plain.main, "GET /ui/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n"], (s) => s === 400 || s === 404],
    ["HEAD /ui/%", () => [plain, plain.main, "HEAD /ui/% HTTP/1.1\r\nHost: x\r\n\r\n"], (s) => s === 400 || s === 404],
    ["GET /ui/% with the UI off", () => [uiOff, uiOff.main, "GET /ui/% HTTP/1.1\r\nHost: x\r\n\r\n"], (s) => s === 400 || s === 404],
    [
      "GET /ui/%E0%A4%A over TLS (ALPN http/1.1)",
      () => [secure, { ...secure.main, tls: { alpn: ["http/1.1"] } }, "GET /ui/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n"],
      (s) => s === 400 || s === 404,
    ],
  ];

  it.each(named)(
    "named case %s: answered without a 500, and the process still serves",
    async (_name, make, acceptable) => {
      const [server, target, request] = make();
      const faultsBefore = server.faults().length;
      const outcome = await rawExchange(target, { chunks: [Buffer.from(request, "latin1")] }, 5000);
      figures.add("named cases sent");
      const problem = await trouble(server, token, faultsBefore);
      if (problem !== undefined) await restart(server, token); // for the cases after this one
      expect(problem).toBeUndefined();
      const status = http1Status(outcome.received);
      expect({ status, acceptable: acceptable(status) }).toEqual({ status, acceptable: true });
    },
    60_000,
  );

  it.each([
    ["HEAD /ui/% over h2c", () => [plain, plain.main] as const],
    ["GET /ui/%E0%A4%A over h2c", () => [plain, plain.main] as const],
    ["HEAD /ui/% over TLS (ALPN h2)", () => [secure, { ...secure.main, tls: { alpn: ["h2"] } }] as const],
  ])(
    "named case %s: 400 or 404, and the process still serves",
    async (name, make) => {
      const [server, target] = make();
      const [method, path] = name.split(" ") as [string, string];
      const faultsBefore = server.faults().length;
      const answer = await h2Request(target, { ":method": method, ":path": path });
      figures.add("named cases sent");
      const problem = await trouble(server, token, faultsBefore);
      if (problem !== undefined) await restart(server, token);
      expect(problem).toBeUndefined();
      expect([400, 404]).toContain(answer.status);
    },
    60_000,
  );

  it.each([
    ["HTTP/1.1", false],
    ["h2c", true],
  ] as const)(
    "a gzip body cut short is INVALID_ARGUMENT over %s",
    async (_name, overHttp2) => {
      const whole = gzipSync(Buffer.from('{"pageSize":1}'));
      const cut = whole.subarray(0, whole.length - 6);
      const headers = { "content-type": "application/json", "content-encoding": "gzip", authorization: `Bearer ${token}` };
      let status: number | undefined;
      let body: string;
      if (overHttp2) {
        ({ status, body } = await h2Request(plain.main, { ":method": "POST", ":path": "/work.v1.CapacityService/ListCapacities", ...headers }, cut));
      } else {
        const head = `POST /work.v1.CapacityService/ListCapacities HTTP/1.1\r\nHost: x\r\n${Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("")}Content-Length: ${cut.length}\r\n\r\n`;
        const outcome = await rawExchange(plain.main, { chunks: [Buffer.from(head), cut] }, 5000);
        status = http1Status(outcome.received);
        body = outcome.received.toString("latin1");
      }
      figures.add("named cases sent");
      expect({ status, code: /"code":"(\w+)"/.exec(body)?.[1] }).toEqual({ status: 400, code: "invalid_argument" });
      expect(await servingProblem(plain, token)).toBeUndefined();
    },
    60_000,
  );

  it.each([
    ["plaintext, nothing sent", () => [plain.main, ""] as const],
    ["plaintext, half the HTTP/2 preface", () => [plain.main, "PRI * HTTP/2.0\r\n"] as const],
    ["plaintext, HTTP/1 headers never finished", () => [plain.main, "GET /healthz HTTP/1.1\r\nHost: x\r\n"] as const],
    ["UI off, nothing sent", () => [uiOff.main, ""] as const],
    ["TLS port, no ClientHello", () => [plainTarget(secure.main), ""] as const],
    ["TLS port, half a ClientHello", () => [plainTarget(secure.main), clientHello.subarray(0, 40)] as const],
    ["TLS handshake done (ALPN h2), nothing after", () => [{ ...secure.main, tls: { alpn: ["h2"] } }, ""] as const],
    ["TLS handshake done (ALPN h2), half the preface", () => [{ ...secure.main, tls: { alpn: ["h2"] } }, "PRI * HTTP/2.0\r\n"] as const],
    ["TLS handshake done (ALPN http/1.1), nothing after", () => [{ ...secure.main, tls: { alpn: ["http/1.1"] } }, ""] as const],
  ])(
    "closes a connection that has no complete first request within the timeout: %s",
    async (_name, make) => {
      const [target, sent] = make();
      const outcome = await rawExchange(
        target,
        { chunks: sent.length === 0 ? [] : [Buffer.from(sent as string | Buffer)], untilClose: true },
        FIRST_REQUEST_MS + 15_000,
      );
      figures.add("idle connections closed by the server", outcome.end === "closed" ? 1 : 0);
      expect(outcome.end).toBe("closed");
      expect(outcome.ms).toBeGreaterThanOrEqual(FIRST_REQUEST_MS - 200);
    },
    60_000,
  );

  /** An HTTP/2 POST whose body is started and never ended: how long until the server ends the stream, and how. */
  function bodyNeverEnds(target: RawTarget, headers: http2.OutgoingHttpHeaders): Promise<{ ms: number; status: number | undefined; rstCode: number }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const session = http2.connect(`http://${target.host}:${target.port}`);
      session.on("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": "/work.v1.CapacityService/ListCapacities",
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${token}`,
        ...headers,
      });
      let status: number | undefined;
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", () => {});
      stream.on("error", () => {});
      stream.on("close", () => {
        session.destroy();
        resolve({ ms: Date.now() - started, status, rstCode: stream.rstCode ?? -1 });
      });
      stream.write(Buffer.from([0, 0, 0, 0, 10, 0x08])); // a message that promises 10 bytes, 1 sent
    });
  }

  it("ends an HTTP/2 request body that never ends, by the call's deadline (grpc-timeout 1S)", async () => {
    const ended = await bodyNeverEnds(plain.main, { "grpc-timeout": "1S" });
    figures.add("HTTP/2 bodies that never end, ended by the server");
    expect(ended.ms).toBeLessThan(1000 + 1000 + 8000);
    expect(await servingProblem(plain, token)).toBeUndefined();
  }, 60_000);

  it("ends an HTTP/2 request body that never ends, by the longest deadline when the call names none", async () => {
    const ended = await bodyNeverEnds(uiOff.main, {});
    figures.add("HTTP/2 bodies that never end, ended by the server");
    expect(ended.ms).toBeGreaterThanOrEqual(MAX_DEADLINE_MS - 200);
    expect(ended.ms).toBeLessThan(MAX_DEADLINE_MS + 1000 + 8000);
    expect(await servingProblem(uiOff, token)).toBeUndefined();
  }, 60_000);

  it(`caps Health/Watch streams per connection (${WATCHES_PER_CONNECTION}) with RESOURCE_EXHAUSTED, and frees the places when the connection goes`, async () => {
    const watch = (session: http2.ClientHttp2Session): Promise<{ status: string | undefined; open: boolean; stream: http2.ClientHttp2Stream }> =>
      new Promise((resolve) => {
        const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
        stream.on("error", () => {});
        // A first message means the watch is open; trailers (or a trailers-only answer) mean it was refused.
        stream.once("data", () => resolve({ status: undefined, open: true, stream }));
        stream.on("response", (h) => h["grpc-status"] !== undefined && resolve({ status: String(h["grpc-status"]), open: false, stream }));
        stream.on("trailers", (h: http2.IncomingHttpHeaders) => resolve({ status: String(h["grpc-status"]), open: false, stream }));
        stream.on("close", () => resolve({ status: undefined, open: false, stream }));
        stream.end(Buffer.alloc(5));
      });
    const session = http2.connect(`http://127.0.0.1:${plain.main.port}`);
    const opened = [];
    for (let i = 0; i < WATCHES_PER_CONNECTION; i++) opened.push(await watch(session));
    expect(opened.map((w) => w.open)).toEqual(Array(WATCHES_PER_CONNECTION).fill(true));
    const refused = await watch(session);
    expect({ open: refused.open, status: refused.status }).toEqual({ open: false, status: "8" });
    figures.add("Health/Watch streams refused over the per-connection cap");
    session.destroy();
    const again = http2.connect(`http://127.0.0.1:${plain.main.port}`);
    const fresh = await watch(again);
    expect(fresh.open).toBe(true);
    again.destroy();
  }, 60_000);

  it.each(targets)(
    "%s: the process survives every batch and still serves",
    async (name, make) => {
      const [server, target, cases] = make();
      const found = await fuzz(name, server, target, cases, token);
      expect(found.map((f) => `${f.problem}\n    ${f.signature}\n    culprit: ${f.culprit}`)).toEqual([]);
    },
    300_000,
  );

  /** The calls still in flight once they have had time to end (by their deadline, at most MAX_DEADLINE_MS, or their body timeout). */
  async function settledInFlight(server: FuzzedServer): Promise<Record<string, number>> {
    const until = Date.now() + MAX_DEADLINE_MS + 15_000;
    for (;;) {
      const inFlight = [...(await metricSamples(server, "grpc_server_in_flight{")).entries()].filter(([, n]) => n !== 0);
      if (inFlight.length === 0 || Date.now() > until) return Object.fromEntries(inFlight);
      await new Promise((resolve) => setTimeout(resolve, 250)); // a gauge has no event to wait for
    }
  }

  const handlerFailures = (server: FuzzedServer): Array<Record<string, unknown>> => server.process.logs.filter((l) => l.msg === "handler failed");

  it("does not log a client's cancelled HTTP/2 call as a handler failure", async () => {
    const before = handlerFailures(plain).length;
    const session = http2.connect(`http://127.0.0.1:${plain.main.port}`);
    session.on("error", () => {});
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/work.v1.CapacityService/ListCapacities",
          "content-type": "application/json",
          authorization: `Bearer ${token}`,
        });
        stream.on("error", () => {});
        stream.end("{}");
        setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), i % 7);
        return new Promise((resolve) => stream.on("close", resolve));
      }),
    );
    session.destroy();
    expect(await settledInFlight(plain)).toEqual({});
    figures.add("HTTP/2 calls cancelled by the client", 50);
    const logged = handlerFailures(plain).slice(before);
    expect(logged.map((l) => (l.fault as { code?: string } | undefined)?.code).slice(0, 3)).toEqual([]);
  }, 60_000);

  it("holds no call in flight once the fuzzing stops, and counted its refusals", async () => {
    for (const server of [plain, uiOff, secure]) {
      expect(await settledInFlight(server)).toEqual({});
      for (const [sample, n] of await metricSamples(server, "capacity_requests_refused_total{")) {
        figures.add(`server-counted refusals: ${/reason="([^"]+)"/.exec(sample)?.[1] ?? sample}`, n);
      }
      figures.add("server log lines: handler failed", handlerFailures(server).length);
    }
  }, 120_000);

  it("wrote no uncaught or unhandled error to stderr or the log", () => {
    for (const server of [plain, uiOff, secure]) {
      const output = server.output();
      expect(output.split("\n").filter((line) => /uncaught|unhandled/i.test(line))).toEqual([]);
      expect(
        output
          .split("\n")
          .filter((line) => /^\s+at .+:\d+:\d+\)?$/.test(line))
          .slice(0, 5),
      ).toEqual([]);
    }
  });
});
