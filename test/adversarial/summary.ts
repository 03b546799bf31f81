/** Prints the adversarial suites' figures as one table (after `vitest run test/adversarial`). */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FIGURES_DIR } from "./figures.js";

if (!existsSync(FIGURES_DIR)) {
  process.stderr.write("no adversarial figures: run vitest run test/adversarial first\n");
  process.exit(1);
}
const rows: Array<[string, string, number]> = [];
for (const file of readdirSync(FIGURES_DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()) {
  const suite = file.replace(/\.json$/, "");
  const counts = JSON.parse(readFileSync(join(FIGURES_DIR, file), "utf8")) as Record<string, number>;
  for (const [name, n] of Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))) rows.push([suite, name, n]);
}
const lost = rows.filter(([, name]) => name === "lost updates").reduce((a, [, , n]) => a + n, 0);
const lines = [
  "| suite | figure | count |",
  "|---|---|---:|",
  ...rows.map(([s, name, n]) => `| ${s} | ${name} | ${n.toLocaleString("en")} |`),
  "",
  `Anything lost: ${lost}`,
];
process.stdout.write(`\nAdversarial figures\n\n${lines.join("\n")}\n`);
if (lost !== 0) process.exit(1);
