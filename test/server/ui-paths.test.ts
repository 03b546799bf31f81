/**
 * The /ui path guard (src/server/http.ts): whatever the path says — `..`,
 * encoded dots and slashes, backslashes, absolute paths, NUL bytes — no file
 * outside the UI folder is served. Requests go over raw sockets (an HTTP
 * client would normalize `..` away) to the real handler on a real listener,
 * whose UI folder sits next to files planted to be stolen.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HealthMonitor } from "../../src/server/health.js";
import { createHttpHandler } from "../../src/server/http.js";
import { listen, type Listener } from "../../src/server/listener.js";
import { rawExchange, statusOf } from "../helpers/raw.js";

const SECRET = "TOP-SECRET-OUTSIDE-THE-UI";
/** What any served secret or system file would show. */
const LEAK = /TOP-SECRET|root:x?:0:0|"name": "capacity"/;

describe("the /ui path guard", () => {
  let listener: Listener;
  let root: string;
  const refusals: string[] = [];
  const rpcPaths: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "capacity-ui-guard-"));
    const uiDir = join(root, "ui");
    mkdirSync(join(uiDir, "assets"), { recursive: true });
    writeFileSync(join(uiDir, "index.html"), "<!doctype html><title>ui index</title>\n");
    writeFileSync(join(uiDir, "assets", "app.js"), "console.log('ui asset');\n");
    // Targets a broken guard would serve: beside the folder, in a folder whose name starts like it, and one level up.
    writeFileSync(join(root, "secret.txt"), `${SECRET} parent\n`);
    mkdirSync(join(root, "ui-sibling"));
    writeFileSync(join(root, "ui-sibling", "secret.txt"), `${SECRET} sibling\n`);
    mkdirSync(join(root, "uiassets"));
    writeFileSync(join(root, "uiassets", "secret.txt"), `${SECRET} prefix\n`);
    const http = createHttpHandler({
      rpc: (req, res) => {
        rpcPaths.push(req.url ?? "");
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not an rpc\n");
      },
      rest: (req, res) => {
        rpcPaths.push(req.url ?? "");
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not an api path\n");
      },
      health: { isReady: () => Promise.resolve(true) } as unknown as HealthMonitor,
      corsOrigins: [],
      uiDir,
      onError: () => "corr",
      onRefusal: (reason) => refusals.push(reason),
    });
    listener = await listen({ host: "127.0.0.1", port: 0, handler: http });
  });
  afterAll(async () => listener?.close(100));

  const get = async (target: string, method = "GET"): Promise<{ status: number | undefined; text: string }> => {
    const { text } = await rawExchange(listener.port, `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 5000);
    return { status: statusOf(text), text };
  };

  it("serves the folder's own files (the control: these requests do reach files)", async () => {
    expect(await get("/ui/index.html")).toMatchObject({ status: 200, text: expect.stringContaining("ui index") as string });
    expect(await get("/ui/assets/app.js")).toMatchObject({ status: 200, text: expect.stringContaining("ui asset") as string });
    // `..` that stays inside the folder is fine.
    expect(await get("/ui/assets/../index.html")).toMatchObject({ status: 200, text: expect.stringContaining("ui index") as string });
    expect(await get("/ui/assets/%2e%2e/index.html")).toMatchObject({ status: 200, text: expect.stringContaining("ui index") as string });
  });

  it.each([
    ["dot-dot", "/ui/../secret.txt"],
    ["dot-dot from a subfolder", "/ui/assets/../../secret.txt"],
    ["dot-dot after a dot segment", "/ui/./../secret.txt"],
    ["dot-dot with a query", "/ui/../secret.txt?download=1"],
    ["dot-dot into a sibling whose name starts like the folder", "/ui/../ui-sibling/secret.txt"],
    ["dot-dot into a folder named like the folder plus a suffix", "/ui/../uiassets/secret.txt"],
    ["encoded dots", "/ui/%2e%2e/secret.txt"],
    ["encoded dots, upper case", "/ui/%2E%2E/secret.txt"],
    ["one encoded dot", "/ui/.%2e/secret.txt"],
    ["encoded slash", "/ui/..%2fsecret.txt"],
    ["encoded dots and slash", "/ui/%2e%2e%2fsecret.txt"],
    ["encoded dots into the sibling", "/ui/%2e%2e%2fui-sibling%2fsecret.txt"],
    ["deep encoded climb", "/ui/assets%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd"],
    ["double-encoded dots (decoded once only)", "/ui/%252e%252e/secret.txt"],
    ["overlong UTF-8 dots", "/ui/%c0%ae%c0%ae/secret.txt"],
    ["backslashes", "/ui/..\\secret.txt"],
    ["encoded backslashes", "/ui/..%5csecret.txt"],
    ["encoded backslashes, deep", "/ui/..%5c..%5c..%5c..%5c..%5cetc%5cpasswd"],
    ["an absolute path after /ui/", "/ui//etc/passwd"],
    ["an encoded absolute path", "/ui/%2fetc%2fpasswd"],
    ["a NUL byte", "/ui/index.html%00"],
    ["a NUL byte before dot-dot", "/ui/%00/../secret.txt"],
    ["a NUL byte hiding an extension", "/ui/../secret.txt%00.js"],
  ])("%s (%s): refused, nothing outside the folder in the answer", async (_name, target) => {
    for (const method of ["GET", "HEAD"]) {
      const { status, text } = await get(target, method);
      expect([400, 404], `${method} ${target}`).toContain(status);
      expect(text).not.toMatch(LEAK);
    }
  });

  it("refuses the planted files by their absolute paths, plain and encoded", async () => {
    for (const file of [join(root, "secret.txt"), join(root, "ui-sibling", "secret.txt")]) {
      for (const target of [`/ui/${file}`, `/ui/${encodeURIComponent(file)}`, `/ui/..${file}`]) {
        const { status, text } = await get(target);
        expect([400, 404], target).toContain(status);
        expect(text).not.toMatch(LEAK);
      }
    }
  });

  it("answers a NUL byte 400 and reports it as a bad request", async () => {
    const before = refusals.length;
    expect((await get("/ui/index.html%00")).status).toBe(400);
    expect(refusals.slice(before)).toEqual(["bad_request"]);
  });

  it("leaves paths that only look like /ui to the RPC router", async () => {
    for (const target of ["/ui..%2fsecret.txt", "/uiassets/secret.txt", "/ui-sibling/secret.txt"]) {
      const { status, text } = await get(target);
      expect(status, target).toBe(404);
      expect(text).toContain("not an rpc");
      expect(text).not.toMatch(LEAK);
    }
    expect(rpcPaths).toEqual(expect.arrayContaining(["/ui..%2fsecret.txt", "/uiassets/secret.txt", "/ui-sibling/secret.txt"]));
  });

  it("holds over HTTP/2 too, where :path reaches the handler as sent", async () => {
    const session = http2.connect(`http://127.0.0.1:${listener.port}`);
    const fetchH2 = (path: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ":path": path });
        let status = 0;
        let body = "";
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.setEncoding("utf8").on("data", (d: string) => (body += d));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
      });
    try {
      expect(await fetchH2("/ui/index.html")).toMatchObject({ status: 200, body: expect.stringContaining("ui index") as string });
      for (const path of [
        "/ui/../secret.txt",
        "/ui/%2e%2e/secret.txt",
        "/ui/..%5csecret.txt",
        "/ui//etc/passwd",
        "/ui/%00",
        `/ui/${join(root, "secret.txt")}`,
      ]) {
        const { status, body } = await fetchH2(path);
        expect([400, 404], path).toContain(status);
        expect(body).not.toMatch(LEAK);
      }
    } finally {
      session.close();
    }
  });
});
