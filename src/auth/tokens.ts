import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT } from "jose";

/** What mintToken puts in a token: `tenant_id`, `sub` and the optional `app_id`, `iss` and `aud` claims. */
export interface TokenClaims {
  tenantId: string;
  /** The calling person's id (a UUID or a type-prefixed ULID, `per_…`). */
  sub: string;
  appId?: string | undefined;
  /** Lifetime in seconds (default one day, the verifier's default maximum). */
  ttlSeconds?: number;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/**
 * Signs an HS256 token with the claims the service reads. `iat` and `exp`
 * come from one clock reading, so `exp − iat` is exactly the lifetime asked
 * for (the verifier refuses one second over its maximum).
 */
export async function mintToken(secret: string, claims: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ tenant_id: claims.tenantId, ...(claims.appId !== undefined && { app_id: claims.appId }) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (claims.ttlSeconds ?? 86_400));
  if (claims.issuer !== undefined) jwt.setIssuer(claims.issuer);
  if (claims.audience !== undefined) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

const DEV_SECRET_FILE = "dev-jwt-secret";

/**
 * The development signing secret kept in the data folder (created on first
 * use, readable by the owner only). Never used when NODE_ENV=production.
 */
export function devSecret(dataDir: string): string {
  const file = join(dataDir, DEV_SECRET_FILE);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8").trim();
    throw err;
  }
  chmodSync(file, 0o600);
  return secret;
}
