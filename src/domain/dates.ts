/**
 * Calendar dates as ISO 8601 `YYYY-MM-DD` strings. Dates compare correctly as
 * strings, so they are stored and compared in that form everywhere.
 */

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

/** Years outside what MySQL's DATE type promises are rejected. */
export const MIN_YEAR = 1000;
export const MAX_YEAR = 9999;

export const DATE_RULE = `must be a real calendar date YYYY-MM-DD between ${MIN_YEAR}-01-01 and ${MAX_YEAR}-12-31`;

/** True for a real calendar date in `YYYY-MM-DD` form (no 2023-02-29, no 2024-13-01). */
export function isIsoDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < MIN_YEAR || year > MAX_YEAR || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Days since 1970-01-01 of a valid ISO date. */
export function toEpochDay(date: string): number {
  return Math.floor(Date.parse(`${date}T00:00:00Z`) / MS_PER_DAY);
}

/** The ISO date of a day number from toEpochDay. */
export function fromEpochDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}
