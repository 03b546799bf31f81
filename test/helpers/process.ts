import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** The service as its own OS process (from the TypeScript sources), for signal and multi-replica tests. */
export interface ServerProcess {
  port: number;
  adminPort: number;
  /** The grpc-js engine's port, when CAPACITY_GRPC_PORT was set. */
  grpcPort: number | undefined;
  baseUrl: string;
  child: ChildProcess;
  /** JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  /** Everything written to stderr so far (crash traces, warnings). */
  stderr(): string;
  /** Resolves with the exit code and signal when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `src/main.ts` with `env`; `nodeArgs` go before it (e.g. `--import` of a test preload). */
export async function spawnServer(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", ...nodeArgs, "src/main.ts"], {
    env: { ...process.env, CAPACITY_HOST: "127.0.0.1", CAPACITY_PORT: "0", CAPACITY_ADMIN_PORT: "0", CAPACITY_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const exited = ended.then(({ code }) => code);
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.includes('"msg":"call"')) return; // per-call lines: not needed, and many
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "capacity listening") resolve(entry);
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening`)));
    setTimeout(() => reject(new Error("server did not start in 30 s")), 30_000).unref();
  });
  const stderr: string[] = [];
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
  const ready = await listening.catch((err: unknown) => {
    child.kill("SIGKILL"); // never leave an orphan behind a failed start
    throw err;
  });
  const port = Number(ready.port);
  return {
    port,
    adminPort: Number(ready.adminPort),
    grpcPort: ready.grpcPort === undefined ? undefined : Number(ready.grpcPort),
    baseUrl: `http://127.0.0.1:${port}`,
    child,
    logs,
    stderr: () => stderr.join(""),
    exited: ended,
    stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The pids of a cluster primary's service workers (tsx also starts an esbuild helper, which is left out). */
export function workerPids(primary: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(primary), "-f", "src/main.ts"])
      .toString()
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
