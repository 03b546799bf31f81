/**
 * Mints a development token: npm run token -- --tenant T --sub S [--app A] [--ttl SECONDS]
 * Signs with CAPACITY_JWT_SECRET, or with the development secret in the data folder.
 */
import { parseArgs } from "node:util";
import { devSecret, mintToken } from "../auth/tokens.js";
import { DEFAULT_JWT_MAX_LIFETIME_MS, loadConfig } from "../config.js";
import { canonicalReference, isScopeId } from "../domain/ids.js";

function fail(message: string): never {
  process.stderr.write(`token: ${message}\nusage: npm run token -- --tenant T --sub S [--app A] [--ttl SECONDS]\n`);
  process.exit(2);
}

/** The command line, or the usage for an unknown option or a missing value. */
function readArgs() {
  try {
    return parseArgs({
      options: {
        tenant: { type: "string" },
        sub: { type: "string" },
        app: { type: "string" },
        ttl: { type: "string", default: "86400" },
      },
    }).values;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

const values = readArgs();

const config = loadConfig();
if (config.jwt.jwksUrl !== undefined) fail("CAPACITY_JWKS_URL is set: tokens come from your identity provider");
if (!isScopeId(values.tenant)) fail("--tenant is required: 1-64 letters, digits, '_', '-', '.'");
if (values.sub === undefined || canonicalReference(values.sub) === undefined) {
  fail("--sub is required: a UUID or a prefixed ULID such as per_01HV6Z0Q6M3W3Y4X5V6T7S8R9P");
}
if (values.app !== undefined && !isScopeId(values.app)) fail("--app must be 1-64 letters, digits, '_', '-', '.'");
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) fail("--ttl must be a positive number of seconds");
const maxTtl = Math.floor((config.jwt.maxLifetimeMs ?? DEFAULT_JWT_MAX_LIFETIME_MS) / 1000);
if (ttl > maxTtl) fail(`--ttl must be at most ${maxTtl} s: the server refuses longer-lived tokens (CAPACITY_JWT_MAX_LIFETIME_MS)`);
if (config.production && config.jwt.secret === undefined) fail("NODE_ENV=production needs CAPACITY_JWT_SECRET");

const secret = config.jwt.secret ?? devSecret(config.dataDir);
const token = await mintToken(secret, {
  tenantId: values.tenant,
  sub: values.sub,
  appId: values.app,
  ttlSeconds: ttl,
  issuer: config.jwt.issuer,
  audience: config.jwt.audience,
});
process.stdout.write(`${token}\n`);
