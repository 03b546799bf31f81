import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("has working defaults for a fresh clone", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: "0.0.0.0", databaseUrl: undefined, production: false, readMaxBytes: 1048576, logLevel: "info" });
    expect(c).toMatchObject({ maxResponseBytes: 4 * 1024 * 1024, availabilityMaxAllocations: 50_000 });
    expect(c.dataDir).toMatch(/\/data$/);
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
      CAPACITY_MAX_RESPONSE_BYTES: "65536",
      CAPACITY_AVAILABILITY_MAX_ALLOCATIONS: "1000",
    });
    expect(c).toMatchObject({
      port: 9000,
      host: "127.0.0.1",
      databaseUrl: "mysql://u:p@db:3306/cap",
      dataDir: "/tmp/x",
      dbPoolMax: 32,
      jwt: { secret: "s".repeat(32), issuer: "iss", audience: "aud", jwksUrl: undefined },
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
    [{ CAPACITY_MAX_RESPONSE_BYTES: "1024" }, /CAPACITY_MAX_RESPONSE_BYTES must be a whole number from 65536/],
    [{ CAPACITY_MAX_RESPONSE_BYTES: "4MiB" }, /CAPACITY_MAX_RESPONSE_BYTES/],
    [{ CAPACITY_AVAILABILITY_MAX_ALLOCATIONS: "0" }, /CAPACITY_AVAILABILITY_MAX_ALLOCATIONS/],
    [{ NODE_ENV: "production" }, /production needs a token verifier/],
  ])("stops on %j", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("starts in production with a verifier", () => {
    expect(loadConfig({ NODE_ENV: "production", CAPACITY_JWKS_URL: "https://idp.example/jwks.json" }).production).toBe(true);
  });
});
