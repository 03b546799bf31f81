import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("has working defaults for a fresh clone", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: "0.0.0.0", databaseUrl: undefined, production: false, readMaxBytes: 1048576, logLevel: "info" });
    expect(c).toMatchObject({ maxResponseBytes: 4 * 1024 * 1024, availabilityMaxAllocations: 50_000 });
    expect(c.dataDir).toMatch(/\/data$/);
  });

  it("binds the admin port to loopback by default, also when the API listens everywhere", () => {
    expect(loadConfig({}).adminHost).toBe("127.0.0.1");
    expect(loadConfig({ CAPACITY_HOST: "0.0.0.0" }).adminHost).toBe("127.0.0.1");
    expect(loadConfig({ CAPACITY_HOST: "10.1.2.3" }).adminHost).toBe("127.0.0.1");
    expect(loadConfig({ CAPACITY_ADMIN_HOST: "0.0.0.0" }).adminHost).toBe("0.0.0.0");
  });

  it("reads every variable", () => {
    const c = loadConfig({
      CAPACITY_PORT: "9000",
      CAPACITY_HOST: "127.0.0.1",
      CAPACITY_DATABASE_URL: "mysql://u:p@db:3306/cap",
      CAPACITY_DATA_DIR: "/tmp/x",
      CAPACITY_DB_POOL_MAX: "32",
      CAPACITY_JWT_SECRET: "s".repeat(32),
      CAPACITY_JWT_ISSUER: "iss",
      CAPACITY_JWT_AUDIENCE: "aud",
      CAPACITY_LOG_LEVEL: "warn",
      CAPACITY_READ_MAX_BYTES: "2048",
      CAPACITY_JWT_MAX_LIFETIME_MS: "3600000",
      CAPACITY_JWT_CLOCK_SKEW_MS: "5000",
      CAPACITY_MAX_RESPONSE_BYTES: "65536",
      CAPACITY_AVAILABILITY_MAX_ALLOCATIONS: "1000",
    });
    expect(c).toMatchObject({
      port: 9000,
      host: "127.0.0.1",
      databaseUrl: "mysql://u:p@db:3306/cap",
      dataDir: "/tmp/x",
      dbPoolMax: 32,
      jwt: { secret: "s".repeat(32), issuer: "iss", audience: "aud", jwksUrl: undefined, maxLifetimeMs: 3_600_000, clockSkewMs: 5000 },
      logLevel: "warn",
      readMaxBytes: 2048,
      maxResponseBytes: 65536,
      availabilityMaxAllocations: 1000,
    });
  });

  it.each([
    [{ CAPACITY_PORT: "http" }, /CAPACITY_PORT/],
    [{ CAPACITY_PORT: "70000" }, /CAPACITY_PORT/],
    [{ CAPACITY_DATABASE_URL: "postgres://x" }, /CAPACITY_DATABASE_URL/],
    [{ CAPACITY_DATABASE_URL: "not a url" }, /CAPACITY_DATABASE_URL/],
    [{ CAPACITY_JWT_SECRET: "short" }, /CAPACITY_JWT_SECRET/],
    [{ CAPACITY_JWKS_URL: "ftp://keys" }, /CAPACITY_JWKS_URL/],
    [{ CAPACITY_JWT_SECRET: "s".repeat(32), CAPACITY_JWKS_URL: "https://idp/jwks" }, /not both/],
    [{ CAPACITY_LOG_LEVEL: "loud" }, /CAPACITY_LOG_LEVEL/],
    [{ CAPACITY_DB_POOL_MAX: "0" }, /CAPACITY_DB_POOL_MAX/],
    [{ CAPACITY_JWT_MAX_LIFETIME_MS: "1000" }, /CAPACITY_JWT_MAX_LIFETIME_MS/],
    [{ CAPACITY_JWT_MAX_LIFETIME_MS: "1d" }, /CAPACITY_JWT_MAX_LIFETIME_MS/],
    [{ CAPACITY_JWT_CLOCK_SKEW_MS: "3600000" }, /CAPACITY_JWT_CLOCK_SKEW_MS/],
    [{ CAPACITY_RATE_TENANT_CALLS_PER_S: "-1" }, /CAPACITY_RATE_TENANT_CALLS_PER_S/],
    [{ CAPACITY_RATE_TENANT_WRITES_PER_S: "lots" }, /CAPACITY_RATE_TENANT_WRITES_PER_S/],
    [{ CAPACITY_RATE_APP_CALLS_PER_S: "1.5" }, /CAPACITY_RATE_APP_CALLS_PER_S/],
    [{ CAPACITY_RATE_APP_WRITES_PER_S: "99999999" }, /CAPACITY_RATE_APP_WRITES_PER_S/],
    [{ CAPACITY_RATE_BURST_MS: "0" }, /CAPACITY_RATE_BURST_MS/],
    [{ CAPACITY_RATE_MAX_KEYS: "0" }, /CAPACITY_RATE_MAX_KEYS/],
    [{ CAPACITY_MAX_RESPONSE_BYTES: "1024" }, /CAPACITY_MAX_RESPONSE_BYTES must be a whole number from 65536/],
    [{ CAPACITY_MAX_RESPONSE_BYTES: "4MiB" }, /CAPACITY_MAX_RESPONSE_BYTES/],
    [{ CAPACITY_AVAILABILITY_MAX_ALLOCATIONS: "0" }, /CAPACITY_AVAILABILITY_MAX_ALLOCATIONS/],
    [{ NODE_ENV: "production" }, /production needs a token verifier/],
  ])("stops on %j", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("has rate limits on by default, generous per tenant, and reads them", () => {
    expect(loadConfig({}).rateLimits).toEqual({ tenantCallsPerS: 2000, tenantWritesPerS: 500, appCallsPerS: 2000, appWritesPerS: 500, burstMs: 2000, maxKeys: 100_000 });
    const c = loadConfig({
      CAPACITY_RATE_TENANT_CALLS_PER_S: "0",
      CAPACITY_RATE_TENANT_WRITES_PER_S: "50",
      CAPACITY_RATE_APP_CALLS_PER_S: "100",
      CAPACITY_RATE_APP_WRITES_PER_S: "10",
      CAPACITY_RATE_BURST_MS: "500",
      CAPACITY_RATE_MAX_KEYS: "1000",
    });
    expect(c.rateLimits).toEqual({ tenantCallsPerS: 0, tenantWritesPerS: 50, appCallsPerS: 100, appWritesPerS: 10, burstMs: 500, maxKeys: 1000 });
  });

  it("starts in production with a verifier", () => {
    expect(loadConfig({ NODE_ENV: "production", CAPACITY_JWKS_URL: "https://idp.example/jwks.json" }).production).toBe(true);
  });
});
