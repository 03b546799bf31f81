/**
 * src/cluster.ts (CAPACITY_WORKERS > 1) beyond what test/api/cluster.test.ts
 * covers: readiness while a worker is missing, and the SIGKILL of a worker
 * that does not stop within the shutdown grace period. Real processes on a
 * SQLite file of their own.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mintToken } from "../src/auth/tokens.js";
import { createTestClient, ok } from "./helpers/clients.js";
import { person, tenant } from "./helpers/ids.js";
import { spawnServer, workerPids } from "./helpers/process.js";
import { eventually } from "./helpers/run.js";
import { TEST_SECRET } from "./helpers/server.js";

/** The service workers of a primary (tsx also starts an esbuild helper, which this leaves out). */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const env = (): Record<string, string> => ({
  CAPACITY_WORKERS: "2",
  CAPACITY_DATA_DIR: mkdtempSync(join(tmpdir(), "capacity-cluster-")),
  CAPACITY_JWT_SECRET: TEST_SECRET,
});

describe("cluster primary", () => {
  it("reports not ready (503) while a killed worker is missing, keeps serving from the other, and is ready again once it is replaced", async () => {
    const server = await spawnServer(env());
    let readyText = "";
    const readyz = async (): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
      readyText = await res.text();
      return res.status;
    };
    const client = createTestClient("connect-json-http1", server.baseUrl);
    try {
      const token = await mintToken(TEST_SECRET, { tenantId: tenant(), sub: person(), ttlSeconds: 600 });
      const pids = workerPids(server.child.pid!);
      expect(pids).toHaveLength(2);
      expect(await readyz()).toBe(200);

      process.kill(pids[0]!, "SIGKILL");
      // Ready means every worker is: one of two gone is not ready. The replacement starts 500 ms after the exit, and takes longer to boot.
      await eventually("/readyz to say 503", async () => (await readyz()) === 503, 15_000, 20);
      // Not "starting: waiting for the database": the cluster had started, a worker is missing.
      expect(readyText).toBe("not ready\n");
      ok(await client.call("listCapacities", {}, token));
      const died = await eventually("the primary's log line", () => server.logs.find((l) => l.msg === "worker died; starting another"));
      expect(died).toMatchObject({ level: 50, worker: pids[0], signal: "SIGKILL" });

      await eventually("/readyz to say 200 again", async () => (await readyz()) === 200, 30_000, 50);
      const now = workerPids(server.child.pid!);
      expect(now).toHaveLength(2);
      expect(now).toContain(pids[1]);
      expect(now).not.toContain(pids[0]);
      for (let i = 0; i < 6; i++) ok(await client.call("listCapacities", {}, token));
    } finally {
      client.close();
      expect(await server.stop("SIGTERM")).toBe(0);
    }
  }, 90_000);

  it("on SIGTERM drains the workers that stop, SIGKILLs one that does not once the grace period (+5 s) is over, then exits 0", async () => {
    const server = await spawnServer({ ...env(), CAPACITY_SHUTDOWN_GRACE_MS: "0" }, ["--import", "./test/helpers/stuck-worker-preload.ts"]);
    try {
      const [stuck, healthy] = workerPids(server.child.pid!);
      expect(stuck).toBeDefined();
      expect(healthy).toBeDefined();
      process.kill(stuck!, "SIGUSR2");
      await eventually("the worker to be armed", () => server.stderr().includes(`stuck-worker armed ${stuck}`));

      const sigterm = Date.now();
      server.child.kill("SIGTERM");
      // The healthy worker drains and exits while the primary waits on the stuck one.
      await eventually("the healthy worker to exit", () => !alive(healthy!), 20_000);
      expect(server.child.exitCode).toBeNull();
      expect(alive(stuck!)).toBe(true);

      const { code, signal } = await server.exited;
      const waited = Date.now() - sigterm;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      // Grace 0 + the 5 s margin: not before, and not forever.
      expect(waited).toBeGreaterThanOrEqual(5000);
      expect(waited).toBeLessThan(30_000);
      expect(alive(stuck!)).toBe(false);
      expect(server.logs.find((l) => l.msg === "shutting down: draining workers")).toMatchObject({ reason: "SIGTERM", graceMs: 0 });
      await eventually("the last log line", () => server.logs.some((l) => l.msg === "stopped"), 5000);
      // Workers that stop while the primary stops are not replaced.
      expect(server.logs.some((l) => l.msg === "worker died; starting another")).toBe(false);
    } finally {
      if (server.child.exitCode === null) server.child.kill("SIGKILL");
      for (const pid of workerPids(server.child.pid!)) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  }, 90_000);
});
