/**
 * Token attacks over the wire: every one is UNAUTHENTICATED and touches no
 * data, neither in the tenant the attacker holds a real token for nor in the
 * victim tenant its forged tokens claim (both hold records; counts and rows
 * compared before and after), on an HS256 server and on an RS256/ES256 (JWKS)
 * server whose keys rotate.
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
import { countCapacities, tenantRows } from "./tenant-rows.js";

const figures = new Figures("tokens");
afterAll(() => figures.save());

const SUB = "per_01M8FMTT425T0SWT9WYGC66PKF";
const now = (): number => Math.floor(Date.now() / 1000);
const hour = (): number => now() + 3600;
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");

/** The tenant the attacker holds a real token for, and the victim tenant with one of its record ids. */
interface Tenants {
  attacker: string;
  victim: string;
  victimRecord: string;
}

/** Each tenant's capacity count and rows (in every table the service writes). */
async function snapshot(server: TestServer, tenants: Tenants) {
  const of = async (t: string) => ({ count: await countCapacities(server.db.knex, t), rows: await tenantRows(server.db.knex, t) });
  return { attacker: await of(tenants.attacker), victim: await of(tenants.victim) };
}

/** Two records in each tenant, written with valid tokens, so that "unchanged" means something. */
async function seed(client: TestClient, server: TestServer, attacker: string, victim: string, tokens: { attacker: string; victim: string }): Promise<Tenants> {
  const ids: Record<string, string[]> = { attacker: [], victim: [] };
  for (const who of ["attacker", "victim"] as const) {
    for (let i = 0; i < 2; i++) {
      const c = ok(
        await client.call(
          "setCapacity",
          {
            capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10, notes: `${who} ${i}` },
          },
          tokens[who],
        ),
      );
      ids[who]!.push(c.id);
    }
  }
  const tenants = { attacker, victim, victimRecord: ids.victim![0]! };
  const seeded = await snapshot(server, tenants);
  expect([seeded.attacker.count, seeded.victim.count]).toEqual([2, 2]);
  return tenants;
}

async function attack(client: TestClient, server: TestServer, tenants: Tenants, name: string, token: string | undefined, reason?: RegExp): Promise<void> {
  const before = await snapshot(server, tenants);
  const calls = [
    client.call(
      "setCapacity",
      { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 5 } },
      token,
    ),
    client.call("listCapacities", {}, token),
    client.call("getPersonAvailability", { personId: SUB, periodStart: "2027-01-01", periodEnd: "2027-01-02" }, token),
    // Writes aimed at the victim's own record.
    client.call("setCapacity", { capacity: { id: tenants.victimRecord, notes: "pwned" }, updateMask: { paths: ["notes"] } }, token),
    client.call("deleteCapacity", { id: tenants.victimRecord }, token),
  ];
  for (const out of await Promise.all(calls)) {
    // Counted as they come back, before any assertion: a regression shows in the table too.
    figures.add("token attacks");
    if (!out.ok && out.code === Code.Unauthenticated) figures.add("rejected UNAUTHENTICATED");
    if (reason) figures.add("lifetime attacks (iat, nbf, exp bounds)");
    expect({ name, code: out.ok ? "ok" : out.code }).toEqual({ name, code: Code.Unauthenticated });
    if (reason) expect({ name, message: out.ok ? "" : out.message }).toEqual({ name, message: expect.stringMatching(reason) as string });
  }
  // Neither tenant changed: the counts first (the readable failure), then every row.
  const after = await snapshot(server, tenants);
  figures.add("tenants checked unchanged after an attack", 2);
  expect({ name, attacker: after.attacker.count, victim: after.victim.count }).toEqual({ name, attacker: before.attacker.count, victim: before.victim.count });
  expect({ name, rows: after }).toEqual({ name, rows: before });
}

