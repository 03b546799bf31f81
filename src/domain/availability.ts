/**
 * How much of a person is allocated, day by day, over a window: a sweep over
 * the allocations' start and end days, in whole basis points so sums are
 * exact. Pure functions; the store supplies the allocations.
 */
import { fromEpochDay, toEpochDay } from "./dates.js";
import { LimitExceededError } from "./errors.js";

/** One allocation as availability sees it: inclusive ISO dates, basis points. */
export interface Allocation {
  id: string;
  periodStart: string;
  periodEnd: string;
  allocatedBp: number;
}

/** A maximal run of days with the same set of allocations. */
export interface Segment {
  periodStart: string;
  periodEnd: string;
  /** Sum of the allocations active on these days. */
  allocatedBp: number;
  /** Ids of those allocations, sorted; empty unless asked for (`includeIds`). */
  capacityIds: string[];
}

/**
 * Upper estimates of the protobuf bytes an answer takes, so a budget can stop
 * an oversized answer before it is built. A segment without ids: two dates
 * (12 bytes each), two doubles (9 each), a bool (2), its own tag and length (3).
 */
export const SEGMENT_BYTES = 48;
/** One capacity id in a segment: tag, length, `cap_` + 26 characters. */
export const ID_BYTES = 32;
/** One PersonAvailability without its segments: id, dates, five figures, tag and length. */
export const PERSON_BYTES = 128;

/** ErrorInfo reason of an availability call over one of its limits. */
export const AVAILABILITY_TOO_LARGE = "AVAILABILITY_TOO_LARGE";

/**
 * Bytes an answer may still take. One budget is shared by every person of a
 * call; spending past it throws LimitExceededError naming `limit`.
 */
export class ResponseBudget {
  private left: number;

  /** `limit` is the setting behind `maxBytes`, named in the error. */
  constructor(
    readonly maxBytes: number,
    readonly limit: string,
  ) {
    this.left = maxBytes;
  }

  /** Bytes still free. */
  get remaining(): number {
    return this.left;
  }

  /** Takes `bytes` from the budget; throws LimitExceededError once it is overspent. */
  spend(bytes: number): void {
    this.left -= bytes;
    if (this.left < 0) {
      throw new LimitExceededError(
        `the availability answer would be larger than ${this.maxBytes} bytes (${this.limit}); ` +
          "ask for a shorter window or fewer people, or leave include_capacity_ids off",
        AVAILABILITY_TOO_LARGE,
        this.limit,
        this.maxBytes,
      );
    }
  }
}

/** What to build, and within which budget. */
export interface SegmentOptions {
  /** List each segment's allocation ids (default false: they dominate the size of an answer). */
  includeIds?: boolean;
  /** Spent per segment and per id before either is built; unlimited when absent. */
  budget?: ResponseBudget | undefined;
}

/** One person's availability over a window: the segments and the day-weighted figures. */
export interface AvailabilitySummary {
  segments: Segment[];
  /** Day-weighted mean over counted days, in basis points, rounded half up. */
  averageBp: number;
  /** Highest total on any counted day. */
  peakBp: number;
  /** Counted days above 100%. */
  overallocatedDays: number;
  /** Counted days below 100% (some time still free). */
  availableDays: number;
  /** Counted days: all days, or weekdays only. */
  countedDays: number;
  /** Lowest free share on any counted day (10,000 when nothing is allocated or no day counts). */
  minAvailableBp: number;
}

/** A whole person (100%), in basis points. */
export const FULL_BP = 10_000;

/**
 * Cuts [windowStart, windowEnd] into maximal runs of days with the same set
 * of active allocations; a run with none is a segment at 0. Allocations may
 * reach outside the window; only their overlap counts.
 */
