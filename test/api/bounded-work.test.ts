/**
 * Bounded work under the production heap ceiling (issue 10, point 3): a real
 * server process with --max-old-space-size=160 on MariaDB, a person with
 * 8,000 allocations over three years (and two more like them), single and
 * 500-person batch availability with and without capacity ids, four calls at
 * once, 3 s deadlines, over gRPC and Connect JSON. Meanwhile another tenant
 * reads one capacity in a loop. The process must live, every call must end
 * within its deadline (OK, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED), and the
 * other tenant is never stalled (its p99 is recorded; the 100 ms target is a
 * figure of the run, not an assertion on a shared machine). Prints the figures and writes
 * them to test-results/bounded-work.json (docs/reliability.md quotes a run).
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { toBinary, toJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { BatchGetPersonAvailabilityResponseSchema, CapacityService, PersonAvailabilitySchema } from "../../src/gen/work/v1/capacity_pb.js";
import { insertCapacities, type Fixture } from "../helpers/capacities.js";
import { MYSQL_URL, testDatabase, type TestDatabase } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { TEST_SECRET } from "../helpers/server.js";

const DEADLINE_MS = 3000;
/** Generous: the client's own deadline timer, the network and a loaded 2-core machine. */
const SLACK_MS = 1500;
const WINDOW = { periodStart: "2027-01-01", periodEnd: "2029-12-31" };
const HEAVY_ALLOCATIONS = 8000;

/** Deterministic randomness, so every run seeds the same shapes. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const day = (n: number): string => new Date(Date.UTC(2027, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);

/** Long, overlapping allocations like the ones one token wrote in 10 s: thousands active on every day. */
function heavy(tenantId: string, personId: string, random: () => number): Fixture[] {
  return Array.from({ length: HEAVY_ALLOCATIONS }, () => {
    const start = Math.floor(random() * 1096);
    return { tenantId, personId, periodStart: day(start), periodEnd: day(Math.min(1095, start + Math.floor(random() * 1096))), allocatedBp: 100 };
  });
}

/** An ordinary person: 20 allocations of 5–60 days (bench/seed.ts's batch tenant). */
function ordinary(tenantId: string, personId: string, random: () => number): Fixture[] {
  return Array.from({ length: 20 }, () => {
    const start = Math.floor(random() * 1036);
    return {
      tenantId,
      personId,
      periodStart: day(start),
      periodEnd: day(start + 5 + Math.floor(random() * 55)),
      allocatedBp: 500 * (1 + Math.floor(random() * 8)),
    };
  });
}

interface Outcome {
  round: string;
  protocol: string;
  code: string;
  ms: number;
  /** Encoded size of an answer in the protocol's encoding. */
  bytes: number;
}

