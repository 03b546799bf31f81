/**
 * Calendar dates as ISO 8601 `YYYY-MM-DD` strings. Dates compare correctly as
 * strings, so they are stored and compared in that form everywhere. The date
 * rules of every request (required, optional, in order) are checked here.
 */
import type { Violations } from "./errors.js";

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Earliest year accepted: MySQL's DATE type promises nothing before it. */
export const MIN_YEAR = 1000;
/** Latest year accepted: MySQL's DATE type promises nothing after it. */
export const MAX_YEAR = 9999;

/** The violation description of a malformed date. */
export const DATE_RULE = `must be a real calendar date YYYY-MM-DD between ${MIN_YEAR}-01-01 and ${MAX_YEAR}-12-31`;

/** True for a real calendar date in `YYYY-MM-DD` form (no 2023-02-29, no 2024-13-01). */
export function isIsoDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

/** A window of days, both inclusive, as ISO dates. */
export interface DateWindow {
  start: string;
  end: string;
}

/** A required date field: a violation when empty or not a real date. Returns the value as sent. */
export function requiredDate(value: string, field: string, v: Violations): string {
  if (value === "") v.add(field, "is required");
  else if (!isIsoDate(value)) v.add(field, DATE_RULE);
  return value;
}

/** An optional date (a filter): undefined when empty; a violation when not a real date. */
export function optionalDate(value: string, field: string, v: Violations): string | undefined {
  if (value === "") return undefined;
  if (!isIsoDate(value)) v.add(field, DATE_RULE);
  return value;
}

/**
 * Whether `start`..`end` is a period: true when both are real dates and `end`
 * is not before `start`. When both are real dates but out of order, the
 * violation names `endField` ("must not be before `startName`"); a malformed
 * date was reported by its own check, so it adds nothing here.
 */
export function checkPeriodOrder(start: string, end: string, endField: string, startName: string, v: Violations): boolean {
  if (!isIsoDate(start) || !isIsoDate(end)) return false;
  if (end < start) {
    v.add(endField, `must not be before ${startName}`);
    return false;
  }
  return true;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Days since 1970-01-01 of a valid ISO date. Plain arithmetic (H. Hinnant's
 * days_from_civil): availability converts thousands of dates per call.
 */
export function toEpochDay(date: string): number {
  let y = Number(date.slice(0, 4));
  const m = Number(date.slice(5, 7));
  const d = Number(date.slice(8, 10));
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The ISO date of a day number from toEpochDay (civil_from_days). */
export function fromEpochDay(day: number): string {
  const z = day + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, "0")}-${m < 10 ? "0" : ""}${m}-${d < 10 ? "0" : ""}${d}`;
}
