import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenVerifier } from "../../src/auth/verifier.js";
import { UnauthenticatedError } from "../../src/domain/errors.js";

const SECRET = "0123456789abcdef0123456789abcdef-secret";
const SUB = "per_01M8FMTT425T0SWT9WYGC66PKF";
const key = new TextEncoder().encode(SECRET);
const hour = () => Math.floor(Date.now() / 1000) + 3600;

function sign(claims: Record<string, unknown>, header: { alg: string; kid?: string } = { alg: "HS256" }, signingKey: Parameters<SignJWT["sign"]>[0] = key) {
  return new SignJWT(claims).setProtectedHeader(header).sign(signingKey);
}

async function reason(verify: Promise<unknown>): Promise<string> {
  try {
    await verify;
  } catch (err) {
    expect(err).toBeInstanceOf(UnauthenticatedError);
    return (err as Error).message;
  }
  throw new Error("expected UnauthenticatedError");
}

describe("HS256 verifier", () => {
  const verifier = createTokenVerifier({ secret: SECRET, jwksUrl: undefined, issuer: "https://idp.example", audience: "capacity" });
  const good = { tenant_id: "acme", sub: SUB, exp: hour(), iss: "https://idp.example", aud: "capacity" };

  it("returns the caller from a valid token, canonicalizing sub", async () => {
    const caller = await verifier.verify(`Bearer ${await sign({ ...good, sub: SUB.toLowerCase(), app_id: "crm" })}`);
    expect(caller).toEqual({ tenantId: "acme", personId: SUB, appId: "crm" });
  });

  it("accepts a UUID sub and no app", async () => {
    const caller = await verifier.verify(`Bearer ${await sign({ ...good, sub: "3F2504E0-4F89-11D3-9A0C-0305E82C3301" })}`);
    expect(caller).toEqual({ tenantId: "acme", personId: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", appId: undefined });
  });

  it.each<[string, () => string | undefined | Promise<string | undefined>]>([
    ["no header", () => undefined],
    ["an empty header", () => ""],
    ["a Basic header", () => "Basic dXNlcjpwYXNz"],
    ["a malformed token", () => "Bearer not.a.jwt"],
    ["garbage characters", () => "Bearer a b c"],
    ["an oversized token", () => `Bearer ${"a".repeat(9000)}`],
    [
      "alg none",
      () => {
        const h = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
        const p = Buffer.from(JSON.stringify(good)).toString("base64url");
        return `Bearer ${h}.${p}.`;
      },
    ],
    ["a wrong secret", async () => `Bearer ${await sign(good, { alg: "HS256" }, new TextEncoder().encode("another-secret-another-secret-123456"))}`],
    ["HS512", async () => `Bearer ${await sign(good, { alg: "HS512" })}`],
    ["an expired token", async () => `Bearer ${await sign({ ...good, exp: Math.floor(Date.now() / 1000) - 120 })}`],
    [
      "no exp",
      async () => {
        const { exp: _exp, ...rest } = good;
        return `Bearer ${await sign(rest)}`;
      },
    ],
    ["a future nbf", async () => `Bearer ${await sign({ ...good, nbf: hour() })}`],
    ["a wrong iss", async () => `Bearer ${await sign({ ...good, iss: "https://evil.example" })}`],
    ["a wrong aud", async () => `Bearer ${await sign({ ...good, aud: "other" })}`],
    [
      "no tenant_id",
      async () => {
        const { tenant_id: _t, ...rest } = good;
        return `Bearer ${await sign(rest)}`;
      },
    ],
    ["a numeric tenant_id", async () => `Bearer ${await sign({ ...good, tenant_id: 42 })}`],
    ["a tenant_id with spaces", async () => `Bearer ${await sign({ ...good, tenant_id: "acme corp" })}`],
    [
      "no sub",
      async () => {
        const { sub: _s, ...rest } = good;
        return `Bearer ${await sign(rest)}`;
      },
    ],
    ["a sub that is not an id", async () => `Bearer ${await sign({ ...good, sub: "alice" })}`],
    ["a malformed app_id", async () => `Bearer ${await sign({ ...good, app_id: ["crm"] })}`],
  ])("rejects %s", async (_name, header) => {
    expect(await reason(verifier.verify(await header()))).not.toMatch(/eyJ/);
  });
});

describe("HS256 secret rotation", () => {
  it("accepts the previous secret alongside the new one, and nothing else", async () => {
    const next = "new-secret-new-secret-new-secret-0123456";
    const verifier = createTokenVerifier({ secret: next, previousSecret: SECRET, jwksUrl: undefined, issuer: undefined, audience: undefined });
    const claims = { tenant_id: "acme", sub: SUB, exp: hour() };
    expect((await verifier.verify(`Bearer ${await sign(claims)}`)).tenantId).toBe("acme");
    expect((await verifier.verify(`Bearer ${await sign(claims, { alg: "HS256" }, new TextEncoder().encode(next))}`)).tenantId).toBe("acme");
    const other = new TextEncoder().encode("other-secret-other-secret-other-secret-0");
    expect(await reason(verifier.verify(`Bearer ${await sign(claims, { alg: "HS256" }, other)}`))).toBe("token signature invalid");
  });
});

describe("JWKS verifier (RS256, ES256)", () => {
  let server: http.Server;
  let keys: JWK[] = [];
  let url = "";
  const rsa = generateKeyPair("RS256", { extractable: true });
  const ec = generateKeyPair("ES256", { extractable: true });

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    keys = [
      { ...(await exportJWK((await rsa).publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" },
      { ...(await exportJWK((await ec).publicKey)), kid: "ec-1", alg: "ES256", use: "sig" },
    ];
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const claims = () => ({ tenant_id: "acme", sub: SUB, exp: hour() });

  it("accepts RS256 and ES256 tokens whose kid is in the set", async () => {
    const verifier = createTokenVerifier({ secret: undefined, jwksUrl: url, issuer: undefined, audience: undefined });
    const rs = await sign(claims(), { alg: "RS256", kid: "rsa-1" }, (await rsa).privateKey);
    const es = await sign(claims(), { alg: "ES256", kid: "ec-1" }, (await ec).privateKey);
    expect((await verifier.verify(`Bearer ${rs}`)).tenantId).toBe("acme");
    expect((await verifier.verify(`Bearer ${es}`)).tenantId).toBe("acme");
  });

  it("rejects a kid not in the set, and HS256 signed with the public key (algorithm confusion)", async () => {
    const verifier = createTokenVerifier({ secret: undefined, jwksUrl: url, issuer: undefined, audience: undefined });
    const other = await generateKeyPair("RS256");
    const unknownKid = await sign(claims(), { alg: "RS256", kid: "rsa-9" }, other.privateKey);
    expect(await reason(verifier.verify(`Bearer ${unknownKid}`))).toMatch(/key/);
    const publicPem = new TextEncoder().encode(JSON.stringify(keys[0]));
    const confused = await sign(claims(), { alg: "HS256", kid: "rsa-1" }, publicPem);
    expect(await reason(verifier.verify(`Bearer ${confused}`))).toMatch(/algorithm|invalid/);
  });

  it("follows a key rotation: a new kid is fetched, a removed one stops working", async () => {
    const verifier = createTokenVerifier({ secret: undefined, jwksUrl: url, issuer: undefined, audience: undefined }, undefined, {
      cooldownDuration: 0,
    });
    const old = await sign(claims(), { alg: "RS256", kid: "rsa-1" }, (await rsa).privateKey);
    await verifier.verify(`Bearer ${old}`);
    const next = await generateKeyPair("RS256", { extractable: true });
    keys = [{ ...(await exportJWK(next.publicKey)), kid: "rsa-2", alg: "RS256", use: "sig" }];
    const fresh = await sign(claims(), { alg: "RS256", kid: "rsa-2" }, next.privateKey);
    expect((await verifier.verify(`Bearer ${fresh}`)).tenantId).toBe("acme");
    // A brand-new verifier (a restarted replica) no longer knows rsa-1.
    const restarted = createTokenVerifier({ secret: undefined, jwksUrl: url, issuer: undefined, audience: undefined });
    expect(await reason(restarted.verify(`Bearer ${old}`))).toMatch(/key/);
  });
});

describe("verified-token cache", () => {
  it("never answers a cached token past its exp", async () => {
    const verifier = createTokenVerifier({ secret: SECRET, jwksUrl: undefined, issuer: undefined, audience: undefined });
    const token = await sign({ tenant_id: "acme", sub: SUB, exp: Math.floor(Date.now() / 1000) + 2 });
    for (let i = 0; i < 3; i++) expect((await verifier.verify(`Bearer ${token}`)).tenantId).toBe("acme");
    await new Promise((r) => setTimeout(r, 2100));
    expect(await reason(verifier.verify(`Bearer ${token}`))).toBe("token expired");
  });

  it("is bounded, dropping the least recently used", async () => {
    const { TokenCache } = await import("../../src/auth/verifier.js");
    const cache = new TokenCache(2);
    const caller = { tenantId: "t", personId: SUB, appId: undefined };
    const later = Date.now() + 60_000;
    cache.set("a", caller, later);
    cache.set("b", caller, later);
    cache.get("a");
    cache.set("c", caller, later);
    expect([cache.get("a"), cache.get("b"), cache.get("c")].map(Boolean)).toEqual([true, false, true]);
    cache.set("old", caller, Date.now() - 1);
    expect(cache.get("old")).toBeUndefined();
  });
});

describe("token lifetime", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const day = 86_400;
  // Defaults: 24 h maximum lifetime, 60 s clock skew.
  const verifier = createTokenVerifier({ secret: SECRET, jwksUrl: undefined, issuer: undefined, audience: undefined });
  const claims = (times: Record<string, number>) => ({ tenant_id: "acme", sub: SUB, ...times });

  it.each<[string, () => Record<string, number>]>([
    ["exactly the maximum lifetime", () => ({ iat: now(), exp: now() + day })],
    ["no iat and exp within the maximum from now", () => ({ exp: now() + day })],
    ["iat and nbf ahead by less than the clock skew", () => ({ iat: now() + 30, nbf: now() + 30, exp: now() + 3600 })],
    ["a token issued long ago whose exp - iat is within the maximum", () => ({ iat: now() - day + 60, exp: now() + 60 })],
  ])("accepts %s", async (_name, times) => {
    expect((await verifier.verify(`Bearer ${await sign(claims(times()))}`)).tenantId).toBe("acme");
  });

  it.each<[string, () => Record<string, number>, RegExp]>([
    ["exp in the year 31 million", () => ({ iat: now(), exp: 1e15 }), /lifetime \(exp - iat\) is longer than the maximum of 86400 s/],
    ["exp - iat one second over the maximum", () => ({ iat: now(), exp: now() + day + 1 }), /lifetime \(exp - iat\)/],
    ["iat ten years ahead", () => ({ iat: now() + 10 * 365 * day, exp: now() + 3600 }), /iat is in the future/],
    ["iat just past the clock skew", () => ({ iat: now() + 120, exp: now() + 3600 }), /iat is in the future/],
    ["nbf just past the clock skew", () => ({ nbf: now() + 120, exp: now() + 3600 }), /not yet valid \(nbf/],
    ["no iat and exp two days away", () => ({ exp: now() + 2 * day }), /expires more than the maximum lifetime of 86400 s from now/],
    ["an old iat hiding a far exp", () => ({ iat: now() - 10 * day, exp: now() + 2 * day }), /lifetime \(exp - iat\)/],
    ["an exp that passed within the clock skew", () => ({ iat: now() - 600, exp: now() - 5 }), /^token expired$/],
  ])("rejects %s", async (_name, times, why) => {
    expect(await reason(verifier.verify(`Bearer ${await sign(claims(times()))}`))).toMatch(why);
  });

  it("follows configured limits", async () => {
    const strict = createTokenVerifier({ secret: SECRET, jwksUrl: undefined, issuer: undefined, audience: undefined, maxLifetimeMs: 600_000, clockSkewMs: 0 });
    expect((await strict.verify(`Bearer ${await sign(claims({ iat: now(), exp: now() + 600 }))}`)).tenantId).toBe("acme");
    expect(await reason(strict.verify(`Bearer ${await sign(claims({ iat: now(), exp: now() + 3600 }))}`))).toMatch(/maximum of 600 s/);
    expect(await reason(strict.verify(`Bearer ${await sign(claims({ iat: now() + 5, exp: now() + 300 }))}`))).toMatch(/iat is in the future/);
    expect(await reason(strict.verify(`Bearer ${await sign(claims({ nbf: now() + 5, exp: now() + 300 }))}`))).toMatch(/nbf/);
  });

  it("refuses a too-long token every time: a refusal is never cached as a success", async () => {
    const token = await sign(claims({ exp: now() + 2 * day }));
    for (let i = 0; i < 3; i++) expect(await reason(verifier.verify(`Bearer ${token}`))).toMatch(/maximum lifetime/);
  });

  it("keeps no cache entry longer than the maximum age, whatever exp it is given", async () => {
    const { TokenCache } = await import("../../src/auth/verifier.js");
    const cache = new TokenCache(10, 50);
    const caller = { tenantId: "t", personId: SUB, appId: undefined };
    cache.set("far", caller, Date.now() + 1e12);
    expect(cache.get("far")).toBeDefined();
    await new Promise((r) => setTimeout(r, 120));
    expect(cache.get("far")).toBeUndefined();
  });

  it("mints tokens (npm run token, the development banner) that pass at the default maximum", async () => {
    const { mintToken } = await import("../../src/auth/tokens.js");
    const token = await mintToken(SECRET, { tenantId: "acme", sub: SUB, ttlSeconds: day });
    expect((await verifier.verify(`Bearer ${token}`)).tenantId).toBe("acme");
    const { loadConfig } = await import("../../src/config.js");
    const defaults = loadConfig({});
    expect([defaults.jwt.maxLifetimeMs, defaults.jwt.clockSkewMs]).toEqual([86_400_000, 60_000]);
  });
});
