import { existsSync } from "node:fs";
import { resolve } from "node:path";

/** Everything the service reads from its environment, validated once at start-up. */
export interface Config {
  /** `NODE_ENV=production`: no development secret, no token printing. */
  production: boolean;
  /** CAPACITY_HOST (default `0.0.0.0`). */
  host: string;
  /** CAPACITY_PORT (default 8080; 0 picks a free port). */
  port: number;
  /** CAPACITY_DATABASE_URL: `mysql://…` selects MySQL; unset selects the embedded SQLite file. */
  databaseUrl: string | undefined;
  /** CAPACITY_DATA_DIR (default `./data`): the embedded database and the development secret. */
  dataDir: string;
  /** CAPACITY_DB_POOL_MAX (default 10): MySQL connections per process. */
  dbPoolMax: number;
  jwt: JwtConfig;
  /** CAPACITY_LOG_LEVEL (default `info`). */
  logLevel: string;
  /** CAPACITY_READ_MAX_BYTES (default 1 MiB): larger request messages are RESOURCE_EXHAUSTED. */
  readMaxBytes: number;
  /**
   * CAPACITY_MAX_RESPONSE_BYTES (default 4 MiB): no response message may be
   * larger; one that would be is RESOURCE_EXHAUSTED (list pages stop short instead).
   */
  maxResponseBytes: number;
  /**
   * CAPACITY_AVAILABILITY_MAX_ALLOCATIONS (default 50,000): capacities one
   * availability call may consider (all people of a batch together); more is RESOURCE_EXHAUSTED.
   */
  availabilityMaxAllocations: number;
  /** CAPACITY_CORS_ORIGINS: comma-separated exact origins whose pages may call the API. */
  corsOrigins: string[];
  /** CAPACITY_UI (`on`/`off`; default on outside production): the web page at /ui. */
  ui: boolean;
  /** CAPACITY_TLS_CERT_FILE and CAPACITY_TLS_KEY_FILE: serve TLS (HTTP/2 and HTTP/1.1 by ALPN). */
  tls: { certFile: string; keyFile: string } | undefined;
  /** CAPACITY_GRPC_PORT: also serve gRPC with the grpc-js engine on this port (unset: off). */
  grpcPort: number | undefined;
  /** CAPACITY_ADMIN_PORT (default 9090; 0 picks a free port): /metrics, /healthz, /readyz. */
  adminPort: number;
  /**
   * CAPACITY_ADMIN_HOST (default `127.0.0.1`): metrics and probes stay on the
   * machine unless an operator opens them (a pod sets `0.0.0.0` for kubelet probes).
   */
  adminHost: string;
  /** CAPACITY_MAX_DEADLINE_MS (default 10 s): cap on every call's deadline, also for calls without one. */
  maxDeadlineMs: number;
  /** CAPACITY_SHUTDOWN_GRACE_MS (default 10 s): how long in-flight calls may finish after SIGTERM. */
  shutdownGraceMs: number;
  /** CAPACITY_DB_WAIT_MS (default 0 = forever): how long start-up waits for the database. */
  dbWaitMs: number;
  /** CAPACITY_MAX_CONCURRENT_STREAMS (default 100): HTTP/2 streams per connection. */
  maxConcurrentStreams: number;
  /** CAPACITY_MAX_HEADER_BYTES (default 16 KiB): request header size limit. */
  maxHeaderBytes: number;
  /** CAPACITY_PING_INTERVAL_MS (default 30 s): HTTP/2 keepalive pings on idle sessions. */
  pingIntervalMs: number;
  /** CAPACITY_WORKERS (default 1): processes sharing the ports; more use more cores. */
  workers: number;
  /** CAPACITY_FIRST_REQUEST_TIMEOUT_MS (default 10 s): a new connection's time to send its first complete request headers (protocol sniffing and TLS included). */
  firstRequestTimeoutMs: number;
  /** CAPACITY_MAX_CONNECTIONS (default 4096): connections the main port holds per process; more are closed on arrival. */
  maxConnections: number;
  /** CAPACITY_MAX_WATCH_STREAMS (default 1000): open Health/Watch streams per process. */
  maxWatchStreams: number;
  /** CAPACITY_MAX_WATCH_STREAMS_PER_CONNECTION (default 16): open Health/Watch streams per connection. */
  maxWatchStreamsPerConnection: number;
  /**
   * Per-process rate limits (0 turns one off): CAPACITY_RATE_TENANT_CALLS_PER_S
   * (default 2000), CAPACITY_RATE_TENANT_WRITES_PER_S (500),
   * CAPACITY_RATE_APP_CALLS_PER_S (2000), CAPACITY_RATE_APP_WRITES_PER_S (500),
   * CAPACITY_RATE_BURST_MS (2000: a bucket holds two seconds of its rate),
   * CAPACITY_RATE_MAX_KEYS (100,000 buckets per limit).
   */
  rateLimits: RateLimitConfig;
}

