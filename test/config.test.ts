import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

/** The message loadConfig stops with, or a failure when it does not stop. */
function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

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
    expect(loadConfig({}).rateLimits).toEqual({
      tenantCallsPerS: 2000,
      tenantWritesPerS: 500,
      appCallsPerS: 2000,
      appWritesPerS: 500,
      burstMs: 2000,
      maxKeys: 100_000,
    });
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

  describe("the previous JWT secret (rotation)", () => {
    const secret = "n".repeat(32);
    const previous = "p".repeat(32);

    it("is read alongside the current secret", () => {
      expect(loadConfig({ CAPACITY_JWT_SECRET: secret, CAPACITY_JWT_SECRET_PREVIOUS: previous }).jwt).toMatchObject({ secret, previousSecret: previous });
      expect(loadConfig({ CAPACITY_JWT_SECRET: secret }).jwt.previousSecret).toBeUndefined();
    });

    it.each([
      ["without a current secret", { CAPACITY_JWT_SECRET_PREVIOUS: previous }],
      ["shorter than 32 bytes", { CAPACITY_JWT_SECRET: secret, CAPACITY_JWT_SECRET_PREVIOUS: "p".repeat(31) }],
      ["beside a JWKS URL instead of a secret", { CAPACITY_JWKS_URL: "https://idp.example/jwks.json", CAPACITY_JWT_SECRET_PREVIOUS: previous }],
    ])("stops %s, naming CAPACITY_JWT_SECRET_PREVIOUS", (_name, env) => {
      expect(refusal(env)).toMatch(/CAPACITY_JWT_SECRET_PREVIOUS/);
    });
  });

  describe("CAPACITY_CORS_ORIGINS", () => {
    it("reads a comma-separated list of exact origins, spaces around entries allowed, and none by default", () => {
      expect(loadConfig({}).corsOrigins).toEqual([]);
      expect(loadConfig({ CAPACITY_CORS_ORIGINS: " https://app.example.com , http://localhost:5173,https://[::1]:8443 " }).corsOrigins).toEqual([
        "https://app.example.com",
        "http://localhost:5173",
        "https://[::1]:8443",
      ]);
    });

    it.each([
      ["a wildcard host", "https://*.example.com", /wildcards are not allowed/],
      ["a bare wildcard", "*", /not an origin/],
      ["a host without scheme", "app.example.com", /not an origin/],
      ["a trailing slash", "https://app.example.com/", /exactly scheme:\/\/host\[:port\]/],
      ["a path", "https://app.example.com/ui", /exactly scheme/],
      ["a query", "https://app.example.com?x=1", /exactly scheme/],
      ["a non-web scheme", "ftp://files.example.com", /exactly scheme/],
      ["user info", "https://user@app.example.com", /exactly scheme/],
      ["an upper-case host (browsers send it lower-case)", "https://App.example.com", /exactly scheme/],
      ["the default port spelled out (browsers omit it)", "https://app.example.com:443", /exactly scheme/],
      ["an empty entry between commas", "https://a.example.com,,https://b.example.com", /not an origin/],
      ["one bad entry among good ones", "https://a.example.com,https://b.example.com/", /"https:\/\/b.example.com\/"/],
    ])("stops on %s, naming the variable", (_name, value, why) => {
      const message = refusal({ CAPACITY_CORS_ORIGINS: value });
      expect(message).toMatch(/^CAPACITY_CORS_ORIGINS: /);
      expect(message).toMatch(why);
    });
  });

  describe("CAPACITY_UI", () => {
    it("is on by default outside production and off in production", () => {
      expect(loadConfig({}).ui).toBe(true);
      expect(loadConfig({ NODE_ENV: "production", CAPACITY_JWT_SECRET: "s".repeat(32) }).ui).toBe(false);
    });

    it.each([
      ["on", true],
      ["ON", true],
      ["true", true],
      ["1", true],
      [" off ", false],
      ["false", false],
      ["0", false],
    ])("reads %j, in production as well as outside it", (value, expected) => {
      expect(loadConfig({ CAPACITY_UI: value }).ui).toBe(expected);
      expect(loadConfig({ CAPACITY_UI: value, NODE_ENV: "production", CAPACITY_JWT_SECRET: "s".repeat(32) }).ui).toBe(expected);
    });

    it.each(["yes", "enabled", "2"])("stops on %j, naming the variable", (value) => {
      expect(refusal({ CAPACITY_UI: value })).toBe(`CAPACITY_UI must be on or off, got "${value}"`);
    });
  });

  describe("TLS files", () => {
    const dir = mkdtempSync(join(tmpdir(), "capacity-config-tls-"));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    writeFileSync(cert, "not checked here: the listener reads it\n");
    writeFileSync(key, "not checked here: the listener reads it\n");

    it("are off when neither is set, and read when both are", () => {
      expect(loadConfig({}).tls).toBeUndefined();
      expect(loadConfig({ CAPACITY_TLS_CERT_FILE: cert, CAPACITY_TLS_KEY_FILE: key }).tls).toEqual({ certFile: cert, keyFile: key });
    });

    it.each([
      ["a certificate without a key", { CAPACITY_TLS_CERT_FILE: cert }],
      ["a key without a certificate", { CAPACITY_TLS_KEY_FILE: key }],
      ["a key beside a blank certificate", { CAPACITY_TLS_CERT_FILE: "  ", CAPACITY_TLS_KEY_FILE: key }],
    ])("stop on %s, naming both variables", (_name, env) => {
      expect(refusal(env)).toBe("set both CAPACITY_TLS_CERT_FILE and CAPACITY_TLS_KEY_FILE, or neither");
    });

    it.each([
      ["CAPACITY_TLS_CERT_FILE", { CAPACITY_TLS_CERT_FILE: join(dir, "missing-cert.pem"), CAPACITY_TLS_KEY_FILE: key }],
      ["CAPACITY_TLS_KEY_FILE", { CAPACITY_TLS_CERT_FILE: cert, CAPACITY_TLS_KEY_FILE: join(dir, "missing-key.pem") }],
    ])("stop when the file in %s does not exist, naming it and the path", (name, env) => {
      const message = refusal(env);
      expect(message).toMatch(new RegExp(`^${name}: no file at `));
      expect(message).toContain("missing-");
    });
  });

  describe("whole-number settings", () => {
    // Each variable read with integer(), with the largest value it takes.
    const limits: Array<[string, number, number]> = [
      ["CAPACITY_PORT", 0, 65535],
      ["CAPACITY_GRPC_PORT", 0, 65535],
      ["CAPACITY_ADMIN_PORT", 0, 65535],
      ["CAPACITY_DB_POOL_MAX", 1, 1000],
      ["CAPACITY_JWT_MAX_LIFETIME_MS", 60_000, 31_536_000_000],
      ["CAPACITY_JWT_CLOCK_SKEW_MS", 0, 600_000],
      ["CAPACITY_READ_MAX_BYTES", 1024, 64 * 1024 * 1024],
      ["CAPACITY_MAX_RESPONSE_BYTES", 64 * 1024, 256 * 1024 * 1024],
      ["CAPACITY_AVAILABILITY_MAX_ALLOCATIONS", 1, 10_000_000],
      ["CAPACITY_MAX_DEADLINE_MS", 10, 3_600_000],
      ["CAPACITY_SHUTDOWN_GRACE_MS", 0, 3_600_000],
      ["CAPACITY_DB_WAIT_MS", 0, 86_400_000],
      ["CAPACITY_MAX_CONCURRENT_STREAMS", 1, 10_000],
      ["CAPACITY_MAX_HEADER_BYTES", 1024, 1_048_576],
      ["CAPACITY_PING_INTERVAL_MS", 1000, 3_600_000],
      ["CAPACITY_WORKERS", 1, 64],
      ["CAPACITY_FIRST_REQUEST_TIMEOUT_MS", 100, 600_000],
      ["CAPACITY_MAX_CONNECTIONS", 1, 1_000_000],
      ["CAPACITY_MAX_WATCH_STREAMS", 0, 1_000_000],
      ["CAPACITY_MAX_WATCH_STREAMS_PER_CONNECTION", 0, 10_000],
      ["CAPACITY_RATE_TENANT_CALLS_PER_S", 0, 10_000_000],
      ["CAPACITY_RATE_TENANT_WRITES_PER_S", 0, 10_000_000],
      ["CAPACITY_RATE_APP_CALLS_PER_S", 0, 10_000_000],
      ["CAPACITY_RATE_APP_WRITES_PER_S", 0, 10_000_000],
      ["CAPACITY_RATE_BURST_MS", 1, 600_000],
      ["CAPACITY_RATE_MAX_KEYS", 1, 10_000_000],
    ];

    it.each(limits)("%s takes its smallest (%i) and largest (%i) values", (name, min, max) => {
      for (const value of [min, max]) expect(() => loadConfig({ [name]: String(value) }), `${name}=${value}`).not.toThrow();
    });

    it.each(limits)("%s stops on a non-integer, a negative, one below %i and one above %i, naming the variable and the range", (name, min, max) => {
      const bad = ["1.5", "12abc", "0x10", "1e3", "-1", " - 3", String(max + 1), String(Number.MAX_SAFE_INTEGER * 10), ...(min > 0 ? [String(min - 1)] : [])];
      for (const value of bad) {
        expect(refusal({ [name]: value }), `${name}=${value}`).toBe(`${name} must be a whole number from ${min} to ${max}, got "${value.trim()}"`);
      }
    });

    it("reads the settings that have no other test", () => {
      const c = loadConfig({
        CAPACITY_GRPC_PORT: "9001",
        CAPACITY_ADMIN_PORT: "9191",
        CAPACITY_MAX_DEADLINE_MS: "2500",
        CAPACITY_SHUTDOWN_GRACE_MS: "0",
        CAPACITY_DB_WAIT_MS: "30000",
        CAPACITY_MAX_CONCURRENT_STREAMS: "7",
        CAPACITY_MAX_HEADER_BYTES: "4096",
        CAPACITY_PING_INTERVAL_MS: "1000",
        CAPACITY_WORKERS: "4",
        CAPACITY_FIRST_REQUEST_TIMEOUT_MS: "250",
        CAPACITY_MAX_CONNECTIONS: " 12 ",
        CAPACITY_MAX_WATCH_STREAMS: "0",
        CAPACITY_MAX_WATCH_STREAMS_PER_CONNECTION: "3",
      });
      expect(c).toMatchObject({
        grpcPort: 9001,
        adminPort: 9191,
        maxDeadlineMs: 2500,
        shutdownGraceMs: 0,
        dbWaitMs: 30_000,
        maxConcurrentStreams: 7,
        maxHeaderBytes: 4096,
        pingIntervalMs: 1000,
        workers: 4,
        firstRequestTimeoutMs: 250,
        maxConnections: 12,
        maxWatchStreams: 0,
        maxWatchStreamsPerConnection: 3,
      });
      expect(loadConfig({}).grpcPort).toBeUndefined();
      expect(loadConfig({ CAPACITY_GRPC_PORT: "0" }).grpcPort).toBe(0);
    });
  });
});
