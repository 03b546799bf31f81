/**
 * Allocations are kept as whole hundredths of a percent (basis points,
 * 0–10,000), so sums and comparisons are exact: 33.33 + 33.33 + 33.34 is
 * exactly 10,000 basis points, never 99.99999999999999.
 */

export const MAX_BASIS_POINTS = 10_000;

export const PERCENT_RULE = "must be a finite number from 0 to 100 with at most two decimals";

/** Basis points of a percentage, or undefined if it is not finite, outside 0–100 or finer than 0.01. */
export function toBasisPoints(pct: number): number | undefined {
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) return undefined;
  const scaled = pct * 100;
  const rounded = Math.round(scaled);
  // A double such as 33.33 is 3332.9999999999995 when scaled; anything
  // further than float noise from a whole number has a third decimal.
  if (Math.abs(scaled - rounded) > 1e-6) return undefined;
  return rounded;
}

/** The percentage of a basis-point count, as the double closest to it (3333 → 33.33). */
export function fromBasisPoints(bp: number): number {
  return bp / 100;
}
