/**
 * `npm run token` (src/cli/token.ts) as a process: the token it prints is
 * accepted by a real server, and arguments it cannot use stop it with the
 * usage message and a non-zero exit, printing no token.
 */
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClient, ok } from "../helpers/clients.js";
import { person, project, tenant } from "../helpers/ids.js";
import { runScript } from "../helpers/run.js";
import { startTestServer, TEST_SECRET, type TestServer } from "../helpers/server.js";

const USAGE = "usage: npm run token -- --tenant T --sub S [--app A] [--ttl SECONDS]";
/** An empty value reads as unset (config.ts), keeping the runner's environment out. */
const CLEAN = { CAPACITY_JWT_SECRET: "", CAPACITY_JWKS_URL: "", CAPACITY_JWT_ISSUER: "", CAPACITY_JWT_AUDIENCE: "", NODE_ENV: "" };

const token = (args: string[], env: Record<string, string> = {}) =>
  runScript("src/cli/token.ts", args, { ...CLEAN, CAPACITY_DATA_DIR: mkdtempSync(join(tmpdir(), "capacity-token-cli-")), ...env });

describe("npm run token", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("sqlite");
  });
  afterAll(async () => server?.close());

  it("prints one token, signed with CAPACITY_JWT_SECRET, that the server accepts as that tenant, person and app", async () => {
    const t = tenant();
    const sub = person();
    const run = await token(["--tenant", t, "--sub", sub, "--app", "crm", "--ttl", "600"], { CAPACITY_JWT_SECRET: TEST_SECRET });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const jwt = run.stdout.trim();
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({ tenant_id: t, sub, app_id: "crm" });
    expect(claims.exp! - claims.iat!).toBe(600);

    const client = createTestClient("grpc-connect-node", server.baseUrl);
    try {
      const created = ok(
        await client.call(
          "setCapacity",
          { capacity: { personId: person(), projectId: project(), periodStart: "2027-05-03", periodEnd: "2027-05-07", allocatedPct: 10 } },
          jwt,
        ),
      );
      expect(created.createdBy).toBe(sub);
      // Written as that tenant: another tenant's token does not see it.
      expect(ok(await client.call("getCapacity", { id: created.id }, jwt)).id).toBe(created.id);
      expect((await client.call("getCapacity", { id: created.id }, await server.token(tenant()))).ok).toBe(false);
    } finally {
      client.close();
    }
  });

  it("defaults to a one-day token and carries the configured issuer and audience", async () => {
    const run = await token(["--tenant", "acme", "--sub", person()], {
      CAPACITY_JWT_SECRET: TEST_SECRET,
      CAPACITY_JWT_ISSUER: "https://idp.example",
      CAPACITY_JWT_AUDIENCE: "capacity",
    });
    expect(run.code).toBe(0);
    const { payload } = await jwtVerify(run.stdout.trim(), new TextEncoder().encode(TEST_SECRET), {
      algorithms: ["HS256"],
      issuer: "https://idp.example",
      audience: "capacity",
    });
    expect(payload.exp! - payload.iat!).toBe(86_400);
    expect(payload.app_id).toBeUndefined();
  });

  it("without a secret, signs with the development secret in the data folder, creating it with mode 0600", async () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-token-cli-"));
    const run = await runScript("src/cli/token.ts", ["--tenant", "acme", "--sub", person()], { ...CLEAN, CAPACITY_DATA_DIR: dir });
    expect(run.code).toBe(0);
    const file = join(dir, "dev-jwt-secret");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, "utf8").trim();
    await expect(jwtVerify(run.stdout.trim(), new TextEncoder().encode(secret), { algorithms: ["HS256"] })).resolves.toBeDefined();
    // A second run reuses it.
    const again = await runScript("src/cli/token.ts", ["--tenant", "acme", "--sub", person()], { ...CLEAN, CAPACITY_DATA_DIR: dir });
    expect(readFileSync(file, "utf8").trim()).toBe(secret);
    await expect(jwtVerify(again.stdout.trim(), new TextEncoder().encode(secret), { algorithms: ["HS256"] })).resolves.toBeDefined();
  });

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["no arguments", [], {}, /--tenant is required/],
    ["a tenant with a space", ["--tenant", "acme corp", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3"], {}, /--tenant is required: 1-64 letters/],
    ["no --sub", ["--tenant", "acme"], {}, /--sub is required/],
    ["a --sub that is not an id", ["--tenant", "acme", "--sub", "alice"], {}, /--sub is required: a UUID or a prefixed ULID/],
    ["a malformed --app", ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--app", "a/b"], {}, /--app must be/],
    ["--ttl 0", ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--ttl", "0"], {}, /--ttl must be a positive number/],
    ["a negative --ttl", ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--ttl=-60"], {}, /--ttl must be a positive number/],
    ["a fractional --ttl", ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--ttl", "1.5"], {}, /--ttl must be a positive number/],
    ["a --ttl in words", ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--ttl", "1h"], {}, /--ttl must be a positive number/],
    [
      "a --ttl over the default maximum",
      ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--ttl", "86401"],
      {},
      /--ttl must be at most 86400 s/,
    ],
    [
      "a --ttl over CAPACITY_JWT_MAX_LIFETIME_MS",
      ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--ttl", "3601"],
      { CAPACITY_JWT_MAX_LIFETIME_MS: "3600000" },
      /--ttl must be at most 3600 s: .*CAPACITY_JWT_MAX_LIFETIME_MS/,
    ],
    [
      "a JWKS URL (tokens come from the identity provider)",
      ["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3"],
      { CAPACITY_JWT_SECRET: "", CAPACITY_JWKS_URL: "https://idp.example/jwks.json" },
      /CAPACITY_JWKS_URL is set/,
    ],
  ])("%s: exits 2 with the reason and the usage, and prints no token", async (_name, args, env, reason) => {
    const run = await token(args, { CAPACITY_JWT_SECRET: TEST_SECRET, ...env });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    const [first, second, ...rest] = run.stderr.split("\n").filter(Boolean);
    expect(first).toMatch(/^token: /);
    expect(first).toMatch(reason);
    expect(second).toBe(USAGE);
    expect(rest).toEqual([]);
  });

  it("a configuration it cannot use: exits non-zero naming the variable, and prints no token", async () => {
    const run = await token(["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3"], { CAPACITY_JWT_SECRET: "too-short" });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("CAPACITY_JWT_SECRET must be at least 32 bytes long");
  });

  // KNOWN FAILURE: parseArgs throws on an option it does not know, so the process dies with a
  // TypeError stack trace (exit 1) instead of the usage. Flip to `it` once token.ts catches it.
  it("an unknown option: exits 2 with the usage, not a stack trace", async () => {
    const run = await token(["--tenant", "acme", "--sub", "per_01J9Z3V4M5N6P7Q8R9S0T1V2W3", "--tennant", "acme"], { CAPACITY_JWT_SECRET: TEST_SECRET });
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(USAGE);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(2);
  });
});
