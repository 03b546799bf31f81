/**
 * npm run bench: seeds MySQL, starts the built service and two minimal
 * baselines as their own processes, drives them from outside with h2load (and
 * a Node HTTP/2 generator where bodies must differ), measures the database's
 * own limit in the same run, and writes bench/results/*.json and *.md.
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import mysql from "mysql2/promise";
import { mintToken } from "../src/auth/tokens.js";
import {
  BatchGetPersonAvailabilityRequestSchema,
  CapacityService,
  GetCapacityRequestSchema,
  GetPersonAvailabilityRequestSchema,
  ListCapacitiesRequestSchema,
  SetCapacityRequestSchema,
} from "../src/gen/work/v1/capacity_pb.js";
import { openDatabase } from "../src/store/database.js";
import { cpuSeconds, family, h2load, handled, nodeLoad, rssMiB, startProcess, type LoadResult, type Proc, type Protocol } from "./lib.js";
import { fixedId, seed, type Dataset } from "./seed.js";

const run = promisify(execFile);
const ROOT_URL = process.env.CAPACITY_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 60);
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const SECRET = "bench-secret-bench-secret-bench-secret-00";
const log = (m: string): void => void process.stdout.write(`bench: ${m}\n`);

interface Row extends LoadResult {
  name: string;
  protocol: string;
  server: string;
  errors: number;
  cpuUsPerCall: number | undefined;
}

function dbUrl(name: string): string {
  const url = new URL(ROOT_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function prepare(): Promise<void> {
  try {
    await run("h2load", ["--version"]);
  } catch {
    if (process.getuid?.() !== 0) throw new Error("h2load is missing: apt-get install nghttp2-client");
    log("installing h2load (Debian nghttp2-client)");
    await run("apt-get", ["install", "-y", "-qq", "nghttp2-client"], { timeout: 300_000 });
  }
  log("building (npm run build)");
  await run("npm", ["run", "-s", "build"], { timeout: 600_000 });
  const admin = await mysql.createConnection(ROOT_URL);
  for (const db of ["capacity_bench", "capacity_bench_small"]) await admin.query(`CREATE DATABASE IF NOT EXISTS ${db}`);
  await admin.end();
}

async function seedDatabase(name: string, rows: number): Promise<Dataset> {
  const knex = openDatabase({ url: dbUrl(name), dataDir: "." });
  try {
    return await seed(knex, rows, log);
  } finally {
    await knex.destroy();
  }
}

/** The database's own ceiling: raw mysql2 point selects, 64 in flight. */
async function databaseLimit(data: Dataset): Promise<Row> {
  const pool = mysql.createPool({ uri: dbUrl("capacity_bench"), connectionLimit: 64, dateStrings: true });
  const latencies: number[] = [];
  const warmUntil = performance.now() + 2000;
  const stopAt = warmUntil + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < stopAt) {
        const started = performance.now();
        await pool.query("SELECT * FROM capacities WHERE tenant_id = ? AND id = ?", [data.tenants[0], data.getId]);
        if (started >= warmUntil) latencies.push(performance.now() - started);
      }
    }),
  );
  await pool.end();
  latencies.sort((a, b) => a - b);
  const at = (p: number): number => latencies[Math.floor((p / 100) * latencies.length)]!;
  return {
    name: "database limit: mysql2 point select",
    protocol: "mysql",
    server: "-",
    calls: latencies.length,
    failed: 0,
    errors: 0,
    seconds: SECONDS,
    callsPerSecond: latencies.length / SECONDS,
    p50Ms: at(50),
    p99Ms: at(99),
    cpuUsPerCall: undefined,
  };
}

