/**
 * The server processes the listener fuzzing aims at: each a real child
 * process on fixed ports (so a crashed one comes back where it was), and the
 * check that says it still serves: alive, /healthz on both ports, an
 * authenticated RPC, and gRPC health on the grpc-js port.
 */
import { mkdtempSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { freePort } from "../helpers/ports.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import type { RawTarget } from "../helpers/raw-socket.js";

export interface FuzzedServer {
  name: string;
  tls: boolean;
  main: RawTarget;
  admin: RawTarget;
  grpc: RawTarget | undefined;
  process: ServerProcess;
  /** stderr and JSON log of every process so far, crashed ones included. */
  output(): string;
  alive(): boolean;
  /** Log entries about errors nobody handled (the process may serve on after one). */
  faults(): Array<Record<string, unknown>>;
  /** It ended on a signal or stopped cleanly: somebody else ended it, it did not crash. */
  endedFromOutside(): boolean;
  /** Kills what is left of the process and starts a new one on the same ports. */
  respawn(): Promise<void>;
  stop(): Promise<void>;
}

export async function startFuzzedServer(
  name: string,
  env: Record<string, string>,
  options: { tls?: { cert: string; key: string }; grpc?: boolean } = {},
): Promise<FuzzedServer> {
  const host = "127.0.0.1";
  const [mainPort, adminPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const fullEnv = {
    ...env,
    CAPACITY_PORT: String(mainPort),
    CAPACITY_ADMIN_PORT: String(adminPort),
    CAPACITY_DATA_DIR: mkdtempSync(join(tmpdir(), "capacity-listener-fuzz-")),
    ...(options.grpc && { CAPACITY_GRPC_PORT: String(grpcPort) }),
    ...(options.tls && { CAPACITY_TLS_CERT_FILE: options.tls.cert, CAPACITY_TLS_KEY_FILE: options.tls.key }),
  };
  const earlier: string[] = [];
  const server: FuzzedServer = {
    name,
    tls: options.tls !== undefined,
    main: { host, port: mainPort },
    admin: { host, port: adminPort },
    grpc: options.grpc ? { host, port: grpcPort } : undefined,
    process: await spawnServer(fullEnv),
    output: () => [...earlier, server.process.stderr(), ...server.process.logs.map((l) => JSON.stringify(l))].join("\n"),
    alive: () => server.process.child.exitCode === null && server.process.child.signalCode === null,
    faults: () => server.process.logs.filter((l) => /uncaught|unhandled/i.test(String(l.msg))),
    endedFromOutside: () => server.process.child.signalCode !== null || server.process.child.exitCode === 0,
    async respawn() {
      earlier.push(server.process.stderr(), ...server.process.logs.map((l) => JSON.stringify(l)));
      await server.process.stop("SIGKILL");
      server.process = await spawnServer(fullEnv);
    },
    async stop() {
      await server.process.stop("SIGKILL");
    },
  };
  return server;
}

/** The first bytes a real TLS client sends (its ClientHello), caught on a local socket. */
export async function captureClientHello(): Promise<Buffer> {
  const catcher = net.createServer();
  await new Promise<void>((resolve) => catcher.listen(0, "127.0.0.1", resolve));
  const hello = new Promise<Buffer>((resolve) =>
    catcher.once("connection", (socket) =>
      socket.once("data", (data: Buffer) => {
        resolve(data);
        socket.destroy();
      }),
    ),
  );
  const client = tls.connect({
    host: "127.0.0.1",
    port: (catcher.address() as net.AddressInfo).port,
    ALPNProtocols: ["h2", "http/1.1"],
    servername: "localhost",
  });
  client.on("error", () => {});
  const bytes = await hello;
  client.destroy();
  catcher.close();
  return bytes;
}

const CHECK_MS = 10_000;

function request(
  server: FuzzedServer,
  target: RawTarget,
  secure: boolean,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const lib = secure ? https : http;
    const req = lib.request(
      { host: target.host, port: target.port, method, path, headers, agent: false, rejectUnauthorized: false, timeout: CHECK_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${server.name}: no answer to ${method} ${path} in ${CHECK_MS} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

function grpcHealth(target: RawTarget): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${target.host}:${target.port}`);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" });
    let status: string | undefined;
    const timer = setTimeout(() => session.destroy(new Error(`no gRPC health answer in ${CHECK_MS} ms`)), CHECK_MS);
    stream.on("response", (h) => (status = h["grpc-status"] as string | undefined));
    stream.on("trailers", (h: http2.IncomingHttpHeaders) => (status = h["grpc-status"] as string | undefined));
    stream.on("data", () => {});
    stream.on("error", reject);
    stream.on("close", () => {
      clearTimeout(timer);
      session.close();
      resolve(status);
    });
    stream.end(Buffer.alloc(5));
  });
}

/** The admin port's Prometheus samples whose name starts with `prefix`, as `name{labels}` → value. */
export async function metricSamples(server: FuzzedServer, prefix: string): Promise<Map<string, number>> {
  const { status, body } = await request(server, server.admin, false, "GET", "/metrics");
  if (status !== 200) throw new Error(`${server.name}: /metrics answered ${status}`);
  const samples = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** What is wrong with the server right now, or undefined when it serves. */
export async function servingProblem(server: FuzzedServer, token: string): Promise<string | undefined> {
  if (!server.alive()) {
    const stopping = server.process.logs.find((l) => l.msg === "shutting down: draining in-flight calls");
    const told = stopping ? `, after ${String(stopping.reason ?? stopping.signal)}` : "";
    return `${server.name}: process exited (code ${server.process.child.exitCode}, signal ${server.process.child.signalCode}${told})`;
  }
  try {
    const health = await request(server, server.main, server.tls, "GET", "/healthz");
    if (health.status !== 200) return `${server.name}: main /healthz answered ${health.status}`;
    const admin = await request(server, server.admin, false, "GET", "/healthz");
    if (admin.status !== 200) return `${server.name}: admin /healthz answered ${admin.status}`;
    const list = await request(
      server,
      server.main,
      server.tls,
      "POST",
      "/work.v1.CapacityService/ListCapacities",
      { "content-type": "application/json", authorization: `Bearer ${token}` },
      '{"pageSize":1}',
    );
    if (list.status !== 200) return `${server.name}: ListCapacities answered ${list.status} ${list.body.slice(0, 200)}`;
    if (server.grpc) {
      const status = await grpcHealth(server.grpc);
      if (status !== "0") return `${server.name}: grpc-js Health/Check grpc-status ${status}`;
    }
  } catch (err) {
    return `${server.name}: ${err instanceof Error ? err.message : String(err)}${server.alive() ? "" : " (process exited)"}`;
  }
  return server.alive() ? undefined : `${server.name}: process exited after answering`;
}
