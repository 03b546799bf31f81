/**
 * A TypeScript entry point (the server, a CLI) run as its own process to its
 * end, for exit codes and what it printed. Long-running servers that must
 * start are spawnServer's (process.ts).
 */
import { spawn } from "node:child_process";

/** How a process ended and everything it wrote. */
export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
}

/** The JSON log lines in a process's stdout (other lines skipped). */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.split("\n").flatMap((line): Array<Record<string, unknown>> => {
    try {
      const entry: unknown = JSON.parse(line);
      return entry !== null && typeof entry === "object" ? [entry as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Runs `node --import tsx <script> ...args` from the repository root with
 * the test's environment plus `env` (a value of undefined removes a
 * variable). Server defaults keep it off fixed ports. Killed after
 * `timeoutMs`, which then fails the caller's expectations on `signal`.
 */
export function runScript(script: string, args: string[], env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<Finished> {
  const started = Date.now();
  const merged: Record<string, string | undefined> = {
    ...process.env,
    CAPACITY_HOST: "127.0.0.1",
    CAPACITY_PORT: "0",
    CAPACITY_ADMIN_PORT: "0",
    ...env,
  };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { env: merged, stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (c: string) => stdout.push(c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => stderr.push(c));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    // "close", not "exit": both pipes are drained by then.
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: stdout.join(""), stderr: stderr.join(""), ms: Date.now() - started });
    });
  });
}

/** Resolves once `check` returns a value other than undefined/false, polling every `everyMs`; rejects after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