/** How tokens are verified: a shared HS256 secret or a JWKS URL (never both), and the claim checks. */
export interface JwtConfig {
  /** CAPACITY_JWT_SECRET: HS256 shared secret (at least 32 bytes). */
  secret: string | undefined;
  /** CAPACITY_JWT_SECRET_PREVIOUS: also accepted while issuers move to a new secret. */
  previousSecret?: string | undefined;
  /** CAPACITY_JWKS_URL: RS256/ES256 public keys. */
  jwksUrl: string | undefined;
  /** CAPACITY_JWT_ISSUER: required `iss` when set. */
  issuer: string | undefined;
  /** CAPACITY_JWT_AUDIENCE: required `aud` when set. */
  audience: string | undefined;
  /**
   * CAPACITY_JWT_MAX_LIFETIME_MS (default 24 h): longest a token may live, as
   * `exp − iat` and as `exp − now`. Whole seconds count (JWT times are seconds).
   */
  maxLifetimeMs?: number | undefined;
  /** CAPACITY_JWT_CLOCK_SKEW_MS (default 60 s): how far in the future `iat` and `nbf` may be. */
  clockSkewMs?: number | undefined;
}

/** Default longest token lifetime: one day, what `npm run token` and the development banner mint. */
export const DEFAULT_JWT_MAX_LIFETIME_MS = 86_400_000;
/** Default tolerance for an issuer whose clock runs ahead of ours. */
export const DEFAULT_JWT_CLOCK_SKEW_MS = 60_000;

/** Sustained rates (per second; 0 turns that limit off), the burst and the memory bound. */
export interface RateLimitConfig {
  /** Calls per second of one tenant, all methods. */
  tenantCallsPerS: number;
  /** Writes per second of one tenant (SetCapacity, DeleteCapacity, UndeleteCapacity, ConfirmCapacity). */
  tenantWritesPerS: number;
  /** Calls per second of one app of a tenant (tokens without `app_id` count as one app). */
  appCallsPerS: number;
  /** Writes per second of one app of a tenant. */
  appWritesPerS: number;
  /** A bucket holds this many milliseconds of its rate: the burst an idle caller may send at once. */
  burstMs: number;
  /** Buckets kept per limit; beyond it the least recently used is forgotten (and comes back full). */
  maxKeys: number;
}

/** A setting that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(" or ")}`);
  }
  return raw;
}

function origins(env: Env, name: string): string[] {
  const raw = text(env, name);
  if (raw === undefined) return [];
  return raw.split(",").map((entry) => {
    const origin = entry.trim();
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(`${name}: "${origin}" is not an origin such as https://app.example.com`);
    }
    if (origin.includes("*")) throw new ConfigError(`${name}: wildcards are not allowed ("${origin}")`);
    if (!["http:", "https:"].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(`${name}: "${origin}" must be exactly scheme://host[:port], no path or trailing slash`);
    }
    return origin;
  });
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (["on", "true", "1"].includes(raw)) return true;
  if (["off", "false", "0"].includes(raw)) return false;
  throw new ConfigError(`${name} must be on or off, got "${raw}"`);
}

function tls(env: Env): Config["tls"] {
  const certFile = text(env, "CAPACITY_TLS_CERT_FILE");
  const keyFile = text(env, "CAPACITY_TLS_KEY_FILE");
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError("set both CAPACITY_TLS_CERT_FILE and CAPACITY_TLS_KEY_FILE, or neither");
  }
  for (const [name, file] of [
    ["CAPACITY_TLS_CERT_FILE", certFile],
    ["CAPACITY_TLS_KEY_FILE", keyFile],
  ] as const) {
    if (!existsSync(file)) throw new ConfigError(`${name}: no file at ${file}`);
  }
  return { certFile, keyFile };
}

/**
 * Reads and validates the configuration; throws ConfigError naming the bad
 * variable. Tools that do not serve (migrate) skip the verifier requirement.
 */
