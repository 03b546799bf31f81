/** CAPACITY_WORKERS=2: workers share the ports, a dead worker is replaced, metrics are summed, SIGTERM drains all. */
import { describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { createTestClient, ok } from "../helpers/clients.js";
import { MYSQL_URL } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { spawnServer, workerPids } from "../helpers/process.js";
import { TEST_SECRET } from "../helpers/server.js";

describe("cluster mode", () => {
  it("serves from two workers, replaces one that dies, and drains on SIGTERM", async () => {
    const server = await spawnServer({ CAPACITY_DATABASE_URL: MYSQL_URL, CAPACITY_JWT_SECRET: TEST_SECRET, CAPACITY_WORKERS: "2", CAPACITY_GRPC_PORT: "0" });
    const token = await mintToken(TEST_SECRET, { tenantId: tenant(), sub: person() });
    const client = createTestClient("connect-json-http1", server.baseUrl);
    try {
      const pids = workerPids(server.child.pid!);
      expect(pids).toHaveLength(2);
      for (let i = 0; i < 20; i++) ok(await client.call("listCapacities", {}, token));
      const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
      expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="ListCapacities",grpc_code="OK"\} 20/);
      expect((await fetch(`http://127.0.0.1:${server.adminPort}/readyz`)).status).toBe(200);

      process.kill(pids[0]!, "SIGKILL");
      let replaced: number[] = [];
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        replaced = workerPids(server.child.pid!);
        if (replaced.length === 2 && !replaced.includes(pids[0]!)) break;
      }
      expect(replaced).toHaveLength(2);
      expect(replaced).not.toContain(pids[0]);
      for (let i = 0; i < 10; i++) ok(await client.call("listCapacities", {}, token));
      expect(server.logs.some((l) => l.msg === "worker died; starting another")).toBe(true);
    } finally {
      client.close();
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 60_000);
});
