/**
 * Settings that config.test.ts reads, followed through src/app.ts to the
 * wire: the previous JWT secret reaches the verifier, and CAPACITY_UI decides
 * whether /ui is served at all.
 */
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { mintToken } from "../src/auth/tokens.js";
import { UI_SECURITY_HEADERS } from "../src/server/ui.js";
import { createTestClient, ok } from "./helpers/clients.js";
import { person, tenant } from "./helpers/ids.js";
import { startTestServer, TEST_SECRET, type TestServer } from "./helpers/server.js";

const PREVIOUS = "previous-secret-previous-secret-previous-0";
const UNKNOWN = "unknown-secret-unknown-secret-unknown-000";

describe("settings on the wire", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("accepts tokens signed with CAPACITY_JWT_SECRET_PREVIOUS during a rotation, and refuses an unknown secret", async () => {
    server = await startTestServer("sqlite", { env: { CAPACITY_JWT_SECRET_PREVIOUS: PREVIOUS } });
    const client = createTestClient("grpc-connect-node", server.baseUrl);
    const sign = (secret: string): Promise<string> => mintToken(secret, { tenantId: tenant(), sub: person(), ttlSeconds: 600 });
    try {
      ok(await client.call("listCapacities", {}, await sign(TEST_SECRET)));
      ok(await client.call("listCapacities", {}, await sign(PREVIOUS)));
      expect(await client.call("listCapacities", {}, await sign(UNKNOWN))).toMatchObject({ ok: false, code: Code.Unauthenticated });
    } finally {
      client.close();
    }
  });

  it("refuses tokens signed with the previous secret once it is no longer configured", async () => {
    server = await startTestServer("sqlite");
    const client = createTestClient("connect-json-http1", server.baseUrl);
    try {
      const token = await mintToken(PREVIOUS, { tenantId: tenant(), sub: person(), ttlSeconds: 600 });
      expect(await client.call("listCapacities", {}, token)).toMatchObject({ ok: false, code: Code.Unauthenticated });
    } finally {
      client.close();
    }
  });

  // /ui redirects to /ui/ only when the UI is served; this needs no built UI.
  it.each([
    ["on outside production by default", {}, true],
    ["off when CAPACITY_UI=off", { CAPACITY_UI: "off" }, false],
    ["off in production by default", { NODE_ENV: "production" }, false],
    ["on in production when CAPACITY_UI=on", { NODE_ENV: "production", CAPACITY_UI: "on" }, true],
  ])("the UI is %s", async (_name, env: Record<string, string>, served) => {
    server = await startTestServer("sqlite", { env });
    const res = await fetch(`${server.baseUrl}/ui`, { redirect: "manual" });
    await res.arrayBuffer();
    if (served) {
      expect(res.status).toBe(308);
      expect(res.headers.get("location")).toBe("/ui/");
      expect(res.headers.get("content-security-policy")).toBe(UI_SECURITY_HEADERS["content-security-policy"]);
    } else {
      // Not the UI's answer: no redirect and none of its headers.
      expect(res.status).not.toBe(308);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers.get("content-security-policy")).toBeNull();
      const page = await fetch(`${server.baseUrl}/ui/index.html`);
      expect(page.headers.get("content-security-policy")).toBeNull();
      expect(await page.text()).not.toMatch(/<html|not built/i);
    }
  });
});