describe.each(["grpc-js", "rest-http1"] as const)("HS256 server through %s", (kind) => {
  let server: TestServer;
  let client: TestClient;
  beforeAll(async () => {
    server = await startTestServer("sqlite", { env: { CAPACITY_JWT_ISSUER: "https://idp.example", CAPACITY_JWT_AUDIENCE: "capacity" } });
    client = createTestClient(kind, server.baseUrl);
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
    const v = tenant("victim");
    const tenants = await seed(client, server, t, v, { attacker: await sign(good), victim: await sign({ ...good, tenant_id: v }) });
    /** The forgeries that do not depend on the tenant claim, over the given claims. */
    const forged = async (claims: typeof good): Promise<Record<string, string>> => {
      const { exp: _e, ...noExp } = claims;
      const { sub: _s, ...noSub } = claims;
      return {
        "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`,
        "wrong secret": await sign(claims, new TextEncoder().encode("x".repeat(40))),
        "HS512 with the right secret": await sign(claims, key, "HS512"),
        expired: await sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }),
        "no exp": await sign(noExp),
        "not yet valid (nbf)": await sign({ ...claims, nbf: hour() }),
        "wrong iss": await sign({ ...claims, iss: "https://evil.example" }),
        "wrong aud": await sign({ ...claims, aud: "someone-else" }),
        "missing sub": await sign(noSub),
        "sub not an id": await sign({ ...claims, sub: "admin" }),
        "signature stripped": (await sign(claims)).split(".").slice(0, 2).join(".") + ".",
        "oversized (10 KB)": await sign({ ...claims, pad: "x".repeat(10_000) }),
      };
    };
    const { tenant_id: _t, ...noTenant } = good;
    // A valid signature over the attacker's own payload, grafted onto one that claims the victim.
    const [h, , s] = (await sign(good)).split(".");
    const cases: Record<string, string | undefined> = {
      "no token": undefined,
      malformed: "not.a.jwt",
      ...(await forged(good)),
      ...Object.fromEntries(Object.entries(await forged({ ...good, tenant_id: v })).map(([name, token]) => [`${name}, claiming the victim tenant`, token])),
      "missing tenant_id": await sign(noTenant),
      "tenant_id a number": await sign({ ...good, tenant_id: 7 }),
      "tenant_id an object": await sign({ ...good, tenant_id: { $ne: "" } }),
      "tenant_id with SQL": await sign({ ...good, tenant_id: "x' OR '1'='1" }),
      "tenant_id a list of both tenants": await sign({ ...good, tenant_id: [t, v] }),
      "payload swapped to claim the victim tenant": `${h}.${b64({ ...good, tenant_id: v })}.${s}`,
    };
    for (const [name, token] of Object.entries(cases)) await attack(client, server, tenants, name, token);
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
    for (const [name, [token, why]] of Object.entries(lifetime)) await attack(client, server, tenants, name, token, why);
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
    const v = tenant("victim");
    const claims = { tenant_id: t, sub: SUB, exp: hour() };
    const signRs = (c: typeof claims) => new SignJWT(c).setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(rsa.privateKey);
    ok(await client.call("listCapacities", {}, await signRs(claims)));
    const tenants = await seed(client, server, t, v, { attacker: await signRs(claims), victim: await signRs({ ...claims, tenant_id: v }) });
    const publicJwk = new TextEncoder().encode(JSON.stringify(keys[0]));
    const publicPem = new TextEncoder().encode(
      `-----BEGIN PUBLIC KEY-----\n${Buffer.from(await crypto.subtle.exportKey("spki", rsa.publicKey)).toString("base64")}\n-----END PUBLIC KEY-----\n`,
    );
    const stranger = await generateKeyPair("RS256");
    const forged = async (c: typeof claims): Promise<Record<string, string>> => ({
      "HS256 signed with the public key (JWK)": await new SignJWT(c).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(publicJwk),
      "HS256 signed with the public key (PEM)": await new SignJWT(c).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(publicPem),
      "HS256 with the old shared secret": await new SignJWT(c).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(TEST_SECRET)),
      "kid not in the JWKS": await new SignJWT(c).setProtectedHeader({ alg: "RS256", kid: "k9" }).sign(stranger.privateKey),
      "right kid, wrong key": await new SignJWT(c).setProtectedHeader({ alg: "RS256", kid: "k1" }).sign(stranger.privateKey),
    });
    const [h, , s] = (await signRs(claims)).split(".");
    const cases: Record<string, string> = {
      ...(await forged(claims)),
      ...Object.fromEntries(Object.entries(await forged({ ...claims, tenant_id: v })).map(([name, token]) => [`${name}, claiming the victim tenant`, token])),
      "payload swapped to claim the victim tenant": `${h}.${b64({ ...claims, tenant_id: v })}.${s}`,
    };
    for (const [name, token] of Object.entries(cases)) await attack(client, server, tenants, name, token);
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
