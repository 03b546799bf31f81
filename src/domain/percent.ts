/**
 * Allocations are kept as whole hundredths of a percent (basis points,
 * 0–10,000), so sums and comparisons are exact: 33.33 + 33.33 + 33.34 is
 * exactly 10,000 basis points, never 99.99999999999999.
 */
import type { Violations } from "./errors.js";

/** 100%, in basis points. */
export const MAX_BASIS_POINTS = 10_000;

/** The violation description of a percentage that cannot be kept exactly. */
export const PERCENT_RULE = "must be a finite number from 0 to 100 with at most two decimals";

/** Basis points of a percentage, or undefined if it is not finite, outside 0–100 or finer than 0.01. */
export function toBasisPoints(pct: number): number | undefined {
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) return undefined;
  const rounded = Math.round(pct * 100);
  // Exactly the double nearest to a two-decimal number (as 33.33 parses):
  // 33.333, 1e-9 and 0.1 + 0.2 (0.30000000000000004) are not.
  if (rounded / 100 !== pct) return undefined;
  return rounded === 0 ? 0 : rounded; // no -0
}

/** The percentage of a basis-point count, as the double closest to it (3333 → 33.33). */
export function fromBasisPoints(bp: number): number {
  return bp / 100;
}

/** A required percentage field in basis points: a violation (and 0) when absent or malformed. */
export function requiredPercent(value: number | undefined, field: string, v: Violations): number {
  if (value === undefined) {
    v.add(field, "is required");
    return 0;
  }
  const bp = toBasisPoints(value);
  if (bp === undefined) v.add(field, PERCENT_RULE);
  return bp ?? 0;
}

/** An optional percentage field in basis points: undefined when absent; a violation when malformed. */
export function optionalPercent(value: number | undefined, field: string, v: Violations): number | undefined {
  if (value === undefined) return undefined;
  const bp = toBasisPoints(value);
  if (bp === undefined) v.add(field, PERCENT_RULE);
  return bp;
}
