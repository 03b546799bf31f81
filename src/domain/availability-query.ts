/**
 * What an availability read may ask for: a window of real dates, in order and
 * at most three years long, and for a batch, up to 500 distinct people. The
 * limits keep one call's work bounded before anything is read.
 */
import { checkPeriodOrder, requiredDate, type DateWindow } from "./dates.js";
import type { Violations } from "./errors.js";
import { requiredReference } from "./ids.js";

/** Most people one BatchGetPersonAvailability may name. */
export const MAX_BATCH_PERSONS = 500;

/** Longest availability window: three calendar years, e.g. 2027-01-01 to 2029-12-31. */
export function withinThreeYears(start: string, end: string): boolean {
  const [y, m, d] = start.split("-").map(Number) as [number, number, number];
  const limit = new Date(Date.UTC(y + 3, m - 1, d)).toISOString().slice(0, 10);
  return end < limit;
}

/** The window of an availability read (`period_start`, `period_end`): both dates required and real, in order, at most three years apart. */
export function availabilityWindow(start: string, end: string, v: Violations): DateWindow {
  requiredDate(start, "period_start", v);
  requiredDate(end, "period_end", v);
  if (checkPeriodOrder(start, end, "period_end", "period_start", v) && !withinThreeYears(start, end)) {
    v.add("period_end", "the window must be at most three years long");
  }
  return { start, end };
}

/**
 * The people of a batch (`person_ids`) in canonical form: at least one, at
 * most MAX_BATCH_PERSONS, each a valid reference named once. Past the limit
 * only the first MAX_BATCH_PERSONS are checked, so a huge list costs no more.
 */
export function batchPersonIds(values: readonly string[], v: Violations): string[] {
  if (values.length === 0) v.add("person_ids", "must name at least one person");
  if (values.length > MAX_BATCH_PERSONS) v.add("person_ids", `must name at most ${MAX_BATCH_PERSONS} people`);
  const personIds = values.slice(0, MAX_BATCH_PERSONS).map((p, i) => requiredReference(p, `person_ids[${i}]`, v));
  const seen = new Set<string>();
  personIds.forEach((p, i) => {
    if (seen.has(p)) v.add(`person_ids[${i}]`, "is a duplicate; name each person once");
    seen.add(p);
  });
  return personIds;
}
