/**
 * scripts/test-prereqs.ts on a machine where something is missing. Each case
 * runs the script in a private mount (and sometimes network) namespace, so
 * hiding Chromium or MariaDB there changes nothing outside, and with apt-get
 * and start-stop-daemon replaced on PATH by stubs that only record their
 * arguments: nothing is really installed or started. Needs root (unshare).
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MYSQL_URL } from "../helpers/databases.js";
import { freePort } from "../helpers/ports.js";

interface Outcome {
  code: number;
  stderr: string;
  /** The stubs' calls, one line each: "apt-get update -qq". */
  calls: string[];
}

describe("test-prereqs", () => {
  let dir: string;
  let stubs: string;
  let callLog: string;

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error("these tests need root (unshare --mount)");
    dir = mkdtempSync(join(tmpdir(), "capacity-prereqs-"));
    stubs = join(dir, "bin");
    callLog = join(dir, "calls");
    mkdirSync(stubs);
    mkdirSync(join(dir, "empty"));
    writeFileSync(join(dir, "empty-file"), "");
    for (const name of ["apt-get", "start-stop-daemon"]) {
      writeFileSync(join(stubs, name), `#!/bin/sh\necho "${name} $*" >> "${callLog}"\n`);
      chmodSync(join(stubs, name), 0o755);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs the script; `hideChromium` bind-mounts empties over Debian's chromium
   * (the wrapper and its folder), `noNetwork` gives it a network namespace
   * where only a loopback with nothing listening exists.
   */
  async function prereqs(env: Record<string, string>, options: { hideChromium?: boolean; noNetwork?: boolean; asNobody?: boolean } = {}): Promise<Outcome> {
    rmSync(callLog, { force: true });
    const steps = ["set -e"];
    if (options.hideChromium) steps.push(`mount --bind ${dir}/empty-file /usr/bin/chromium`, `mount --bind ${dir}/empty /usr/lib/chromium`);
    if (options.noNetwork) steps.push("ip link set lo up");
    const node = `${process.execPath} --import tsx scripts/test-prereqs.ts`;
    steps.push(options.asNobody ? `exec setpriv --reuid=65534 --regid=65534 --clear-groups ${node}` : `exec ${node}`);
    const args = ["--mount", "--propagation", "private", ...(options.noNetwork ? ["--net"] : []), "sh", "-c", steps.join("\n")];
    const { NODE_ENV: _, CHROMIUM_PATH: __, ...inherited } = process.env;
    return new Promise((resolve) => {
      execFile("unshare", args, { env: { ...inherited, PATH: `${stubs}:${process.env.PATH}`, HOME: dir, ...env }, timeout: 90_000 }, (err, _stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stderr, calls: existsSync(callLog) ? readFileSync(callLog, "utf8").trim().split("\n") : [] });
      });
    });
  }

  it("passes quietly when the browser, openssl and the database are there", async () => {
    const out = await prereqs({ CAPACITY_TEST_MYSQL_URL: MYSQL_URL });
    expect(out.stderr).toBe("");
    expect(out).toMatchObject({ code: 0, calls: [] });
  });

  it("installs Debian's chromium with apt-get when the browser is missing", async () => {
    const out = await prereqs({ CAPACITY_TEST_MYSQL_URL: MYSQL_URL }, { hideChromium: true });
    expect(out.calls).toEqual(["apt-get update -qq", "apt-get install -y -qq chromium"]);
    // The stub installed nothing, so the script says so and stops.
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("installing Debian's chromium");
    expect(out.stderr).toMatch(/\/usr\/bin\/chromium still does not run after apt-get install chromium\n$/);
    // Outside the namespace the browser is untouched.
    expect(readFileSync("/usr/bin/chromium").length).toBeGreaterThan(0);
  });

  it("stops at once with the command to run when the browser is missing and it is not root", async () => {
    const out = await prereqs({ CAPACITY_TEST_MYSQL_URL: MYSQL_URL }, { hideChromium: true, asNobody: true });
    expect(out.code).toBe(1);
    expect(out.calls).toEqual([]);
    expect(out.stderr).toBe("test-prereqs: chromium (for the browser tests) is missing: run as root `apt-get update && apt-get install -y chromium`\n");
  });

  it("starts the local mariadbd when nothing answers at 127.0.0.1:3306, then waits for it", async () => {
    const out = await prereqs({ CAPACITY_TEST_MYSQL_URL: "mysql://root@127.0.0.1:3306/test_prereqs", CAPACITY_TEST_DB_WAIT_SECONDS: "2" }, { noNetwork: true });
    expect(out.calls).toEqual(["start-stop-daemon --start --oknodo --background --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd"]);
    // The stub started nothing: after the wait it gives up with one line.
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/MariaDB started but did not answer at 127\.0\.0\.1:3306 within 2 s/);
  });

  it("starts nothing for a database elsewhere, and names the address", async () => {
    const port = await freePort();
    const out = await prereqs({ CAPACITY_TEST_MYSQL_URL: `mysql://root@127.0.0.1:${port}/test` });
    expect(out.calls).toEqual([]);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(`test-prereqs: nothing answers at 127.0.0.1:${port} (CAPACITY_TEST_MYSQL_URL): start that database or point the variable at one\n`);
  });
});
