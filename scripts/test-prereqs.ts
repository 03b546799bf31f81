/**
 * What `npm test` needs besides node_modules, made ready before anything
 * runs: Debian's Chromium (the browser tests), openssl (the TLS tests), curl
 * (the README's HTTP examples) and the
 * MariaDB/MySQL at CAPACITY_TEST_MYSQL_URL with its database. As root it
 * installs what is missing with apt-get and starts the local mariadbd when the
 * URL points at 127.0.0.1:3306 and nothing answers there; otherwise it stops
 * at once with one line saying what to run.
 *
 * Environment: CAPACITY_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/test),
 * CHROMIUM_PATH (default /usr/bin/chromium; when set it is never installed),
 * CAPACITY_TEST_DB_WAIT_SECONDS (default 60): how long a started mariadbd may
 * take to answer.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createConnection } from "mysql2/promise";

const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test";
const MARIADBD = "/usr/sbin/mariadbd";

/** A prerequisite that is missing and cannot be provided here; the message says what to run. */
class Missing extends Error {}

const say = (line: string): void => void process.stderr.write(`test-prereqs: ${line}\n`);
const isRoot = (): boolean => process.getuid?.() === 0;

/** Runs a command with inherited output; throws Missing when it fails. */
function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (result.status !== 0) throw new Missing(`\`${command} ${args.join(" ")}\` failed (${result.error?.message ?? `exit ${result.status}`})`);
}

/** True when the program runs and prints what `--version` of it should. */
function runs(command: string, args: string[], expect: RegExp): boolean {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 30_000 });
  return result.status === 0 && expect.test(result.stdout);
}

/** Installs Debian packages as root, or names the command to run. */
function aptInstall(what: string, packages: string[]): void {
  const command = `apt-get update && apt-get install -y ${packages.join(" ")}`;
  if (!isRoot()) throw new Missing(`${what} is missing: run as root \`${command}\``);
  say(`${what} is missing: installing Debian's ${packages.join(" ")}`);
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", ...packages]);
}

function ensureChromium(): void {
  const path = process.env.CHROMIUM_PATH;
  if (path !== undefined) {
    if (!runs(path, ["--version"], /Chromium/)) throw new Missing(`CHROMIUM_PATH=${path} does not run as Chromium`);
    return;
  }
  const chromium = "/usr/bin/chromium";
  if (runs(chromium, ["--version"], /Chromium/)) return;
  aptInstall("chromium (for the browser tests)", ["chromium"]);
  if (!runs(chromium, ["--version"], /Chromium/)) throw new Missing(`${chromium} still does not run after apt-get install chromium`);
}

function ensureOpenssl(): void {
  if (runs("openssl", ["version"], /SSL/)) return;
  aptInstall("openssl (for the TLS tests)", ["openssl"]);
}

function ensureCurl(): void {
  if (runs("curl", ["--version"], /^curl /)) return;
  aptInstall("curl (the README's HTTP examples are run with it)", ["curl"]);
}

interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

function target(url: string): Target {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (u.protocol !== "mysql:" || database === "" || !/^\w+$/.test(database)) {
    throw new Missing(`CAPACITY_TEST_MYSQL_URL must look like mysql://user[:password]@host:port/database, got ${url}`);
  }
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database };
}

/** Creates the test database if the server answers; "down" when nothing answers at that address. */
async function createDatabase(t: Target): Promise<"ok" | "down"> {
  let connection;
  try {
    connection = await createConnection({ host: t.host, port: t.port, user: t.user, password: t.password, connectTimeout: 3000 });
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (["ECONNREFUSED", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH", "ECONNRESET", "ENOENT"].includes(code)) return "down";
    throw new Missing(`MySQL at ${t.host}:${t.port} refused the test login: ${(err as Error).message}`);
  }
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${t.database}\``);
    return "ok";
  } finally {
    await connection.end();
  }
}

async function ensureDatabase(): Promise<void> {
  const url = process.env.CAPACITY_TEST_MYSQL_URL ?? DEFAULT_MYSQL_URL;
  const t = target(url);
  if ((await createDatabase(t)) === "ok") return;
  const where = `${t.host}:${t.port}`;
  const local = ["127.0.0.1", "localhost"].includes(t.host) && t.port === 3306;
  if (!local) throw new Missing(`nothing answers at ${where} (CAPACITY_TEST_MYSQL_URL): start that database or point the variable at one`);
  // --pidfile: a throwaway mariadbd of some test (another port) must not count as this one running.
  const startArgs = ["--start", "--oknodo", "--background", "--pidfile", "/run/mysqld/mysqld.pid", "--exec", MARIADBD];
  const start = `start-stop-daemon ${startArgs.join(" ")}`;
  if (!isRoot()) throw new Missing(`MariaDB does not answer at ${where}: run as root \`${start}\``);
  if (!existsSync(MARIADBD))
    throw new Missing(`MariaDB does not answer at ${where} and ${MARIADBD} is not installed: install and start a MariaDB or MySQL there`);
  say(`MariaDB does not answer at ${where}: starting ${MARIADBD}`);
  run("install", ["-d", "-o", "mysql", "-g", "mysql", "/run/mysqld"]);
  run("start-stop-daemon", startArgs);
  const waitSeconds = Number(process.env.CAPACITY_TEST_DB_WAIT_SECONDS ?? 60);
  const until = Date.now() + waitSeconds * 1000;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    if ((await createDatabase(t)) === "ok") return;
  }
  throw new Missing(`MariaDB started but did not answer at ${where} within ${waitSeconds} s (see /var/log/mysql/error.log)`);
}

try {
  ensureChromium();
  ensureOpenssl();
  ensureCurl();
  await ensureDatabase();
} catch (err) {
  if (!(err instanceof Missing)) throw err;
  say(err.message);
  process.exit(1);
}
