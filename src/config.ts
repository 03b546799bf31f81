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
}

export interface JwtConfig {
  /** CAPACITY_JWT_SECRET: HS256 shared secret (at least 32 bytes). */
  secret: string | undefined;
  /** CAPACITY_JWKS_URL: RS256/ES256 public keys. */
  jwksUrl: string | undefined;
  /** CAPACITY_JWT_ISSUER: required `iss` when set. */
  issuer: string | undefined;
  /** CAPACITY_JWT_AUDIENCE: required `aud` when set. */
  audience: string | undefined;
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

/** Reads and validates the configuration; throws ConfigError naming the bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === "production";
  const secret = text(env, "CAPACITY_JWT_SECRET");
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    throw new ConfigError("CAPACITY_JWT_SECRET must be at least 32 bytes long");
  }
  const jwksUrl = url(env, "CAPACITY_JWKS_URL", ["https:", "http:"]);
  if (secret !== undefined && jwksUrl !== undefined) {
    throw new ConfigError("set either CAPACITY_JWT_SECRET or CAPACITY_JWKS_URL, not both");
  }
  if (production && secret === undefined && jwksUrl === undefined) {
    throw new ConfigError(
      "NODE_ENV=production needs a token verifier: set CAPACITY_JWT_SECRET or CAPACITY_JWKS_URL",
    );
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
      jwksUrl,
      issuer: text(env, "CAPACITY_JWT_ISSUER"),
      audience: text(env, "CAPACITY_JWT_AUDIENCE"),
    },
    logLevel,
    readMaxBytes: integer(env, "CAPACITY_READ_MAX_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
  };
}
