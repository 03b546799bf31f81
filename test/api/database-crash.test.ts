/**
 * MariaDB killed with SIGKILL under load, then restarted: calls fail fast
 * with UNAVAILABLE meanwhile, readiness follows, the service recovers without
 * a restart, and every acknowledged write is there afterwards.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate, openDatabase } from "../../src/store/database.js";
import { createTestClient, type TestClient } from "../helpers/clients.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startThrowawayMariadb, type ThrowawayMariadb } from "../helpers/mariadb.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("the database dies under load", () => {
  let db: ThrowawayMariadb;
  let server: TestServer;
  beforeAll(async () => {
    db = await startThrowawayMariadb();
    const knex = openDatabase({ url: db.url, dataDir: "." });
    await migrate(knex);
    await knex.destroy();
    server = await startTestServer("mysql", { databaseUrl: db.url });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await db?.destroy();
  });

  it("loses no acknowledged write, writes nothing by halves, and recovers by itself", async () => {
    const t = tenant();
    const token = await server.token(t);
    /** Acknowledged state: id → allocated basis points and etag, as last acknowledged. */
    const acked = new Map<string, { bp: number; etag: string }>();
    /** Values of updates sent after a record's last acknowledged write whose answers never came. */
    const unacknowledged = new Map<string, number[]>();
    const slowFailures: number[] = [];
    const unexpected: string[] = [];
    const codes = new Map<string, number>();
    let running = true;
    const readiness: number[] = [];

    const worker = async (client: TestClient): Promise<void> => {
      const mine: string[] = [];
      for (let i = 0; running && i < 100_000; i++) {
        const started = Date.now();
        const updating = mine.length > 0 && i % 3 === 0;
        const id = mine[i % Math.max(1, mine.length)];
        const pct = 1 + (i % 90);
        const out = updating
          ? await client.call("setCapacity", { capacity: { id, allocatedPct: pct }, updateMask: { paths: ["allocated_pct"] }, requestId: randomUUID() }, token)
          : await client.call(
              "setCapacity",
              {
                capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: pct },
                requestId: randomUUID(),
              },
              token,
            );
        const name = out.ok ? "OK" : Code[out.code];
        codes.set(name, (codes.get(name) ?? 0) + 1);
        // An update whose answer never came may still have committed: remember its value until one is acknowledged.
        if (updating && !out.ok) unacknowledged.set(id!, [...(unacknowledged.get(id!) ?? []), pct * 100]);
        if (out.ok) {
          if (updating) unacknowledged.delete(id!);
          acked.set(out.value.id, { bp: Math.round(out.value.allocatedPct! * 100), etag: out.value.etag });
          if (!updating) mine.push(out.value.id);
        } else {
          if (out.code !== Code.Unavailable) unexpected.push(`${name}: ${out.message}`);
          if (Date.now() - started > 1500) slowFailures.push(Date.now() - started);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const clients = [createTestClient("grpc-connect-node", server.baseUrl), createTestClient("grpc-js", server.baseUrl)];
    const load = clients.flatMap((c) => [worker(c), worker(c), worker(c), worker(c)]);
    const ready = async () => (await fetch(`http://127.0.0.1:${server.app.adminPort}/readyz`)).status;

    // Load first: wait for acknowledged writes (not a fixed time, which a loaded machine may not fill).
    for (let i = 0; i < 600 && acked.size <= 10; i++) await new Promise((r) => setTimeout(r, 50));
    const beforeKill = acked.size;
    await db.kill();
    await new Promise((r) => setTimeout(r, 1500));
    readiness.push(await ready());
    await db.start();
    let recovered = false;
    for (let i = 0; i < 100 && !recovered; i++) {
      await new Promise((r) => setTimeout(r, 100));
      recovered = (await ready()) === 200;
    }
    const afterRestart = acked.size;
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await Promise.all(load);
    clients.forEach((c) => c.close());

    expect(beforeKill).toBeGreaterThan(10);
    expect(readiness).toEqual([503]);
    expect(recovered).toBe(true);
    expect(acked.size).toBeGreaterThan(afterRestart); // writes succeed again, no restart of the service
    expect(codes.get("Unavailable") ?? 0).toBeGreaterThan(0);
    expect(unexpected).toEqual([]);
    expect(slowFailures).toEqual([]);

    // Every acknowledged write is stored with its acknowledged value.
    const knex = openDatabase({ url: db.url, dataDir: "." });
    const rows: Array<{ id: string; allocated_bp: number; etag: string; person_id: string; period_end: string }> = await knex("capacities")
      .where({ tenant_id: t })
      .select("id", "allocated_bp", "etag", "person_id", "period_end");
    const requests = await knex("capacity_requests").where({ tenant_id: t }).count({ n: "*" });
    await knex.destroy();
    const stored = new Map(rows.map((r) => [r.id, r]));
    // The last acknowledged write of a record is what is stored (value and etag), unless a later
    // unacknowledged update of it committed just before the crash: then the row holds that update's value
    // under a new etag.
    const lost = [...acked].filter(([id, v]) => {
      const row = stored.get(id);
      if (row === undefined) return true;
      if (row.etag === v.etag) return row.allocated_bp !== v.bp;
      return !(unacknowledged.get(id) ?? []).includes(row.allocated_bp);
    });
    expect(lost).toEqual([]);
    // Nothing by halves: every stored row is complete.
    for (const r of rows) {
      expect(r.person_id).toMatch(/^per_/);
      expect(r.period_end).toBe("2027-01-31");
      expect(r.etag).toHaveLength(16);
    }
    expect(Number(requests[0]?.n)).toBeGreaterThanOrEqual(acked.size);
    console.log(
      `database crash: ${acked.size} records acknowledged (${beforeKill} before the kill), calls by code ${JSON.stringify(Object.fromEntries(codes))}, lost ${lost.length}`,
    );
  }, 120_000);
});
