/**
 * src/main.ts as a real process: how it refuses to start (exit codes and the
 * one line that says why), the start-up give-up when the database never
 * answers, and the development secret in the data folder. Crash handling
 * (uncaught exceptions, unhandled rejections) is test/server/crash.test.ts.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { mintToken } from "../src/auth/tokens.js";
import { createTestClient, ok, type Outcome } from "./helpers/clients.js";
import { person, tenant } from "./helpers/ids.js";
import { freePort } from "./helpers/ports.js";
import { spawnServer, type ServerProcess } from "./helpers/process.js";
import { eventually, jsonLines, runScript } from "./helpers/run.js";
import { TEST_SECRET } from "./helpers/server.js";

/** An empty value reads as unset (config.ts `text`), so these keep the runner's environment out of the child's. */
const NO_VERIFIER = { CAPACITY_JWT_SECRET: "", CAPACITY_JWKS_URL: "", NODE_ENV: "" };

const dataDir = (): string => mkdtempSync(join(tmpdir(), "capacity-main-"));

async function list(server: ServerProcess, token: string): Promise<Outcome<unknown>> {
  const client = createTestClient("connect-json-http1", server.baseUrl);
  try {
    return await client.call("listCapacities", { pageSize: 1 }, token);
  } finally {
    client.close();
  }
}