export function loadConfig(env: Env = process.env, { serving = true }: { serving?: boolean } = {}): Config {
  const production = env.NODE_ENV === "production";
  const secret = text(env, "CAPACITY_JWT_SECRET");
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    throw new ConfigError("CAPACITY_JWT_SECRET must be at least 32 bytes long");
  }
  const previousSecret = text(env, "CAPACITY_JWT_SECRET_PREVIOUS");
  if (previousSecret !== undefined && (secret === undefined || Buffer.byteLength(previousSecret) < 32)) {
    throw new ConfigError("CAPACITY_JWT_SECRET_PREVIOUS needs CAPACITY_JWT_SECRET and must be at least 32 bytes long");
  }
  const jwksUrl = url(env, "CAPACITY_JWKS_URL", ["https:", "http:"]);
  if (secret !== undefined && jwksUrl !== undefined) {
    throw new ConfigError("set either CAPACITY_JWT_SECRET or CAPACITY_JWKS_URL, not both");
  }
  if (serving && production && secret === undefined && jwksUrl === undefined) {
    throw new ConfigError("NODE_ENV=production needs a token verifier: set CAPACITY_JWT_SECRET or CAPACITY_JWKS_URL");
  }
  const logLevel = text(env, "CAPACITY_LOG_LEVEL") ?? "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError(`CAPACITY_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent`);
  }
  return {
    production,
    host: text(env, "CAPACITY_HOST") ?? "0.0.0.0",
    port: integer(env, "CAPACITY_PORT", 8080, 0, 65535),
    databaseUrl: url(env, "CAPACITY_DATABASE_URL", ["mysql:"]),
    dataDir: resolve(text(env, "CAPACITY_DATA_DIR") ?? "data"),
    dbPoolMax: integer(env, "CAPACITY_DB_POOL_MAX", 10, 1, 1000),
    jwt: {
      secret,
      previousSecret,
      jwksUrl,
      issuer: text(env, "CAPACITY_JWT_ISSUER"),
      audience: text(env, "CAPACITY_JWT_AUDIENCE"),
      maxLifetimeMs: integer(env, "CAPACITY_JWT_MAX_LIFETIME_MS", DEFAULT_JWT_MAX_LIFETIME_MS, 60_000, 31_536_000_000),
      clockSkewMs: integer(env, "CAPACITY_JWT_CLOCK_SKEW_MS", DEFAULT_JWT_CLOCK_SKEW_MS, 0, 600_000),
    },
    logLevel,
    readMaxBytes: integer(env, "CAPACITY_READ_MAX_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxResponseBytes: integer(env, "CAPACITY_MAX_RESPONSE_BYTES", 4 * 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
    availabilityMaxAllocations: integer(env, "CAPACITY_AVAILABILITY_MAX_ALLOCATIONS", 50_000, 1, 10_000_000),
    corsOrigins: origins(env, "CAPACITY_CORS_ORIGINS"),
    ui: onOff(env, "CAPACITY_UI", !production),
    tls: tls(env),
    grpcPort: text(env, "CAPACITY_GRPC_PORT") === undefined ? undefined : integer(env, "CAPACITY_GRPC_PORT", 0, 0, 65535),
    adminPort: integer(env, "CAPACITY_ADMIN_PORT", 9090, 0, 65535),
    adminHost: text(env, "CAPACITY_ADMIN_HOST") ?? "127.0.0.1",
    maxDeadlineMs: integer(env, "CAPACITY_MAX_DEADLINE_MS", 10_000, 10, 3_600_000),
    shutdownGraceMs: integer(env, "CAPACITY_SHUTDOWN_GRACE_MS", 10_000, 0, 3_600_000),
    dbWaitMs: integer(env, "CAPACITY_DB_WAIT_MS", 0, 0, 86_400_000),
    maxConcurrentStreams: integer(env, "CAPACITY_MAX_CONCURRENT_STREAMS", 100, 1, 10_000),
    maxHeaderBytes: integer(env, "CAPACITY_MAX_HEADER_BYTES", 16_384, 1024, 1_048_576),
    pingIntervalMs: integer(env, "CAPACITY_PING_INTERVAL_MS", 30_000, 1000, 3_600_000),
    workers: integer(env, "CAPACITY_WORKERS", 1, 1, 64),
    firstRequestTimeoutMs: integer(env, "CAPACITY_FIRST_REQUEST_TIMEOUT_MS", 10_000, 100, 600_000),
    maxConnections: integer(env, "CAPACITY_MAX_CONNECTIONS", 4096, 1, 1_000_000),
    maxWatchStreams: integer(env, "CAPACITY_MAX_WATCH_STREAMS", 1000, 0, 1_000_000),
    maxWatchStreamsPerConnection: integer(env, "CAPACITY_MAX_WATCH_STREAMS_PER_CONNECTION", 16, 0, 10_000),
    rateLimits: {
      tenantCallsPerS: integer(env, "CAPACITY_RATE_TENANT_CALLS_PER_S", 2000, 0, 10_000_000),
      tenantWritesPerS: integer(env, "CAPACITY_RATE_TENANT_WRITES_PER_S", 500, 0, 10_000_000),
      appCallsPerS: integer(env, "CAPACITY_RATE_APP_CALLS_PER_S", 2000, 0, 10_000_000),
      appWritesPerS: integer(env, "CAPACITY_RATE_APP_WRITES_PER_S", 500, 0, 10_000_000),
      burstMs: integer(env, "CAPACITY_RATE_BURST_MS", 2000, 1, 600_000),
      maxKeys: integer(env, "CAPACITY_RATE_MAX_KEYS", 100_000, 1, 10_000_000),
    },
  };
}
