/**
 * Concurrent writers never lose an update: optimistic read-modify-write with
 * etags, one request_id sent by 100 callers at once, the over-allocation
 * rule under parallel writers, and a soak of mixed load on two server
 * processes whose database must equal what the clients were told.
 */
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { readFileSync } from "node:fs";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { createTestClient, ok, type TestClient } from "../helpers/clients.js";
import { ENGINES, MYSQL_URL, testDatabase } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { spawnServer, type ServerProcess } from "../helpers/process.js";
import { startTestServer, TEST_SECRET, type TestServer } from "../helpers/server.js";
import { Figures } from "./figures.js";

const figures = new Figures("concurrency");
afterAll(() => figures.save());
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 60);

describe.each(ENGINES)("concurrent writers on %s", (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(async () => server?.close());

  it("loses no update when 12 clients read-modify-write one record with etags", async () => {
    const token = await server.token(tenant());
    const clients = Array.from({ length: 12 }, (_, i) => createTestClient(i % 2 ? "grpc-js" : "connect-binary-http2", server.baseUrl));
    const record = ok(
      await clients[0]!.call(
        "setCapacity",
        { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10, notes: "0" } },
        token,
      ),
    );
    let acknowledged = 0;
    const otherCodes: string[] = [];
    await Promise.all(
      clients.map(async (client) => {
        for (let done = 0; done < 8;) {
          const current = ok(await client.call("getCapacity", { id: record.id }, token));
          const next = String(Number(current.notes) + 1);
          const out = await client.call(
            "setCapacity",
            { capacity: { id: record.id, etag: current.etag, notes: next }, updateMask: { paths: ["notes"] } },
            token,
          );
          figures.add("concurrent writes");
          if (out.ok) {
            acknowledged++;
            done++;
          } else if (out.code === Code.Aborted) figures.add("conflicts (ABORTED, retried)");
          else otherCodes.push(Code[out.code]);
        }
      }),
    );
    clients.forEach((c) => c.close());
    expect(otherCodes).toEqual([]);
    const final = ok(await createTestClient("connect-json-http1", server.baseUrl).call("getCapacity", { id: record.id }, token));
    figures.add("lost updates", acknowledged - Number(final.notes));
    expect(Number(final.notes)).toBe(acknowledged);
    expect(acknowledged).toBe(96);
  });

  it("makes one record from 100 concurrent creates with one request_id, and 100 identical answers", async () => {
    const t = tenant();
    const token = await server.token(t);
    const clients = [
      createTestClient("grpc-js", server.baseUrl),
      createTestClient("connect-json-http1", server.baseUrl),
      createTestClient("grpc-connect-node", server.baseUrl),
    ];
    const req = {
      capacity: { personId: person(), projectId: project(), periodStart: "2027-02-01", periodEnd: "2027-02-28", allocatedPct: 40 },
      requestId: randomUUID(),
    };
    const answers = (await Promise.all(Array.from({ length: 100 }, (_, i) => clients[i % 3]!.call("setCapacity", req, token)))).map(ok);
    clients.forEach((c) => c.close());
    // Replays: answers after the first that are the first's answer (the same record, stamps and etag).
    figures.add("idempotent replays", answers.slice(1).filter((a) => isDeepStrictEqual(a, answers[0])).length);
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(await server.db.knex("capacities").where({ tenant_id: t }).count({ n: "*" })).toEqual([{ n: 1 }]);
  });

  it("keeps every day at or below 100% under 60 parallel REJECT writers", async () => {
    const t = tenant();
    const token = await server.token(t);
    const client = createTestClient("grpc-js", server.baseUrl);
    const p = person();
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.call(
          "setCapacity",
          {
            capacity: {
              personId: p,
              projectId: project(),
              periodStart: `2027-03-${String(1 + (i % 20)).padStart(2, "0")}`,
              periodEnd: "2027-03-25",
              allocatedPct: 15 + (i % 4) * 5,
            },
            overallocationPolicy: OverallocationPolicy.REJECT,
          },
          token,
        ),
      ),
    );
    for (const o of outcomes) if (!o.ok) expect(o.code).toBe(Code.FailedPrecondition);
    const availability = ok(await client.call("getPersonAvailability", { personId: p, periodStart: "2027-03-01", periodEnd: "2027-03-31" }, token));
    client.close();
    expect(availability.overallocatedDays).toBe(0);
    const acked = outcomes.filter((o) => o.ok).map((o) => (o.ok ? o.value.id : ""));
    expect((await server.db.knex("capacities").where({ tenant_id: t }).pluck("id")).sort()).toEqual(acked.sort());
    figures.add("over-allocation writers", 60);
    figures.add("over-allocation refusals", 60 - acked.length);
  });
});

interface Model {
  etag: string;
  notes: string;
  bp: number;
  deleted: boolean;
  confirmed: boolean;
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : 0;
}

