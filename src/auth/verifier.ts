import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyOptions, type JWTVerifyResult } from "jose";
import { DEFAULT_JWT_CLOCK_SKEW_MS, DEFAULT_JWT_MAX_LIFETIME_MS, type JwtConfig } from "../config.js";
import { UnauthenticatedError } from "../domain/errors.js";
import { canonicalReference, isScopeId } from "../domain/ids.js";
import type { Caller } from "./caller.js";

/** Tokens longer than this are rejected before any parsing. */
export const MAX_TOKEN_BYTES = 8192;

/** Turns an `Authorization` header into the verified caller (both engines reach it through Admission). */
export interface TokenVerifier {
  /** Verifies an `Authorization` header value; throws UnauthenticatedError. */
  verify(authorization: string | null | undefined): Promise<Caller>;
}

/**
 * HS256 with a shared secret, or RS256/ES256 with keys from a JWKS URL. The
 * algorithm list is explicit (never what the token header asks for), `exp` is
 * required, `iss`/`aud` are checked when configured, and lifetimes are
 * bounded (see checkLifetime). Every refusal is UnauthenticatedError.
 */
export function createTokenVerifier(
  config: JwtConfig,
  devSecret?: string,
  /** JWKS caching: jose's defaults are 10 min per key set and 30 s between refetches for an unknown kid. */
  jwks: { cacheMaxAge?: number; cooldownDuration?: number } = {},
  /** Verified tokens kept (0 turns the cache off). */
  cacheSize = 10_000,
): TokenVerifier {
  const secret = config.secret ?? devSecret;
  const rules: LifetimeRules = {
    maxLifetimeS: Math.floor((config.maxLifetimeMs ?? DEFAULT_JWT_MAX_LIFETIME_MS) / 1000),
    clockSkewS: Math.floor((config.clockSkewMs ?? DEFAULT_JWT_CLOCK_SKEW_MS) / 1000),
  };
  const options = (algorithms: string[]): JWTVerifyOptions => ({
    algorithms,
    requiredClaims: ["exp"],
    // jose applies the tolerance to nbf (and exp; checkLifetime keeps exp strict).
    clockTolerance: rules.clockSkewS,
    ...(config.issuer !== undefined && { issuer: config.issuer }),
    ...(config.audience !== undefined && { audience: config.audience }),
  });
  let check: (token: string) => Promise<JWTVerifyResult>;
  if (config.jwksUrl !== undefined) {
    const keys = createRemoteJWKSet(new URL(config.jwksUrl), jwks);
    const jwksOptions = options(["RS256", "ES256"]);
    check = (token) => jwtVerify(token, keys, jwksOptions);
  } else if (secret !== undefined) {
    const key = new TextEncoder().encode(secret);
    const previous = config.previousSecret === undefined ? undefined : new TextEncoder().encode(config.previousSecret);
    const hsOptions = options(["HS256"]);
    check = async (token) => {
      try {
        return await jwtVerify(token, key, hsOptions);
      } catch (err) {
        // During a rotation, tokens signed with the previous secret still pass.
        if (previous && err instanceof joseErrors.JWSSignatureVerificationFailed) return jwtVerify(token, previous, hsOptions);
        throw err;
      }
    };
  } else {
    throw new Error("no token verifier configured");
  }

  // No cache entry may outlive the longest lifetime a token can have.
  const cache = new TokenCache(cacheSize, (rules.maxLifetimeS + rules.clockSkewS) * 1000);
  return {
    async verify(authorization) {
      const token = bearer(authorization);
      const cached = cache.get(token);
      if (cached) return cached;
      let payload: JWTPayload;
      try {
        ({ payload } = await check(token));
      } catch (err) {
        throw new UnauthenticatedError(describe(err));
      }
      checkLifetime(payload, rules, Date.now());
      const caller = callerOf(payload);
      // exp is required, so every verified token has it.
      cache.set(token, caller, (payload.exp ?? 0) * 1000);
      return caller;
    },
  };
}

