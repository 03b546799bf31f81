/** SIGTERM under steady load: no call the server accepted fails, and the process exits 0. */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { createTestClient, type TestClient } from "../helpers/clients.js";
import { MYSQL_URL, testDatabase } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { spawnServer } from "../helpers/process.js";
import { TEST_SECRET } from "../helpers/server.js";

describe("graceful shutdown", () => {
  it("finishes every accepted call after SIGTERM, refuses new ones cleanly, and exits 0", async () => {
    const server = await spawnServer({ CAPACITY_DATABASE_URL: MYSQL_URL, CAPACITY_JWT_SECRET: TEST_SECRET, CAPACITY_SHUTDOWN_GRACE_MS: "5000" });
    const t = tenant();
    const token = await mintToken(TEST_SECRET, { tenantId: t, sub: person() });
    const clients: TestClient[] = [
      createTestClient("grpc-connect-node", server.baseUrl),
      createTestClient("grpc-js", server.baseUrl),
      createTestClient("connect-json-http1", server.baseUrl),
    ];
    const acknowledged: string[] = [];
    const failures: string[] = [];
    /** Request ids of calls that failed to reach the server once it was stopping. */
    const refused: string[] = [];
    let stopping = false;
    const loop = async (client: TestClient): Promise<void> => {
      for (let i = 0; i < 2000; i++) {
        const requestId = randomUUID();
        const out = await client.call(
          "setCapacity",
          { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10 }, requestId },
          token,
        );
        if (out.ok) {
          acknowledged.push(out.value.id);
          continue;
        }
        // Turned away at the door: connection refused, stream refused by GOAWAY,
        // or a keep-alive connection closed as the request was being sent.
        const turnedAway = out.code === Code.Unavailable || /EPIPE|ECONNRESET|ECONNREFUSED|socket hang up|REFUSED_STREAM/.test(out.message);
        if (stopping && turnedAway) {
          refused.push(requestId);
          return;
        }
        failures.push(`${client.kind}: ${Code[out.code]} ${out.message}`);
        return;
      }
    };
    const loops = clients.flatMap((c) => [loop(c), loop(c), loop(c)]);
    // Load first: wait for acknowledged calls (not a fixed time, which a loaded machine may not fill).
    for (let i = 0; i < 600 && acknowledged.length <= 20; i++) await new Promise((r) => setTimeout(r, 50));
    const before = acknowledged.length;
    stopping = true;
    const exitCode = await server.stop("SIGTERM");
    await Promise.all(loops);
    clients.forEach((c) => c.close());

    expect(exitCode).toBe(0);
    expect(before).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    expect(server.logs.map((l) => l.msg)).toContain("stopped");
    // Every acknowledged write is there.
    const db = testDatabase("mysql");
    const stored = new Set(await db.knex("capacities").where({ tenant_id: t }).pluck("id"));
    // A turned-away call was never accepted: the server has no trace of it.
    const seen = await db.knex("capacity_requests").where({ tenant_id: t }).whereIn("request_id", refused).pluck("request_id");
    await db.knex.destroy();
    expect(seen).toEqual([]);
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    expect(stored.size).toBe(acknowledged.length);
    console.log(`shutdown under load: ${acknowledged.length} acknowledged, ${refused.length} turned away after SIGTERM, 0 failed`);
  }, 60_000);
});
