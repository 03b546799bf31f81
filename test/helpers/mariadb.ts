import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.js";

const run = promisify(execFile);

/** A MariaDB server of the test's own (own data folder and port), which it may kill and restart. */
export interface ThrowawayMariadb {
  port: number;
  /** Root URL of database `cap`. */
  url: string;
  /** SIGKILL: no shutdown, no flush beyond what InnoDB already made durable. */
  kill(): Promise<void>;
  /** Starts again on the same data folder and port (crash recovery runs). */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("data", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function startThrowawayMariadb(): Promise<ThrowawayMariadb> {
  const dir = mkdtempSync(join(tmpdir(), "capacity-mariadb-"));
  const data = join(dir, "data");
  const port = await freePort();
  await run("mariadb-install-db", ["--no-defaults", `--datadir=${data}`, "--user=root", "--skip-test-db", "--auth-root-authentication-method=normal"], {
    timeout: 120_000,
  });
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      "/usr/sbin/mariadbd",
      [
        "--no-defaults",
        `--datadir=${data}`,
        `--port=${port}`,
        `--socket=${join(dir, "mysqld.sock")}`,
        `--pid-file=${join(dir, "mysqld.pid")}`,
        "--bind-address=127.0.0.1",
        "--user=root",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=64M",
        "--innodb-flush-log-at-trx-commit=1",
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 300; i++) {
      if (await answers(port)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("throwaway mariadbd did not start");
  };
  await start();
  await run("mariadb", ["--protocol=tcp", "-h127.0.0.1", `-P${port}`, "-uroot", "-e", "CREATE DATABASE cap"]);
  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
  };
  return {
    port,
    url: `mysql://root@127.0.0.1:${port}/cap`,
    kill,
    start,
    async destroy() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