/** Bounds on a token's times, in whole seconds as JWT NumericDates are. */
export interface LifetimeRules {
  /** Longest `exp − iat`, and longest `exp − now` (plus the skew). */
  maxLifetimeS: number;
  /** How far ahead of our clock `iat` and `nbf` may be. */
  clockSkewS: number;
}

/**
 * Refuses a token that claims to be issued in the future, that was issued
 * for longer than the maximum lifetime, or that expires further away than
 * that from now (which bounds tokens without `iat` too). `exp` itself is
 * strict: no skew lets an expired token through. jose has already checked
 * that the claims present are numbers and that `nbf` is not in the future.
 */
export function checkLifetime(payload: JWTPayload, rules: LifetimeRules, nowMs: number): void {
  const now = Math.floor(nowMs / 1000);
  const exp = payload.exp ?? 0;
  if (exp <= now) throw new UnauthenticatedError("token expired");
  if (payload.iat !== undefined) {
    if (payload.iat > now + rules.clockSkewS) {
      throw new UnauthenticatedError(`token claim iat is in the future (more than ${rules.clockSkewS} s of clock skew)`);
    }
    if (exp - payload.iat > rules.maxLifetimeS) {
      throw new UnauthenticatedError(`token lifetime (exp - iat) is longer than the maximum of ${rules.maxLifetimeS} s`);
    }
  }
  if (exp - now > rules.maxLifetimeS + rules.clockSkewS) {
    throw new UnauthenticatedError(`token expires more than the maximum lifetime of ${rules.maxLifetimeS} s from now`);
  }
}

/**
 * Verified tokens, so a client's repeated calls skip signature checks (HMAC
 * and especially RSA/ECDSA through WebCrypto cost far more than the rest of
 * a call). Bounded, least recently used out first, and an entry never outlives
 * its token's exp nor `maxAgeMs` (the longest lifetime the rules allow, so a
 * cached token cannot outlive them). Failures are never cached.
 */
export class TokenCache {
  private readonly entries = new Map<string, { caller: Caller; expiresAt: number }>();

  constructor(
    private readonly max: number,
    private readonly maxAgeMs = Infinity,
  ) {}

  get(token: string): Caller | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    if (entry.expiresAt <= Date.now()) return undefined;
    this.entries.set(token, entry); // most recently used last
    return entry.caller;
  }

  set(token: string, caller: Caller, expiresAt: number): void {
    if (this.max === 0) return;
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { caller, expiresAt: Math.min(expiresAt, Date.now() + this.maxAgeMs) });
  }

  get size(): number {
    return this.entries.size;
  }
}

function bearer(authorization: string | null | undefined): string {
  if (authorization === undefined || authorization === null || authorization === "") {
    throw new UnauthenticatedError("missing Authorization: Bearer <token> header");
  }
  const match = /^Bearer +([A-Za-z0-9_\-.]+)$/i.exec(authorization);
  if (!match?.[1]) throw new UnauthenticatedError("Authorization header must be Bearer <JWT>");
  if (match[1].length > MAX_TOKEN_BYTES) throw new UnauthenticatedError("token too large");
  return match[1];
}

/** A short reason for the caller; never the token or key material. */
function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === "nbf") return "token not yet valid (nbf is in the future)";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${err.claim} is invalid`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "token key id not recognised";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature invalid";
  return "token invalid";
}

function callerOf(payload: JWTPayload): Caller {
  const tenantId = payload["tenant_id"];
  if (!isScopeId(tenantId)) throw new UnauthenticatedError("token claim tenant_id is missing or malformed");
  const sub = typeof payload.sub === "string" ? canonicalReference(payload.sub) : undefined;
  if (sub === undefined) throw new UnauthenticatedError("token claim sub must be a UUID or a prefixed ULID");
  const appId = payload["app_id"];
  if (appId !== undefined && !isScopeId(appId)) throw new UnauthenticatedError("token claim app_id is malformed");
  return { tenantId, personId: sub, appId };
}