/** Runs one load against a process, reading its CPU around it and its success count. */
async function measure(
  name: string,
  protocol: Protocol | "grpc (node)" | "connect (node)",
  proc: Proc,
  serverName: string,
  method: string | undefined,
  load: () => Promise<LoadResult>,
): Promise<Row> {
  const before = method && proc.adminPort ? await handled(proc.adminPort, method) : undefined;
  const pids = family(proc.pid);
  const cpu = (): number => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpu0 = cpu();
  const result = await load();
  const cpu1 = cpu();
  let errors = result.failed;
  let served = result.calls;
  if (before && method && proc.adminPort) {
    const after = await handled(proc.adminPort, method);
    // Every call counted must be a real success on the server (gRPC status 0), not just HTTP 200.
    errors += after.other - before.other;
    served = after.ok + after.other - before.ok - before.other;
    if (after.ok - before.ok < result.calls - result.failed) errors += result.calls - result.failed - (after.ok - before.ok);
  }
  const row: Row = { ...result, name, protocol, server: serverName, errors, cpuUsPerCall: served > 0 ? ((cpu1 - cpu0) * 1e6) / served : undefined };
  log(
    `${name} [${protocol}]: ${row.callsPerSecond.toFixed(0)}/s p50 ${row.p50Ms.toFixed(2)} ms p99 ${row.p99Ms.toFixed(2)} ms errors ${row.errors} cpu ${row.cpuUsPerCall?.toFixed(0) ?? "-"} µs/call`,
  );
  return row;
}

