import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";

/**
 * Builds packages/client into its dist/ before the run (incrementally: a
 * no-op when nothing changed), so the suites under test/client/ import
 * `@capacity/client` the way its users do, through the package's exports map
 * and built files, never through a stale build.
 */
export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-b", "packages/client"], { stdio: "inherit" });
}
