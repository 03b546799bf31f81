/**
 * Counters the adversarial suites keep, one JSON file per suite under
 * test-results/adversarial/, summed into a table by summary.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const FIGURES_DIR = join("test-results", "adversarial");

export class Figures {
  private readonly counts: Record<string, number> = {};

  constructor(private readonly suite: string) {}

  add(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }

  get(name: string): number {
    return this.counts[name] ?? 0;
  }

  save(): void {
    mkdirSync(FIGURES_DIR, { recursive: true });
    writeFileSync(join(FIGURES_DIR, `${this.suite}.json`), JSON.stringify(this.counts, null, 2));
  }
}
