/**
 * The web page in real headless Chromium: from an allowed origin it works over
 * both the Connect protocol and gRPC-Web; from another origin the browser
 * refuses the calls (CORS). Screenshots go to test-results/ (git-ignored).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uiDirectory } from "../../src/server/ui.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = "test-results";

/** Serves the built UI from another origin, as a separately hosted front end would be. */
async function staticSite(dir: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const file = join(dir, path === "/" ? "index.html" : path.replace(/^\/+/, ""));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const type = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" }[extname(file)] ?? "application/octet-stream";
    res.writeHead(200, { "content-type": type }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe("the web UI in Chromium", () => {
  let browser: Browser;
  let server: TestServer;
  let allowed: Awaited<ReturnType<typeof staticSite>>;
  let refused: Awaited<ReturnType<typeof staticSite>>;

  beforeAll(async () => {
    const dir = uiDirectory();
    if (!existsSync(join(dir, "index.html"))) throw new Error(`no built UI in ${dir}: run npm run build:ui`);
    allowed = await staticSite(dir);
    refused = await staticSite(dir);
    server = await startTestServer("sqlite", { env: { CAPACITY_CORS_ORIGINS: allowed.origin } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await allowed?.close();
    await refused?.close();
  });

  async function open(origin: string, transport: string, personId: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const q = new URLSearchParams({ api: server.baseUrl, transport, person: personId, from: "2027-03-01", to: "2027-03-31" });
    await page.goto(`${origin}/index.html?${q}`);
    return page;
  }

  async function fill(page: Page, projectId: string, start: string, end: string, pct: string): Promise<void> {
    await page.fill("#f-project", projectId);
    await page.fill("#f-start", start);
    await page.fill("#f-end", end);
    await page.fill("#f-pct", pct);
    await page.click("#save");
  }

  for (const transport of ["connect", "grpc-web"]) {
    it(`shows, creates, edits and confirms allocations over ${transport} from an allowed origin`, async () => {
      const t = tenant();
      const p = person();
      const page = await open(allowed.origin, transport, p);
      await page.fill("#token", await server.token(t));
      await page.click("#load");
      await expect.poll(() => page.textContent("#status")).toBe("0 allocation(s)");

      await fill(page, project(), "2027-03-01", "2027-03-20", "60");
      await expect.poll(() => page.textContent("#status")).toMatch(/^created cap_/);
      await fill(page, project(), "2027-03-10", "2027-03-31", "50");
      await expect.poll(() => page.locator("#rows tr").count()).toBe(2);
      // 10–20 March is booked 110%: it stands out.
      await expect.poll(() => page.locator(".seg.over").count()).toBe(1);
      expect(await page.locator(".seg.over").getAttribute("title")).toContain("2027-03-10 – 2027-03-20: 110% allocated");

      // Edit the first one down to 40%: nobody is over any more.
      await page.locator("#rows tr").first().locator("button.edit").click();
      await page.fill("#f-pct", "40");
      await page.click("#save");
      await expect.poll(() => page.textContent("#status")).toMatch(/^updated cap_/);
      await expect.poll(() => page.locator(".seg.over").count()).toBe(0);

      // Confirm it.
      await page.locator("#rows tr").first().locator("button.confirm").click();
      await expect.poll(() => page.textContent("#status")).toMatch(/^confirmed cap_/);
      await expect.poll(() => page.locator("#rows tr").first().textContent()).toContain("confirmed");

      // An over-allocating write with "refuse over-allocation" ticked is refused.
      await page.check("#f-reject");
      await fill(page, project(), "2027-03-15", "2027-03-16", "20");
      await expect.poll(() => page.textContent("#status")).toMatch(/^FailedPrecondition: person .* 110%/);
      await page.screenshot({ path: join(SHOTS, `ui-${transport}.png`), fullPage: true });

      const rows = await server.db.knex("capacities").where({ tenant_id: t, person_id: p }).orderBy("period_start");
      expect(rows.map((r) => [r.allocated_bp, r.confirmed_by_id !== ""])).toEqual([
        [4000, true],
        [5000, false],
      ]);
      await page.close();
    });
  }

  it("refuses calls from a page on an origin that is not allowed", async () => {
    const t = tenant();
    const p = person();
    const page = await open(refused.origin, "connect", p);
    const corsErrors: string[] = [];
    page.on("console", (m) => {
      if (/CORS|Access-Control/i.test(m.text())) corsErrors.push(m.text());
    });
    await page.fill("#token", await server.token(t));
    await fill(page, project(), "2027-03-01", "2027-03-02", "10");
    await expect.poll(() => page.getAttribute("#status", "class")).toBe("error");
    expect(await page.textContent("#status")).toMatch(/^Unknown|^Unavailable|^Internal|Failed to fetch/);
    await expect.poll(() => corsErrors.length).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, "ui-refused-origin.png") });
    expect(await server.db.knex("capacities").where({ tenant_id: t }).count({ n: "*" })).toEqual([{ n: 0 }]);
    await page.close();
  });

  it("is served by the service itself at /ui", async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${server.baseUrl}/ui`);
    expect(res?.status()).toBe(200);
    expect(page.url()).toBe(`${server.baseUrl}/ui/`);
    expect(await page.title()).toBe("Capacity");
    // Same origin: no CORS needed.
    await page.fill("#token", await server.token(tenant()));
    await page.fill("#person", person());
    await page.click("#load");
    await expect.poll(() => page.textContent("#status")).toBe("0 allocation(s)");
    await page.close();
  });
});