describe("soak: two server processes, one database", () => {
  const replicas: ServerProcess[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) replicas.push(await spawnServer({ CAPACITY_DATABASE_URL: MYSQL_URL, CAPACITY_JWT_SECRET: TEST_SECRET }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
  });

  it(
    `ends, after ${SOAK_SECONDS} s of mixed load, with exactly the acknowledged state and flat memory`,
    async () => {
      const t = tenant("soak");
      const token = await mintToken(TEST_SECRET, { tenantId: t, sub: person() });
      const model = new Map<string, Model>();
      const clients: TestClient[] = replicas.flatMap((r) => [
        createTestClient("grpc-js", r.baseUrl),
        createTestClient("connect-json-http1", r.baseUrl),
        createTestClient("grpc-connect-node", r.baseUrl),
      ]);
      const unexpected: string[] = [];
      const memory: number[][] = replicas.map(() => []);
      const sampler = setInterval(() => replicas.forEach((r, i) => memory[i]!.push(rss(r.child.pid!))), 1000);
      const stopAt = Date.now() + SOAK_SECONDS * 1000;
      const remember = (c: { id: string; etag: string; notes: string; allocatedPct?: number; isDeleted: boolean; confirmedById: string }): void => {
        model.set(c.id, { etag: c.etag, notes: c.notes, bp: Math.round((c.allocatedPct ?? 0) * 100), deleted: c.isDeleted, confirmed: c.confirmedById !== "" });
      };
      // Each worker owns its records, so the model knows the last acknowledged write of each.
      await Promise.all(
        clients.map(async (client, w) => {
          const mine: string[] = [];
          for (let i = 0; Date.now() < stopAt; i++) {
            const id = mine[i % Math.max(1, mine.length)];
            const m = id === undefined ? undefined : model.get(id);
            const op = mine.length < 5 ? 0 : i % 6;
            let out;
            if (op === 0 || !id || !m) {
              out = await client.call(
                "setCapacity",
                {
                  capacity: {
                    personId: person(),
                    projectId: project(),
                    periodStart: "2027-04-01",
                    periodEnd: "2027-04-30",
                    allocatedPct: 1 + (i % 99),
                    notes: `w${w} #${i} ✓`,
                  },
                  requestId: randomUUID(),
                },
                token,
              );
              if (out.ok) mine.push(out.value.id);
            } else if (op <= 2) {
              out = await client.call(
                "setCapacity",
                { capacity: { id, etag: m.etag, notes: `w${w} #${i} ü`, allocatedPct: 1 + (i % 99) }, updateMask: { paths: ["notes", "allocated_pct"] } },
                token,
              );
            } else if (op === 3) {
              out = m.deleted
                ? await client.call("undeleteCapacity", { id, etag: m.etag }, token)
                : await client.call("deleteCapacity", { id, etag: m.etag }, token);
            } else if (op === 4) {
              out = await client.call(m.deleted ? "getCapacity" : "confirmCapacity", { id }, token);
            } else {
              out = await client.call("listCapacities", { pageSize: 20 }, token);
              figures.add("soak calls");
              if (!out.ok) unexpected.push(Code[out.code]);
              continue;
            }
            figures.add("soak calls");
            if (out.ok) {
              if ("id" in out.value) remember(out.value);
            } else if (out.code === Code.FailedPrecondition && m?.deleted) {
              // Writing to a deleted record: refused, as the contract says.
            } else {
              unexpected.push(`${Code[out.code]}: ${out.message}`);
            }
          }
        }),
      );
      clearInterval(sampler);
      clients.forEach((c) => c.close());
      // On a failure, the replicas' first error lines say why (the fault's kind and driver code).
      const errors = replicas.flatMap((r) => r.logs.filter((l) => l.level === 50).slice(0, 3));
      expect(unexpected, JSON.stringify(errors)).toEqual([]);

      const db = testDatabase("mysql");
      const rows = await db
        .knex("capacities")
        .where({ tenant_id: t })
        .select<Array<{ id: string; etag: string; notes: string; allocated_bp: number; is_deleted: number | boolean; confirmed_by_id: string }>>("*");
      await db.knex.destroy();
      const stored = new Map(rows.map((r) => [r.id, r]));
      const mismatches: string[] = [];
      for (const [id, m] of model) {
        const r = stored.get(id);
        if (
          !r ||
          r.etag !== m.etag ||
          r.notes !== m.notes ||
          Number(r.allocated_bp) !== m.bp ||
          Boolean(r.is_deleted) !== m.deleted ||
          (r.confirmed_by_id !== "") !== m.confirmed
        )
          mismatches.push(id);
      }
      expect(mismatches).toEqual([]);
      expect(stored.size).toBe(model.size);
      figures.add("soak records checked", model.size);
      figures.add("lost updates", mismatches.length);

      // Memory: after warm-up, the last third of the run is not above the first third by more than 50%.
      for (const samples of memory) {
        const steady = samples.slice(Math.floor(samples.length / 4));
        const third = Math.max(1, Math.floor(steady.length / 3));
        const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
        const [early, late] = [avg(steady.slice(0, third)), avg(steady.slice(-third))];
        figures.add(`soak RSS MiB, first third (replica ${memory.indexOf(samples) + 1})`, Math.round(early));
        figures.add(`soak RSS MiB, last third (replica ${memory.indexOf(samples) + 1})`, Math.round(late));
        // A leak detector, generous for a loaded machine (GC timing alone moves RSS by tens of MiB).
        expect(late).toBeLessThanOrEqual(early * 1.5);
      }
    },
    (SOAK_SECONDS + 120) * 1000,
  );
});
