/** Process control, CPU and memory readings, and the h2load and Node load generators for the benchmark. */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { createInterface } from "node:readline";
import { promisify } from "node:util";

const run = promisify(execFile);
const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

export interface Proc {
  child: ChildProcess;
  pid: number;
  port: number;
  adminPort: number | undefined;
  /** Stdout JSON lines after "ready". */
  lines: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts a process and waits for its JSON "ready"/"capacity listening" line, which names its port. */
export async function startProcess(args: string[], env: Record<string, string>): Promise<Proc> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const lines: Array<Record<string, unknown>> = [];
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(entry);
      if (entry.msg === "ready" || entry.msg === "capacity listening") resolve(entry);
    });
    void exited.then(() => reject(new Error(`${args.join(" ")} exited before it was ready`)));
  });
  return {
    child,
    pid: child.pid!,
    port: Number(ready.port),
    adminPort: ready.adminPort === undefined ? undefined : Number(ready.adminPort),
    lines,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A process and its children (cluster workers). */
export function family(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  return [pid, ...children.flatMap((c) => family(c))];
}

/** User + system CPU seconds of a process so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Resident memory in MiB. */
export function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : 0;
}

export interface LoadResult {
  /** Calls counted in the measured period. */
  calls: number;
  /** Calls the generator saw fail (HTTP status, or gRPC status where it can see it). */
  failed: number;
  seconds: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** A run's figures from its sorted latencies (ms). */
function loadResult(sorted: number[], failed: number, seconds: number): LoadResult {
  return {
    calls: sorted.length,
    failed,
    seconds,
    callsPerSecond: sorted.length / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export type Protocol = "grpc" | "connect";

/** The request body and headers of one unary call in a protocol (binary). */
export function framing(protocol: Protocol, message: Uint8Array): { body: Buffer; headers: Record<string, string> } {
  if (protocol === "connect") {
    return { body: Buffer.from(message), headers: { "content-type": "application/proto", "connect-protocol-version": "1" } };
  }
  const body = Buffer.alloc(5 + message.length);
  body.writeUInt32BE(message.length, 1);
  body.set(message, 5);
  return { body, headers: { "content-type": "application/grpc", te: "trailers" } };
}

/**
 * h2load: 64 streams over 4 connections, a warm-up, then `seconds` of load
 * with one fixed request. Latencies come from its per-request log. It sees
 * HTTP statuses only, so callers also count successes on the server.
 */
export async function h2load(
  url: string,
  protocol: Protocol,
  message: Uint8Array,
  token: string | undefined,
  seconds: number,
  /** Connections × streams per connection (default 4 × 16 = 64 in flight). */
  load: { connections: number; streams: number } = { connections: 4, streams: 16 },
): Promise<LoadResult> {
  const { body, headers } = framing(protocol, message);
  const bodyFile = `/tmp/capacity-bench-body-${process.pid}.bin`;
  const logFile = `/tmp/capacity-bench-log-${process.pid}.tsv`;
  writeFileSync(bodyFile, body);
  writeFileSync(logFile, "");
  const args = [
    "-c",
    String(load.connections),
    "-m",
    String(load.streams),
    "-D",
    String(seconds),
    "--warm-up-time",
    "2",
    "-d",
    bodyFile,
    `--log-file=${logFile}`,
  ];
  for (const [k, v] of Object.entries({ ...headers, ...(token && { authorization: `Bearer ${token}` }) })) args.push("-H", `${k}: ${v}`);
  args.push(url);
  const { stdout } = await run("h2load", args, { maxBuffer: 10 * 1024 * 1024, timeout: (seconds + 30) * 1000 });
  const all = readFileSync(logFile, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split("\t"));
  // Status 0: still in flight when the run ended (not counted as failures).
  const rows = all.filter((r) => r[1] !== "0");
  const failed = rows.filter((r) => r[1] !== "200").length;
  const latencies = rows.map((r) => Number(r[2]) / 1000).sort((a, b) => a - b);
  const done = /requests: \d+ total, \d+ started, (\d+) done/.exec(stdout);
  if (!done) throw new Error(`h2load output not understood:\n${stdout}`);
  return loadResult(latencies, failed, seconds);
}

/**
 * A Node load generator on real HTTP/2 connections, for calls whose bodies
 * must differ (writes spread over many people and records): 4 connections ×
 * 16 streams, checking each call's status (gRPC status 0, or Connect 200).
 */
export async function nodeLoad(baseUrl: string, protocol: Protocol, path: string, messages: Uint8Array[], token: string, seconds: number): Promise<LoadResult> {
  const sessions = Array.from({ length: 4 }, () => http2.connect(baseUrl));
  const framed = messages.map((m) => framing(protocol, m));
  const bodies = framed.map((f) => f.body);
  const headers = framed[0]!.headers;
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const call = (session: http2.ClientHttp2Session): Promise<boolean> =>
    new Promise((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": path, ...headers, authorization: `Bearer ${token}` });
      let status: string | undefined;
      stream.on("response", (h) => {
        // Connect: HTTP 200 is success. gRPC: grpc-status (trailers, or headers for trailers-only).
        if (protocol === "connect") status = h[":status"] === 200 ? "0" : String(h[":status"]);
        else if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      });
      stream.on("trailers", (t: http2.IncomingHttpHeaders) => {
        status = String(t["grpc-status"]);
      });
      stream.on("data", () => {});
      stream.on("close", () => resolve(status === "0"));
      stream.on("error", () => resolve(false));
      stream.end(bodies[next++ % bodies.length]);
    });
  const warmUntil = performance.now() + 2000;
  const stopAt = warmUntil + seconds * 1000;
  await Promise.all(
    Array.from({ length: 64 }, async (_, i) => {
      const session = sessions[i % 4]!;
      while (performance.now() < stopAt) {
        const started = performance.now();
        const ok = await call(session);
        if (started < warmUntil) continue;
        latencies.push(performance.now() - started);
        if (!ok) failed++;
      }
    }),
  );
  sessions.forEach((s) => s.close());
  latencies.sort((a, b) => a - b);
  return loadResult(latencies, failed, seconds);
}

/** Calls handled by the service, by gRPC code, for one method (from its /metrics). */
export async function handled(adminPort: number, method: string): Promise<{ ok: number; other: number }> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  let ok = 0;
  let other = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("grpc_server_handled_total{") || !line.includes(`grpc_method="${method}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.includes('grpc_code="OK"')) ok += value;
    else other += value;
  }
  return { ok, other };
}