/** The admin port's Prometheus metrics without labels, by name. */
async function scrape(adminPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z0-9_]+) ([0-9.e+-]+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/** Peak and current resident memory of a process, in MB. */
function rss(pid: number): { peakMb: number; nowMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { peakMb: Math.round(kb("VmHWM") / 1024), nowMb: Math.round(kb("VmRSS") / 1024) };
}

describe("bounded work under the production heap ceiling (MariaDB)", () => {
  let server: ServerProcess;
  let db: TestDatabase;
  const heavyTenant = tenant("heavy");
  const otherTenant = tenant("other");
  const heavyPeople = [person(), person(), person()];
  const batchPeople: string[] = [];
  let otherId = "";

  beforeAll(async () => {
    db = testDatabase("mysql");
    const random = rng(10);
    const fixtures: Fixture[] = heavyPeople.flatMap((p) => heavy(heavyTenant, p, random));
    for (let i = 0; i < 497; i++) {
      const p = person();
      batchPeople.push(p);
      fixtures.push(...ordinary(heavyTenant, p, random));
    }
    batchPeople.splice(100, 0, heavyPeople[0]!);
    batchPeople.splice(300, 0, heavyPeople[1]!);
    batchPeople.splice(450, 0, heavyPeople[2]!);
    await insertCapacities(db.knex, fixtures);
    otherId = (
      await insertCapacities(db.knex, [{ tenantId: otherTenant, personId: person(), periodStart: "2027-01-01", periodEnd: "2027-12-31", allocatedBp: 5000 }])
    )[0]!;
    server = await spawnServer(
      {
        CAPACITY_DATABASE_URL: MYSQL_URL,
        CAPACITY_JWT_SECRET: TEST_SECRET,
        NODE_OPTIONS: process.env.BOUNDED_NODE_OPTIONS ?? "--max-old-space-size=160",
      },
      process.env.BOUNDED_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BOUNDED_PROF}`] : [],
    );
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await db?.knex.destroy();
  });

  it("lives, ends every call within its deadline, and never stalls another tenant", async () => {
    const heavyToken = await mintToken(TEST_SECRET, { tenantId: heavyTenant, sub: person(), ttlSeconds: 600 });
    const otherToken = await mintToken(TEST_SECRET, { tenantId: otherTenant, sub: person(), ttlSeconds: 600 });
    const grpc = createClient(CapacityService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const json = createClient(CapacityService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useBinaryFormat: false }));
    const other = createClient(CapacityService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    // Warm up every path the rounds take, as a server in service is: the first
    // encodings of large answers run unoptimized code, several times slower.
    await other.getCapacity({ id: otherId }, auth(otherToken));
    for (const c of [grpc, json]) {
      await c.getPersonAvailability({ personId: heavyPeople[0]!, ...WINDOW }, auth(heavyToken));
      await c.batchGetPersonAvailability({ personIds: batchPeople, ...WINDOW }, auth(heavyToken));
    }
    /** The other tenant, reading one capacity in a loop from a process of its own, until stopped. */
    const probe = (): { stop: () => Promise<{ latencies: number[]; errors: number }> } => {
      const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/latency-probe.ts", server.baseUrl, otherToken, otherId], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      return {
        stop: async () => {
          child.stdin.end();
          await exited;
          return JSON.parse(out) as { latencies: number[]; errors: number };
        },
      };
    };
    // The machine's own noise: the same loop for 3 s with nothing heavy running.
    const quiet = probe();
    await new Promise((r) => setTimeout(r, 3000));
    const baseline = (await quiet.stop()).latencies;
    // Resets the server's event-loop delay histogram; a failure here says whether the process is still there.
    await scrape(server.adminPort).catch((err: unknown) => {
      throw new Error(
        `admin port unreachable (exit ${server.child.exitCode}, signal ${server.child.signalCode}): ${String(err)}; last logs ${JSON.stringify(server.logs.slice(-3))}`,
      );
    });
    const loop = probe();

    const outcomes: Outcome[] = [];
    /** Answers are measured (re-encoded) only once the load is over. */
    const sizes: Array<() => void> = [];
    const timed = async (
      round: string,
      protocol: "grpc" | "connect-json",
      work: (c: Client<typeof CapacityService>) => Promise<{ size: (json: boolean) => number }>,
    ) => {
      const t0 = performance.now();
      const outcome: Outcome = { round, protocol, code: "OK", ms: 0, bytes: 0 };
      try {
        const answer = await work(protocol === "grpc" ? grpc : json);
        sizes.push(() => (outcome.bytes = answer.size(protocol === "connect-json")));
      } catch (err) {
        outcome.code = Code[ConnectError.from(err).code];
      }
      outcome.ms = Math.round(performance.now() - t0);
      outcomes.push(outcome);
    };
    const call = { ...auth(heavyToken), timeoutMs: DEADLINE_MS };
    const single = (includeCapacityIds: boolean) => async (c: Client<typeof CapacityService>) => {
      const a = await c.getPersonAvailability({ personId: heavyPeople[0]!, ...WINDOW, includeCapacityIds }, call);
      return { size: (j: boolean) => (j ? Buffer.byteLength(toJsonString(PersonAvailabilitySchema, a)) : toBinary(PersonAvailabilitySchema, a).byteLength) };
    };
    const batch = (includeCapacityIds: boolean) => async (c: Client<typeof CapacityService>) => {
      const a = await c.batchGetPersonAvailability({ personIds: batchPeople, ...WINDOW, includeCapacityIds }, call);
      return {
        size: (j: boolean) =>
          j ? Buffer.byteLength(toJsonString(BatchGetPersonAvailabilityResponseSchema, a)) : toBinary(BatchGetPersonAvailabilityResponseSchema, a).byteLength,
      };
    };
    const rounds: Array<[string, (c: Client<typeof CapacityService>) => Promise<{ size: (json: boolean) => number }>]> = [
      ["single, no ids", single(false)],
      ["single, with ids", single(true)],
      ["batch of 500, no ids", batch(false)],
      ["batch of 500, with ids", batch(true)],
    ];
    const started = performance.now();
    for (const [name, work] of rounds) {
      // Four at once: two over gRPC (binary), two over Connect JSON (HTTP/1.1).
      await Promise.all([timed(name, "grpc", work), timed(name, "grpc", work), timed(name, "connect-json", work), timed(name, "connect-json", work)]);
    }
    // And all four kinds at once.
    await Promise.all(rounds.map(([, work], i) => timed("mixed", i % 2 === 0 ? "grpc" : "connect-json", work)));
    const runMs = Math.round(performance.now() - started);
    const { latencies, errors: otherErrors } = await loop.stop();
    sizes.forEach((measure) => measure());

    const alive = server.child.exitCode === null && server.child.signalCode === null;
    const memory = rss(server.child.pid!);
    const metrics = alive ? await scrape(server.adminPort) : new Map<string, number>();
    const sorted = [...latencies].sort((a, b) => a - b);
    const quietSorted = [...baseline].sort((a, b) => a - b);
    const figures = {
      heavyAllocationsPerPerson: HEAVY_ALLOCATIONS,
      batchPeople: batchPeople.length,
      deadlineMs: DEADLINE_MS,
      heapCeiling: "--max-old-space-size=160",
      runMs,
      alive,
      rssMb: memory,
      serverEventLoopDelayMs: {
        p99: Math.round((metrics.get("nodejs_eventloop_lag_p99_seconds") ?? NaN) * 1000),
        max: Math.round((metrics.get("nodejs_eventloop_lag_max_seconds") ?? NaN) * 1000),
      },
      heapUsedMb: Math.round((metrics.get("nodejs_heap_size_used_bytes") ?? NaN) / 1048576),
      otherTenantQuiet: {
        calls: baseline.length,
        p50Ms: Math.round(percentile(quietSorted, 50) * 10) / 10,
        p99Ms: Math.round(percentile(quietSorted, 99) * 10) / 10,
      },
      otherTenant: {
        calls: latencies.length,
        errors: otherErrors,
        p50Ms: Math.round(percentile(sorted, 50) * 10) / 10,
        p99Ms: Math.round(percentile(sorted, 99) * 10) / 10,
        maxMs: Math.round((sorted.at(-1) ?? NaN) * 10) / 10,
      },
      calls: outcomes,
    };
    mkdirSync("test-results", { recursive: true });
    writeFileSync("test-results/bounded-work.json", `${JSON.stringify(figures, null, 2)}\n`);
    console.log(JSON.stringify({ ...figures, calls: undefined }));
    console.table(outcomes);

    expect(alive).toBe(true);
    expect(outcomes).toHaveLength(20);
    for (const o of outcomes) {
      expect(["OK", "DeadlineExceeded", "ResourceExhausted"], JSON.stringify(o)).toContain(o.code);
      expect(o.ms, JSON.stringify(o)).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS);
      if (o.code === "OK") expect(o.bytes, JSON.stringify(o)).toBeLessThanOrEqual(4 * 1024 * 1024);
    }
    // The bounded answers are not all refusals: without ids the single read and the batch answer.
    expect(outcomes.filter((o) => o.round === "single, no ids" && o.code === "OK").length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.round === "single, with ids").map((o) => o.code)).not.toContain("OK");
    expect(otherErrors).toBe(0);
    // A stall detector, generous for a shared 2-core machine: the first version held other tenants 1.5 s.
    // The 100 ms target is a figure (test-results/bounded-work.json, docs/reliability.md), not a timed assertion.
    expect(figures.otherTenant.p99Ms).toBeLessThan(1000);
  }, 240_000);
});
