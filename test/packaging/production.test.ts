/**
 * What ships starts: the production form built the way the Dockerfile builds
 * it (build, then `npm prune --omit=dev`, then only package.json, node_modules
 * and dist/ kept) runs with NODE_ENV=production and the image's heap ceiling,
 * two workers and MariaDB, and answers on every port: Connect over HTTP/1.1
 * and gRPC on the main port, gRPC on the grpc-js port, the probes and metrics
 * on the admin port, the UI when turned on. SIGTERM ends it with exit 0.
 *
 * Instead of a second `npm ci` (about 2.5 min: better-sqlite3 compiles) the
 * copy starts from a hard-linked copy (`cp -al`) of this tree's installed
 * node_modules, the same packages `npm ci` would install from the lockfile;
 * `npm prune --omit=dev` then runs in the copy, and the pruned tree is what runs.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../src/auth/tokens.js";
import { createTestClient, ok } from "../helpers/clients.js";
import { MYSQL_URL } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { freePort } from "../helpers/ports.js";

const SECRET = "production-test-secret-0123456789-abcdef";
const dockerfile = readFileSync("Dockerfile", "utf8");

/** The `ENV` settings of the Dockerfile's final stage, e.g. NODE_OPTIONS with the heap ceiling. */
function imageEnv(): Record<string, string> {
  const runStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const block = /\nENV ((?:[^\n]*\\\n)*[^\n]*)/.exec(runStage)?.[1] ?? "";
  return Object.fromEntries([...block.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

/** The files git knows (tracked, or new and not ignored), as they are in the work tree. */
function copyRepo(to: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { encoding: "utf8" }).split("\0");
  for (const file of files) {
    if (file === "" || !existsSync(file)) continue;
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(file, join(to, file));
  }
}

/** Runs a build step in the copy, without the test runner's NODE_ENV=test. */
function step(cwd: string, command: string, args: string[]): void {
  const { NODE_ENV: _, ...env } = process.env;
  execFileSync(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env });
}

describe("the production build (Dockerfile steps, pruned node_modules)", () => {
  let root: string;
  let app: string;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let ports: { main: number; grpc: number; admin: number };
  const logs: string[] = [];

  beforeAll(async () => {
    // The steps below are the Dockerfile's; fail loudly if it changes under them.
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^RUN npm run build && npm prune --omit=dev --workspaces=false$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/main\.js"\]$/m);

    root = mkdtempSync(join(tmpdir(), "capacity-production-"));
    const build = join(root, "build");
    copyRepo(build);
    execFileSync("cp", ["-al", "node_modules", join(build, "node_modules")]);
    // npm rewrites this file; a hard link would carry the change back into this tree.
    rmSync(join(build, "node_modules", ".package-lock.json"), { force: true });
    step(build, "npm", ["run", "build"]);
    step(build, "npm", ["prune", "--omit=dev", "--workspaces=false", "--no-audit", "--no-fund"]);

    // The final stage: package.json, node_modules and dist only.
    app = join(root, "app");
    mkdirSync(app);
    for (const entry of ["package.json", "node_modules", "dist"]) renameSync(join(build, entry), join(app, entry));
    rmSync(build, { recursive: true, force: true });

    ports = { main: await freePort(), grpc: await freePort(), admin: await freePort() };
    child = spawn("node", ["dist/src/main.js"], {
      cwd: app,
      // Nothing from the test runner's environment but PATH: only what the image sets and an operator adds.
      env: {
        PATH: process.env.PATH,
        ...imageEnv(),
        CAPACITY_DATA_DIR: join(root, "data"),
        CAPACITY_HOST: "127.0.0.1",
        CAPACITY_PORT: String(ports.main),
        CAPACITY_GRPC_PORT: String(ports.grpc),
        CAPACITY_ADMIN_PORT: String(ports.admin),
        CAPACITY_WORKERS: "2",
        CAPACITY_JWT_SECRET: SECRET,
        CAPACITY_DATABASE_URL: MYSQL_URL,
        CAPACITY_UI: "on",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on("line", (l) => logs.push(l));
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!logs.some((l) => l.includes('"msg":"capacity listening"'))) {
      if (child.exitCode !== null) throw new Error(`the production build exited with ${child.exitCode}:\n${logs.join("\n")}`);
      if (Date.now() > deadline) throw new Error(`the production build did not listen in 60 s:\n${logs.join("\n")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 600_000);

  afterAll(() => {
    if (child?.exitCode === null) child.kill("SIGKILL");
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it("ships without development packages and runs with the image's settings", () => {
    // lstat, not exists: a link left behind (the workspace's, into packages/) counts even when it dangles.
    for (const dev of ["typescript", "vitest", "vite", "tsx", "@bufbuild/buf", "@capacity/client"]) {
      expect(lstatSync(join(app, "node_modules", dev), { throwIfNoEntry: false }), dev).toBeUndefined();
    }
    const env = imageEnv();
    expect(env.NODE_ENV).toBe("production");
    expect(env.NODE_OPTIONS).toMatch(/^--max-old-space-size=\d+$/);
    expect(logs.find((l) => l.includes('"msg":"capacity listening"'))).toContain('"workers":2');
  });

  it("answers on every port: Connect, gRPC and REST, the grpc-js engine, the admin port and the UI", async () => {
    const t = tenant();
    const token = await mintToken(SECRET, { tenantId: t, sub: person(), ttlSeconds: 600 });
    const main = `http://127.0.0.1:${ports.main}`;

    const connect = createTestClient("connect-json-http1", main);
    const created = ok(
      await connect.call(
        "setCapacity",
        { capacity: { personId: person(), projectId: project(), periodStart: "2027-05-03", periodEnd: "2027-05-07", allocatedPct: 40 } },
        token,
      ),
    );
    const grpcMain = createTestClient("grpc-connect-node", main);
    expect(ok(await grpcMain.call("getCapacity", { id: created.id }, token)).allocatedPct).toBe(40);
    const grpcJs = createTestClient("grpc-js", `http://127.0.0.1:${ports.grpc}`);
    expect(ok(await grpcJs.call("listCapacities", {}, token)).capacities.map((c) => c.id)).toEqual([created.id]);
    grpcJs.close();
    // The HTTP/JSON API, and its OpenAPI document as the build copied it into dist/.
    const rest = await fetch(`${main}/api/v1/work/capacity/${created.id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(rest.status).toBe(200);
    expect(rest.headers.get("etag")).toBe(`"${created.etag}"`);
    expect(((await rest.json()) as { allocatedPct: number }).allocatedPct).toBe(40);
    const openapi = await fetch(`${main}/api/v1/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(Buffer.from(await openapi.arrayBuffer()).equals(readFileSync("src/gen/openapi.json"))).toBe(true);

    const admin = `http://127.0.0.1:${ports.admin}`;
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="SetCapacity",grpc_code="OK"\} [1-9]/);
    expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="ListCapacities",grpc_code="OK"\} [1-9]/);

    const ui = await fetch(`${main}/ui/`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await ui.text()).toContain("<title>Capacity</title>");
  });

  it("stops on SIGTERM with exit code 0", async () => {
    child.kill("SIGTERM");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running after 30 s"), 30_000))]);
    expect(code, logs.slice(-20).join("\n")).toBe(0);
  }, 60_000);
});