export function segments(
  windowStart: string,
  windowEnd: string,
  allocations: readonly Allocation[],
  { includeIds = false, budget }: SegmentOptions = {},
): Segment[] {
  const first = toEpochDay(windowStart);
  const last = toEpochDay(windowEnd);
  // Day → change of the total that day (numeric keys: a busy person has thousands).
  const delta = new Map<number, number>([[first, 0]]);
  // With ids only: day → allocations that start there / ended the day before, and the change in their number.
  const starts = includeIds ? new Map<number, Allocation[]>() : undefined;
  const ends = includeIds ? new Map<number, Allocation[]>() : undefined;
  const count = includeIds ? new Map<number, number>() : undefined;
  for (const a of allocations) {
    const s = Math.max(toEpochDay(a.periodStart), first);
    const e = Math.min(toEpochDay(a.periodEnd), last);
    if (s > e) continue;
    delta.set(s, (delta.get(s) ?? 0) + a.allocatedBp);
    delta.set(e + 1, (delta.get(e + 1) ?? 0) - a.allocatedBp);
    if (starts && ends && count) {
      push(starts, s, a);
      push(ends, e + 1, a);
      count.set(s, (count.get(s) ?? 0) + 1);
      count.set(e + 1, (count.get(e + 1) ?? 0) - 1);
    }
  }
  // Something starts or ends on every boundary, so the set changes there even when the total does not.
  const boundaries = Float64Array.from(delta.keys()).sort();
  if (budget) {
    // Charge the whole answer before building any of it: an oversized one fails in a cheap numeric pass.
    let active = 0;
    for (let i = 0; i < boundaries.length && boundaries[i]! <= last; i++) {
      active += count?.get(boundaries[i]!) ?? 0;
      budget.spend(SEGMENT_BYTES + active * ID_BYTES);
    }
  }
  const active = new Set<string>();
  const out: Segment[] = [];
  let bp = 0;
  for (let i = 0; i < boundaries.length && boundaries[i]! <= last; i++) {
    const day = boundaries[i]!;
    bp += delta.get(day)!;
    if (starts && ends) {
      for (const a of ends.get(day) ?? []) active.delete(a.id);
      for (const a of starts.get(day) ?? []) active.add(a.id);
    }
    // No boundary lies past last + 1 (every end is clipped to the window).
    const next = boundaries[i + 1] ?? last + 1;
    out.push({
      periodStart: fromEpochDay(day),
      periodEnd: fromEpochDay(next - 1),
      allocatedBp: bp,
      capacityIds: includeIds ? [...active].sort() : [],
    });
  }
  return out;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Monday–Friday days in [start, end] (epoch days; 1970-01-01 was a Thursday). */
export function weekdaysBetween(start: number, end: number): number {
  if (end < start) return 0;
  // Weekday index with Monday = 0: epoch day 0 (Thursday) → 3.
  const weekdayOf = (d: number): number => (((d + 3) % 7) + 7) % 7;
  const total = end - start + 1;
  const fullWeeks = Math.floor(total / 7);
  let count = fullWeeks * 5;
  for (let d = start + fullWeeks * 7; d <= end; d++) if (weekdayOf(d) < 5) count++;
  return count;
}

/**
 * Segments plus the day-weighted figures; with excludeWeekends, Saturdays and
 * Sundays weigh nothing. A budget is charged for the person and each segment.
 */
export function summarize(
  windowStart: string,
  windowEnd: string,
  allocations: readonly Allocation[],
  excludeWeekends: boolean,
  options: SegmentOptions = {},
): AvailabilitySummary {
  options.budget?.spend(PERSON_BYTES);
  const segs = segments(windowStart, windowEnd, allocations, options);
  let weighted = 0;
  let counted = 0;
  let peak = 0;
  let over = 0;
  let available = 0;
  let minAvailable = FULL_BP;
  for (const s of segs) {
    const a = toEpochDay(s.periodStart);
    const b = toEpochDay(s.periodEnd);
    const days = excludeWeekends ? weekdaysBetween(a, b) : b - a + 1;
    if (days === 0) continue;
    counted += days;
    weighted += s.allocatedBp * days;
    peak = Math.max(peak, s.allocatedBp);
    if (s.allocatedBp > FULL_BP) over += days;
    if (s.allocatedBp < FULL_BP) available += days;
    minAvailable = Math.min(minAvailable, Math.max(0, FULL_BP - s.allocatedBp));
  }
  return {
    segments: segs,
    averageBp: counted === 0 ? 0 : Math.round(weighted / counted),
    peakBp: peak,
    overallocatedDays: over,
    availableDays: available,
    countedDays: counted,
    minAvailableBp: minAvailable,
  };
}

/** The first run of days above 100% in the window, if any. */
export function firstOverallocation(windowStart: string, windowEnd: string, allocations: readonly Allocation[]): Segment | undefined {
  return segments(windowStart, windowEnd, allocations).find((s) => s.allocatedBp > FULL_BP);
}
