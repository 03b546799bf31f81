/** Every /ui response carries the page's security headers, on HTTP/1.1 and HTTP/2; the API's do not need them. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import http2 from "node:http2";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UI_SECURITY_HEADERS, uiDirectory } from "../../src/server/ui.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("the /ui security headers", () => {
  let server: TestServer;
  let asset: string;

  beforeAll(async () => {
    const dir = uiDirectory();
    if (!existsSync(join(dir, "index.html"))) throw new Error(`no built UI in ${dir}: run npm run build:ui`);
    asset = readdirSync(join(dir, "assets")).find((f) => f.endsWith(".js"))!;
    server = await startTestServer("sqlite");
  });
  afterAll(async () => server?.close());

  it("asks for nothing the built page does not load from its own files", () => {
    const html = readFileSync(join(uiDirectory(), "index.html"), "utf8");
    // No inline script or style: the CSP needs no 'unsafe-inline', hash or nonce.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son\w+=/);
    expect(UI_SECURITY_HEADERS["content-security-policy"]).not.toMatch(/unsafe|\*|https?:/);
  });

  it.each([
    ["/ui", 308],
    ["/ui/", 200],
    ["/ui/index.html", 200],
    ["/ui/assets/ASSET", 200],
    ["/ui/assets/missing.js", 404],
    ["/ui/..%2f..%2fpackage.json", 404],
    ["/ui/%E0%A4%A", 400],
    ["/ui/%", 400],
  ])("GET %s (%i) carries CSP, Referrer-Policy, nosniff and X-Frame-Options", async (path, status) => {
    const res = await fetch(`${server.baseUrl}${path.replace("ASSET", asset)}`, { redirect: "manual" });
    expect(res.status).toBe(status);
    for (const [name, value] of Object.entries(UI_SECURITY_HEADERS)) expect(res.headers.get(name), name).toBe(value);
    expect(res.headers.get("content-security-policy")).toBe(
      "default-src 'self'; connect-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'",
    );
  });

  it("sends the same headers over HTTP/2", async () => {
    const session = http2.connect(server.baseUrl);
    try {
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const req = session.request({ ":path": "/ui/" });
        req.on("response", resolve).on("error", reject);
        req.resume();
      });
      expect(headers[":status"]).toBe(200);
      for (const [name, value] of Object.entries(UI_SECURITY_HEADERS)) expect(headers[name], name).toBe(value);
    } finally {
      session.close();
    }
  });

  it("leaves the probes and the API without the page's CSP", async () => {
    const res = await fetch(`${server.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBeNull();
  });
});