async function baseline(file: string, protocol: Protocol, data: Dataset): Promise<Row> {
  const proc = await startProcess(["--import", "tsx", file], { BENCH_MYSQL_URL: dbUrl("capacity_bench"), BENCH_TENANT: data.tenants[0]! });
  const message = toBinary(GetCapacityRequestSchema, create(GetCapacityRequestSchema, { id: data.getId }));
  const row = await measure(
    `baseline ${file.includes("grpc-js") ? "grpc-js" : "connect-node"} + mysql2: Get (no auth)`,
    protocol,
    proc,
    "baseline",
    undefined,
    () => h2load(`http://127.0.0.1:${proc.port}/work.v1.CapacityService/GetCapacity`, protocol, message, undefined, SECONDS),
  );
  const counted = new Promise<number>((resolve) => {
    proc.child.stdout!.on("data", (chunk: Buffer) => {
      const match = /"ok":(\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
  });
  await proc.stop();
  const ok = await Promise.race([counted, new Promise<number>((r) => setTimeout(() => r(-1), 2000))]);
  if (ok >= 0 && ok < row.calls - row.failed) row.errors += row.calls - row.failed - ok;
  return row;
}

/** Worker processes of the service under test (CAPACITY_WORKERS); both cores by default. */
const WORKERS = process.env.BENCH_WORKERS ?? "2";

async function startService(database: string): Promise<Proc> {
  return startProcess(["dist/src/main.js"], {
    NODE_ENV: "production",
    // The heap ceiling recommended in docs/operations.md (keeps each process under 200 MB RSS).
    NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? "--max-old-space-size=160",
    CAPACITY_WORKERS: WORKERS,
    CAPACITY_GRPC_PORT: "0",
    CAPACITY_HOST: "127.0.0.1",
    CAPACITY_PORT: "0",
    CAPACITY_ADMIN_PORT: "0",
    CAPACITY_DATABASE_URL: dbUrl(database),
    CAPACITY_JWT_SECRET: SECRET,
    CAPACITY_LOG_LEVEL: "info",
    CAPACITY_UI: "off",
    // One token drives thousands of calls/s here: limits far above that keep the limiter's cost in every
    // figure without ever refusing (the defaults, 2,000 calls/s per tenant and process, would).
    CAPACITY_RATE_TENANT_CALLS_PER_S: "1000000",
    CAPACITY_RATE_TENANT_WRITES_PER_S: "1000000",
    CAPACITY_RATE_APP_CALLS_PER_S: "1000000",
    CAPACITY_RATE_APP_WRITES_PER_S: "1000000",
  });
}

function markdown(rows: Row[], limit: number, targets: Array<[string, string, boolean]>, memory: string[]): string {
  const fmt = (n: number | undefined, d = 0): string => (n === undefined || Number.isNaN(n) ? "-" : n.toFixed(d));
  return [
    `# Benchmark ${new Date().toISOString()}`,
    "",
    `${ROWS.toLocaleString()} capacities over 50 tenants; ${SECONDS} s per case after 2 s warm-up; 64 streams over 4 connections unless noted; ` +
      `service with ${WORKERS} worker(s), gRPC on the grpc-js engine, Connect on connect-node, auth, validation, logging and metrics on.`,
    "",
    "| case | protocol | calls/s | × DB limit | p50 ms | p99 ms | errors | server CPU µs/call |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.protocol} | ${fmt(r.callsPerSecond)} | ${fmt(r.callsPerSecond / limit, 2)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.errors} | ${fmt(r.cpuUsPerCall)} |`,
    ),
    "",
    "| target | measured | met |",
    "|---|---|---|",
    ...targets.map(([t, m, ok]) => `| ${t} | ${m} | ${ok ? "yes" : "**no**"} |`),
    "",
    ...memory,
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  await prepare();
  const data = await seedDatabase("capacity_bench", ROWS);
  const small = await seedDatabase("capacity_bench_small", 10_000);
  const rows: Row[] = [];

  const limit = await databaseLimit(data);
  rows.push(limit);
  log(`database limit: ${limit.callsPerSecond.toFixed(0)} selects/s`);
  const grpcJs = await baseline("bench/baselines/grpc-js-mysql.ts", "grpc", data);
  const connectNode = await baseline("bench/baselines/connect-node-mysql.ts", "connect", data);
  rows.push(grpcJs, connectNode);

  const service = await startService("capacity_bench");
  // Largest RSS of any one process (primary or worker), sampled each second.
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(Math.max(...family(service.pid).map(rssMiB))), 1000);
  const t0 = data.tenants[0]!;
  const token0 = await mintToken(SECRET, { tenantId: t0, sub: fixedId("per", "bench-caller"), ttlSeconds: 3600 });
  // gRPC calls go to the grpc-js engine (CAPACITY_GRPC_PORT), Connect to the main port.
  const grpcPort = Number(service.lines.find((l) => l.msg === "capacity listening")?.grpcPort);
  const url = (method: string, protocol: Protocol = "grpc"): string =>
    `http://127.0.0.1:${protocol === "grpc" ? grpcPort : service.port}/work.v1.CapacityService/${method}`;
  const both: Protocol[] = ["grpc", "connect"];

  const get = toBinary(GetCapacityRequestSchema, create(GetCapacityRequestSchema, { id: data.getId }));
  const results: Record<string, Row> = {};
  for (const protocol of both) {
    results[`get-${protocol}`] = await measure("GetCapacity", protocol, service, "service", "GetCapacity", () =>
      h2load(url("GetCapacity", protocol), protocol, get, token0, SECONDS),
    );
  }
  results["get-grpc-connect-node"] = await measure("GetCapacity, gRPC on the main port (connect-node)", "grpc", service, "service", "GetCapacity", () =>
    h2load(`http://127.0.0.1:${service.port}/work.v1.CapacityService/GetCapacity`, "grpc", get, token0, SECONDS),
  );
  const list = toBinary(ListCapacitiesRequestSchema, create(ListCapacitiesRequestSchema, { personId: data.listPerson, pageSize: 100 }));
  for (const protocol of both) {
    results[`list-${protocol}`] = await measure("ListCapacities, person filter, page of 100", protocol, service, "service", "ListCapacities", () =>
      h2load(url("ListCapacities", protocol), protocol, list, token0, SECONDS),
    );
  }
  // Deep paging: walk to page 1,000 of 100 through the API, then load that page.
  const api = createClient(CapacityService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
  let pageToken = "";
  for (let page = 1; page < 1000; page++) {
    pageToken = (await api.listCapacities({ pageSize: 100, pageToken }, { headers: { authorization: `Bearer ${token0}` } })).nextPageToken;
  }
  const page1 = toBinary(ListCapacitiesRequestSchema, create(ListCapacitiesRequestSchema, { pageSize: 100 }));
  const page1000 = toBinary(ListCapacitiesRequestSchema, create(ListCapacitiesRequestSchema, { pageSize: 100, pageToken }));
  results["list-page1"] = await measure("ListCapacities, whole tenant, page 1", "grpc", service, "service", "ListCapacities", () =>
    h2load(url("ListCapacities"), "grpc", page1, token0, SECONDS),
  );
  results["list-page1000"] = await measure("ListCapacities, whole tenant, page 1,000", "grpc", service, "service", "ListCapacities", () =>
    h2load(url("ListCapacities"), "grpc", page1000, token0, SECONDS),
  );

  // Writes spread over 2,000 people (creates) and 2,000 existing records (updates) of one tenant.
  const t3 = data.tenants[3]!;
  const token3 = await mintToken(SECRET, { tenantId: t3, sub: fixedId("per", "bench-writer"), ttlSeconds: 3600 });
  const creates = Array.from({ length: 2000 }, (_, i) =>
    toBinary(
      SetCapacityRequestSchema,
      create(SetCapacityRequestSchema, {
        capacity: {
          personId: fixedId("per", `writer-${i}`),
          projectId: fixedId("prj", "bench"),
          periodStart: "2027-03-01",
          periodEnd: "2027-03-31",
          allocatedPct: 20,
        },
      }),
    ),
  );
  const knex = openDatabase({ url: dbUrl("capacity_bench"), dataDir: "." });
  const ids = (await knex("capacities").where({ tenant_id: t3 }).limit(2000).pluck("id")) as string[];
  await knex.destroy();
  const updates = ids.map((id, i) =>
    toBinary(SetCapacityRequestSchema, create(SetCapacityRequestSchema, { capacity: { id, notes: `bench ${i}` }, updateMask: { paths: ["notes"] } })),
  );
  for (const protocol of both) {
    const base = `http://127.0.0.1:${protocol === "grpc" ? grpcPort : service.port}`;
    results[`create-${protocol}`] = await measure("SetCapacity create", `${protocol} (node)`, service, "service", "SetCapacity", () =>
      nodeLoad(base, protocol, "/work.v1.CapacityService/SetCapacity", creates, token3, SECONDS),
    );
    results[`update-${protocol}`] = await measure("SetCapacity update", `${protocol} (node)`, service, "service", "SetCapacity", () =>
      nodeLoad(base, protocol, "/work.v1.CapacityService/SetCapacity", updates, token3, SECONDS),
    );
  }

  const token2 = await mintToken(SECRET, { tenantId: data.tenants[2]!, sub: fixedId("per", "bench-caller"), ttlSeconds: 3600 });
  const token1 = await mintToken(SECRET, { tenantId: data.tenants[1]!, sub: fixedId("per", "bench-caller"), ttlSeconds: 3600 });
  const one = toBinary(
    GetPersonAvailabilityRequestSchema,
    create(GetPersonAvailabilityRequestSchema, { personId: data.busyPerson, periodStart: "2026-01-01", periodEnd: "2028-12-31" }),
  );
  const batch = toBinary(
    BatchGetPersonAvailabilityRequestSchema,
    create(BatchGetPersonAvailabilityRequestSchema, {
      personIds: data.batchPersons,
      periodStart: "2027-01-01",
      periodEnd: "2027-03-31",
      minAvailablePct: 50,
    }),
  );
  // Latency targets: one call at a time; throughput at 64 in flight.
  const single = { connections: 1, streams: 1 };
  for (const protocol of both) {
    results[`avail-${protocol}`] = await measure(
      "GetPersonAvailability, 1,000 allocations, 3 years, 1 in flight",
      protocol,
      service,
      "service",
      "GetPersonAvailability",
      () => h2load(url("GetPersonAvailability", protocol), protocol, one, token2, SECONDS, single),
    );
  }
  results["avail-64"] = await measure("GetPersonAvailability, 1,000 allocations, 64 in flight", "grpc", service, "service", "GetPersonAvailability", () =>
    h2load(url("GetPersonAvailability"), "grpc", one, token2, SECONDS),
  );
  results["batch-grpc"] = await measure("BatchGetPersonAvailability, 500 people, 1 in flight", "grpc", service, "service", "BatchGetPersonAvailability", () =>
    h2load(url("BatchGetPersonAvailability"), "grpc", batch, token1, SECONDS, single),
  );
  results["batch-64"] = await measure("BatchGetPersonAvailability, 500 people, 64 in flight", "grpc", service, "service", "BatchGetPersonAvailability", () =>
    h2load(url("BatchGetPersonAvailability"), "grpc", batch, token1, SECONDS),
  );

  // Memory over a steady 60 s of Gets.
  const soakStart = rss.length;
  results["soak"] = await measure(`GetCapacity, ${SOAK_SECONDS} s soak`, "grpc", service, "service", "GetCapacity", () =>
    h2load(url("GetCapacity"), "grpc", get, token0, SOAK_SECONDS),
  );
  const soak = rss.slice(soakStart);
  clearInterval(sampler);
  await service.stop();

  const smallService = await startService("capacity_bench_small");
  const smallGet = toBinary(GetCapacityRequestSchema, create(GetCapacityRequestSchema, { id: small.getId }));
  const smallGrpc = Number(smallService.lines.find((l) => l.msg === "capacity listening")?.grpcPort);
  results["get-small"] = await measure("GetCapacity, 10,000-row database", "grpc", smallService, "service", "GetCapacity", () =>
    h2load(`http://127.0.0.1:${smallGrpc}/work.v1.CapacityService/GetCapacity`, "grpc", smallGet, token0, SECONDS),
  );
  await smallService.stop();
  rows.push(...Object.values(results));

  const r = (k: string): Row => results[k]!;
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
  const third = Math.max(1, Math.floor(soak.length / 3));
  const early = soak.slice(0, third).reduce((a, b) => a + b, 0) / third;
  const late = soak.slice(-third).reduce((a, b) => a + b, 0) / third;
  const peak = Math.max(...rss);
  const targets: Array<[string, string, boolean]> = [
    [
      "Get over gRPC ≥ 1.3× grpc-js + mysql2 baseline",
      ratio(r("get-grpc").callsPerSecond, grpcJs.callsPerSecond),
      r("get-grpc").callsPerSecond >= 1.3 * grpcJs.callsPerSecond,
    ],
    [
      "Get over gRPC ≥ 0.5× database limit",
      ratio(r("get-grpc").callsPerSecond, limit.callsPerSecond),
      r("get-grpc").callsPerSecond >= 0.5 * limit.callsPerSecond,
    ],
    [
      "Get over Connect ≥ 1.0× connect-node + mysql2 baseline",
      ratio(r("get-connect").callsPerSecond, connectNode.callsPerSecond),
      r("get-connect").callsPerSecond >= connectNode.callsPerSecond,
    ],
    ["Get p99 ≤ 40 ms", `${r("get-grpc").p99Ms.toFixed(1)} ms`, r("get-grpc").p99Ms <= 40],
    ["List page of 100 p99 ≤ 80 ms", `${r("list-grpc").p99Ms.toFixed(1)} ms`, r("list-grpc").p99Ms <= 80],
    ["List page 1,000 p50 ≤ 1.5× page 1", ratio(r("list-page1000").p50Ms, r("list-page1").p50Ms), r("list-page1000").p50Ms <= 1.5 * r("list-page1").p50Ms],
    ["Get p50 at 1,000,000 rows ≤ 1.5× at 10,000 rows", ratio(r("get-grpc").p50Ms, r("get-small").p50Ms), r("get-grpc").p50Ms <= 1.5 * r("get-small").p50Ms],
    ["Availability, one person (1,000 allocations) p50 < 20 ms", `${r("avail-grpc").p50Ms.toFixed(1)} ms`, r("avail-grpc").p50Ms < 20],
    ["Availability, batch of 500 p50 < 200 ms", `${r("batch-grpc").p50Ms.toFixed(1)} ms`, r("batch-grpc").p50Ms < 200],
    ["Server RSS ≤ 200 MB per process during the run", `${peak.toFixed(0)} MiB peak`, peak <= 200],
    [`RSS flat over the ${SOAK_SECONDS} s soak (last third ≤ 1.1× first third)`, `${early.toFixed(0)} → ${late.toFixed(0)} MiB`, late <= early * 1.1],
    ["No errors in any case", `${rows.reduce((a, x) => a + x.errors, 0)}`, rows.every((x) => x.errors === 0)],
  ];
  const memory = [`Service RSS: peak ${peak.toFixed(0)} MiB; soak first third ${early.toFixed(0)} MiB, last third ${late.toFixed(0)} MiB.`];
  mkdirSync("bench/results", { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const md = markdown(rows, limit.callsPerSecond, targets, memory);
  writeFileSync(`bench/results/${stamp}.json`, JSON.stringify({ rows, targets, rss, soak, seconds: SECONDS, dataset: ROWS }, null, 2));
  writeFileSync(`bench/results/${stamp}.md`, md);
  writeFileSync("bench/results/latest.md", md);
  process.stdout.write(`\n${md}\n`);
  log(`results in bench/results/${stamp}.{json,md}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