describe("a configuration main.ts cannot use", () => {
  it.each<[string, Record<string, string>, RegExp]>([
    ["a port that is not a number", { CAPACITY_PORT: "http" }, /CAPACITY_PORT must be a whole number/],
    ["a wildcard CORS origin", { CAPACITY_CORS_ORIGINS: "https://*.example.com" }, /CAPACITY_CORS_ORIGINS: wildcards are not allowed/],
    ["a TLS certificate without its key", { CAPACITY_TLS_CERT_FILE: "/nonexistent/cert.pem" }, /CAPACITY_TLS_KEY_FILE/],
    ["a negative connection limit", { CAPACITY_MAX_CONNECTIONS: "-5" }, /CAPACITY_MAX_CONNECTIONS must be a whole number/],
    ["production without a token verifier", { NODE_ENV: "production" }, /CAPACITY_JWT_SECRET or CAPACITY_JWKS_URL/],
  ])("%s: exits 2 with one stderr line naming the variable, before logging or listening", async (_name, env, message) => {
    const dir = dataDir();
    const run = await runScript("src/main.ts", [], { ...NO_VERIFIER, CAPACITY_DATA_DIR: dir, ...env });
    expect(run.signal).toBeNull();
    expect(run.code).toBe(2);
    const lines = run.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^capacity: configuration error: /);
    expect(lines[0]).toMatch(message);
    // Nothing started: no log line, no database file, no development secret.
    expect(run.stdout).toBe("");
    expect(existsSync(join(dir, "capacity.sqlite"))).toBe(false);
    expect(existsSync(join(dir, "dev-jwt-secret"))).toBe(false);
  });

  it("a port already taken: exits 1 with 'failed to start' naming the address, and does not hang on its open admin port and database", async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const run = await runScript("src/main.ts", [], { CAPACITY_JWT_SECRET: TEST_SECRET, CAPACITY_DATA_DIR: dataDir(), CAPACITY_PORT: String(port) });
      expect(run.signal).toBeNull();
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split("\n").at(-1)).toBe(`capacity: failed to start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
      expect(jsonLines(run.stdout).some((l) => l.msg === "capacity listening")).toBe(false);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});

// freePort(): a port bound and closed a moment ago, so connecting to it is refused at once.
describe("start-up give-up (CAPACITY_DB_WAIT_MS)", () => {
  it("retries an unreachable MySQL with backoff, logging where it waits for (no credentials), then exits 1 within the budget", async () => {
    const port = await freePort();
    const budgetMs = 2000;
    const run = await runScript("src/main.ts", [], {
      CAPACITY_JWT_SECRET: TEST_SECRET,
      CAPACITY_DATA_DIR: dataDir(),
      CAPACITY_DATABASE_URL: `mysql://capuser:s3cretpw@127.0.0.1:${port}/capacity_gone`,
      CAPACITY_DB_WAIT_MS: String(budgetMs),
    });
    const exitedAt = Date.now();
    expect(run.signal).toBeNull();
    expect(run.code).toBe(1);
    const logs = jsonLines(run.stdout);
    const started = logs.find((l) => l.msg === "capacity starting");
    expect(started).toBeDefined();
    const waits = logs.filter((l) => l.msg === `waiting for the database: MySQL at 127.0.0.1:${port}/capacity_gone`);
    // The first retry is 500 ms away, well inside the budget, so it is always announced.
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits[0]).toMatchObject({ level: 40, attempt: 1, retryInMs: 500, reason: "ECONNREFUSED" });
    // It never plans to sleep past its budget: the retries it announced fit in it.
    expect(waits.reduce((sum, l) => sum + Number(l.retryInMs), 0)).toBeLessThanOrEqual(budgetMs);
    expect(logs.some((l) => l.msg === "capacity listening")).toBe(false);
    // Gave up after waiting at least one backoff, and about when the budget ran out (generous for a loaded machine).
    const waitedMs = exitedAt - Date.parse(String(started!.time));
    expect(waitedMs).toBeGreaterThanOrEqual(500);
    expect(waitedMs).toBeLessThan(budgetMs + 5000);
    expect(run.stderr.trim().split("\n").at(-1)).toMatch(new RegExp(`^capacity: failed to start: .*127\\.0\\.0\\.1:${port}`));
    expect(run.stdout + run.stderr).not.toMatch(/s3cretpw|capuser/);
  });

  it("with a budget shorter than the first backoff, gives up after one attempt and says which address refused", async () => {
    const port = await freePort();
    const run = await runScript("src/main.ts", [], {
      CAPACITY_JWT_SECRET: TEST_SECRET,
      CAPACITY_DATA_DIR: dataDir(),
      CAPACITY_DATABASE_URL: `mysql://capuser:s3cretpw@127.0.0.1:${port}/capacity_gone`,
      CAPACITY_DB_WAIT_MS: "300",
    });
    expect(run.code).toBe(1);
    const logs = jsonLines(run.stdout);
    const started = Date.parse(String(logs.find((l) => l.msg === "capacity starting")?.time));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(run.stderr).toContain(`capacity: failed to start: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(run.stdout + run.stderr).not.toMatch(/s3cretpw|capuser/);
  });
});

describe("the development secret", () => {
  const bannerToken = (server: ServerProcess): Promise<string> => eventually("the development banner", () => /export TOKEN=(\S+)/.exec(server.stderr())?.[1]);

  it("is made on first start (mode 0600, in the data folder), signs the banner's token, and is reused by the next start", async () => {
    const dir = dataDir();
    const file = join(dir, "dev-jwt-secret");
    const first = await spawnServer({ ...NO_VERIFIER, CAPACITY_DATA_DIR: dir });
    let token: string;
    let secret: string;
    try {
      token = await bannerToken(first);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      secret = readFileSync(file, "utf8").trim();
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      ok(await list(first, token));
      // The banner's curl calls work as printed (address and token as given).
      const curls = [...first.stderr().matchAll(/^ {2}curl (?:.*\\\n)*.*$/gm)].map((m) => m[0].replace(/\\\n/g, " "));
      expect(curls).toHaveLength(2);
      const created = JSON.parse(execFileSync("bash", ["-c", curls[0]!], { env: { ...process.env, TOKEN: token }, encoding: "utf8" })) as { id: string };
      expect(created.id).toMatch(/^cap_/);
      const listed = JSON.parse(execFileSync("bash", ["-c", curls[1]!], { env: { ...process.env, TOKEN: token }, encoding: "utf8" })) as {
        capacities: Array<{ id: string }>;
      };
      expect(listed.capacities.map((c) => c.id)).toEqual([created.id]);
      ok(await list(first, await mintToken(secret, { tenantId: tenant(), sub: person(), ttlSeconds: 600 })));
      // Any other secret is refused: the dev secret is the verifier, not an open door.
      const foreign = await mintToken(TEST_SECRET, { tenantId: tenant(), sub: person(), ttlSeconds: 600 });
      expect(await list(first, foreign)).toMatchObject({ ok: false, code: Code.Unauthenticated });
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = await spawnServer({ ...NO_VERIFIER, CAPACITY_DATA_DIR: dir });
    try {
      expect(readFileSync(file, "utf8").trim()).toBe(secret);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // The first run's token still works: same secret, not a new one.
      ok(await list(second, token));
      expect(await bannerToken(second)).not.toBe(token);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  }, 60_000);

  it("is never made in production: no file, no banner", async () => {
    const dir = dataDir();
    const server = await spawnServer({ ...NO_VERIFIER, NODE_ENV: "production", CAPACITY_JWT_SECRET: TEST_SECRET, CAPACITY_DATA_DIR: dir });
    try {
      ok(await list(server, await mintToken(TEST_SECRET, { tenantId: tenant(), sub: person(), ttlSeconds: 600 })));
    } finally {
      expect(await server.stop()).toBe(0);
    }
    // stderr is complete once the process has exited.
    expect(server.stderr()).not.toMatch(/Development mode|export TOKEN=/);
    expect(existsSync(join(dir, "dev-jwt-secret"))).toBe(false);
    expect(existsSync(join(dir, "capacity.sqlite"))).toBe(true);
  }, 60_000);

  it("is never used in production, even when a development secret file sits in the data folder", async () => {
    const dir = dataDir();
    const planted = "planted-dev-secret-planted-dev-secret-0123";
    writeFileSync(join(dir, "dev-jwt-secret"), `${planted}\n`, { mode: 0o600 });
    const server = await spawnServer({ ...NO_VERIFIER, NODE_ENV: "production", CAPACITY_JWT_SECRET: TEST_SECRET, CAPACITY_DATA_DIR: dir });
    try {
      const signedWithPlanted = await mintToken(planted, { tenantId: tenant(), sub: person(), ttlSeconds: 600 });
      expect(await list(server, signedWithPlanted)).toMatchObject({ ok: false, code: Code.Unauthenticated });
      ok(await list(server, await mintToken(TEST_SECRET, { tenantId: tenant(), sub: person(), ttlSeconds: 600 })));
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(readFileSync(join(dir, "dev-jwt-secret"), "utf8").trim()).toBe(planted);
    expect(server.stderr()).not.toMatch(/export TOKEN=/);
  }, 60_000);
});
