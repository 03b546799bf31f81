/**
 * Token attacks over the wire: every one is UNAUTHENTICATED and touches no
 * data, on an HS256 server and on an RS256/ES256 (JWKS) server whose keys
 * rotate.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code } from "@connectrpc/connect";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClient, ok, type TestClient } from "../helpers/clients.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, TEST_SECRET, type TestServer } from "../helpers/server.js";
import { Figures } from "./figures.js";

const figures = new Figures("tokens");
afterAll(() => figures.save());

const SUB = "per_01M8FMTT425T0SWT9WYGC66PKF";
const now = (): number => Math.floor(Date.now() / 1000);
const hour = (): number => now() + 3600;
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");

async function attack(client: TestClient, server: TestServer, t: string, name: string, token: string | undefined, reason?: RegExp): Promise<void> {
  const calls = [
    client.call("setCapacity", { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 5 } }, token),
    client.call("listCapacities", {}, token),
    client.call("getPersonAvailability", { personId: SUB, periodStart: "2027-01-01", periodEnd: "2027-01-02" }, token),
  ];
  for (const out of await Promise.all(calls)) {
    // Counted as they come back, before any assertion: a regression shows in the table too.
    figures.add("token attacks");
    if (!out.ok && out.code === Code.Unauthenticated) figures.add("rejected UNAUTHENTICATED");
    if (reason) figures.add("lifetime attacks (iat, nbf, exp bounds)");
    expect({ name, code: out.ok ? "ok" : out.code }).toEqual({ name, code: Code.Unauthenticated });
    if (reason) expect({ name, message: out.ok ? "" : out.message }).toEqual({ name, message: expect.stringMatching(reason) });
  }
  expect(await server.db.knex("capacities").where({ tenant_id: t }).count({ n: "*" })).toEqual([{ n: 0 }]);
}

describe("HS256 server", () => {
  let server: TestServer;
  let client: TestClient;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { env: { CAPACITY_JWT_ISSUER: "https://idp.example", CAPACITY_JWT_AUDIENCE: "capacity" } });
    client = createTestClient("grpc-js", server.baseUrl);
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it("rejects every forged, stale or malformed token and touches nothing", async () => {
    const t = tenant();
    const key = new TextEncoder().encode(TEST_SECRET);
    const good = { tenant_id: t, sub: SUB, exp: hour(), iss: "https://idp.example", aud: "capacity" };
    const sign = (claims: Record<string, unknown>, secret = key, alg = "HS256") => new SignJWT(claims).setProtectedHeader({ alg }).sign(secret);
    // The baseline: the good token works, and so do the longest lifetime and the clock skew the server allows.
    ok(await client.call("listCapacities", {}, await sign(good)));
    ok(await client.call("listCapacities", {}, await sign({ ...good, iat: now(), exp: now() + 86_400 })));
    ok(await client.call("listCapacities", {}, await sign({ ...good, iat: now() + 30, nbf: now() + 30 })));
    const { exp: _e, ...noExp } = good;
    const { tenant_id: _t, ...noTenant } = good;
    const { sub: _s, ...noSub } = good;
    const cases: Record<string, string | undefined> = {
      "no token": undefined,
      malformed: "not.a.jwt",
      "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64(good)}.`,
      "wrong secret": await sign(good, new TextEncoder().encode("x".repeat(40))),
      "HS512 with the right secret": await sign(good, key, "HS512"),
      expired: await sign({ ...good, exp: Math.floor(Date.now() / 1000) - 60 }),
      "no exp": await sign(noExp),
      "not yet valid (nbf)": await sign({ ...good, nbf: hour() }),
      "wrong iss": await sign({ ...good, iss: "https://evil.example" }),
      "wrong aud": await sign({ ...good, aud: "someone-else" }),
      "missing tenant_id": await sign(noTenant),
      "missing sub": await sign(noSub),
      "tenant_id a number": await sign({ ...good, tenant_id: 7 }),
      "tenant_id an object": await sign({ ...good, tenant_id: { $ne: "" } }),
      "tenant_id with SQL": await sign({ ...good, tenant_id: "x' OR '1'='1" }),
      "sub not an id": await sign({ ...good, sub: "admin" }),
      "signature stripped": (await sign(good)).split(".").slice(0, 2).join(".") + ".",
      "payload swapped": (() => {
        return "";
      })(),
      "oversized (10 KB)": await sign({ ...good, pad: "x".repeat(10_000) }),
    };
    // A valid signature over one payload, grafted onto another.
    const [h, , s] = (await sign(good)).split(".");
    cases["payload swapped"] = `${h}.${b64({ ...good, tenant_id: "someone-else" })}.${s}`;
    for (const [name, token] of Object.entries(cases)) await attack(client, server, t, name, token);
    // Lifetime bounds (defaults: 24 h, 60 s of clock skew), each refused with its reason.
    const lifetime: Record<string, [string, RegExp]> = {
      "nbf past the clock skew (2 min ahead)": [await sign({ ...good, nbf: now() + 120 }), /not yet valid \(nbf/],
      "exp in the year 31 million": [await sign({ ...good, iat: now(), exp: 1e15 }), /lifetime \(exp - iat\) is longer than the maximum of 86400 s/],
      "exp 2 days away, no iat": [await sign({ ...good, exp: now() + 2 * 86_400 }), /expires more than the maximum lifetime of 86400 s from now/],
      "exp - iat one second over 24 h": [await sign({ ...good, iat: now(), exp: now() + 86_401 }), /lifetime \(exp - iat\)/],
      "iat ten years ahead": [await sign({ ...good, iat: now() + 10 * 365 * 86_400 }), /iat is in the future/],
      "iat past the clock skew (2 min ahead)": [await sign({ ...good, iat: now() + 120 }), /iat is in the future/],
      "old iat hiding a far exp": [await sign({ ...good, iat: now() - 10 * 86_400, exp: now() + 2 * 86_400 }), /lifetime \(exp - iat\)/],
    };
    for (const [name, [token, why]] of Object.entries(lifetime)) await attack(client, server, t, name, token, why);
  });
});

describe("JWKS (RS256/ES256) server", () => {
  let jwks: http.Server;
  let keys: JWK[] = [];
  let server: TestServer;
  let client: TestClient;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  beforeAll(async () => {
    rsa = await generateKeyPair("RS256", { extractable: true });
    keys = [{ ...(await exportJWK(rsa.publicKey)), kid: "k1", alg: "RS256", use: "sig" }];
    jwks = http.createServer((_req, res) => res.end(JSON.stringify({ keys })));
    await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    server = await startTestServer("sqlite", { env: { CAPACITY_JWT_SECRET: "", CAPACITY_JWKS_URL: url } });
    client = createTestClient("connect-json-http1", server.baseUrl);
  });
  afterAll(async () => {
    client.close();
    await server.close();
    await new Promise<void>((r) => jwks.close(() => r()));
  });

  it("accepts its keys, and refuses algorithm confusion, unknown kids and HS256", async () => {
    const t = tenant();
    const claims = { tenant_id: t, sub: SUB, exp: hour() };
    ok(await client.call("listCapacities", {}, await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(rsa.privateKey)));
    const publicJwk = new TextEncoder().encode(JSON.stringify(keys[0]));
    const publicPem = new TextEncoder().encode(
      `-----BEGIN PUBLIC KEY-----\n${Buffer.from(await crypto.subtle.exportKey("spki", rsa.publicKey)).toString("base64")}\n-----END PUBLIC KEY-----\n`,
    );
    const stranger = await generateKeyPair("RS256");
    const cases: Record<string, string> = {
      "HS256 signed with the public key (JWK)": await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(publicJwk),
      "HS256 signed with the public key (PEM)": await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(publicPem),
      "HS256 with the old shared secret": await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(TEST_SECRET)),
      "kid not in the JWKS": await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k9" }).sign(stranger.privateKey),
      "right kid, wrong key": await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(stranger.privateKey),
    };
    for (const [name, token] of Object.entries(cases)) await attack(client, server, t, name, token);
  });

  it("follows a rotation: a new kid works once published", async () => {
    const next = await generateKeyPair("ES256", { extractable: true });
    keys = [...keys, { ...(await exportJWK(next.publicKey)), kid: "k2", alg: "ES256", use: "sig" }];
    const token = await new SignJWT({ tenant_id: tenant(), sub: SUB, exp: hour() }).setProtectedHeader({ alg: "ES256", kid: "k2" }).sign(next.privateKey);
    // jose refetches an unknown kid at most every 30 s; the first lookup of k2 happens now.
    let answer = await client.call("listCapacities", {}, token);
    for (let i = 0; i < 40 && !answer.ok; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      answer = await client.call("listCapacities", {}, token);
    }
    expect(answer.ok).toBe(true);
  }, 60_000);
});
