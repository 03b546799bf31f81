/**
 * The rules of working-time records: work schedules, holiday calendars and
 * their entries, time off. What a create or update may contain, how an
 * update mask applies, what SetHolidays accepts. Pure functions: the caller
 * supplies the stamp (clock, etag) and the new id.
 */
import { TimeOffKind, TimeOffStatus } from "../gen/work/v1/working_time_pb.js";
import { checkPeriodOrder, isIsoDate, requiredDate, type DateWindow } from "./dates.js";
import { NotFoundError, Violations } from "./errors.js";
import { checkRecordId, optionalReference, requiredReference } from "./ids.js";
import {
  checkText,
  created,
  LIVE,
  requiredText,
  resolveMaskOf,
  SOFT_DELETE_PATHS,
  STAMPED_PATHS,
  touched,
  type SoftDeletable,
  type StampedRecord,
  type WriteStamp,
} from "./records.js";

/** Id prefixes: `wsc_…`, `hcal_…`, `off_…`. */
export const SCHEDULE_PREFIX = "wsc";
/** Id prefix of holiday calendars. */
export const CALENDAR_PREFIX = "hcal";
/** Id prefix of time-off records. */
export const TIME_OFF_PREFIX = "off";

/** Minutes in a day: the most a weekday, a holiday or a day of leave can count. */
export const DAY_MINUTES = 1440;
/** Days of a week in `weekday_minutes`, Monday first. */
export const WEEKDAYS = 7;
/** Most entries one SetHolidays may send. */
export const MAX_HOLIDAYS_PER_CALL = 500;
/** Longest calendar or holiday name, in Unicode characters. */
export const MAX_NAME_CHARS = 200;
/** Longest calendar region, in Unicode characters. */
export const MAX_REGION_CHARS = 64;
/** Longest time-off notes, in Unicode characters. */
export const MAX_NOTES_CHARS = 4000;

/** The rule text of `weekday_minutes`. */
export const WEEKDAY_MINUTES_RULE = `must hold exactly ${WEEKDAYS} values, Monday first, each 0 to ${DAY_MINUTES}`;
/** The rule text of a minutes field (`minutes_off`, `minutes_per_day`). */
export const MINUTES_RULE = `must be 0 to ${DAY_MINUTES} (0 means the whole day)`;

/** A stored work schedule. `personId` is empty for the tenant's default. */
export interface WorkScheduleRecord extends StampedRecord, SoftDeletable {
  personId: string;
  validFrom: string;
  /** Exactly 7 values, Monday first. */
  weekdayMinutes: number[];
  /** Empty for none. */
  holidayCalendarId: string;
}

/** A stored holiday calendar (its entries are stored apart, one row per date). */
export interface HolidayCalendarRecord extends StampedRecord {
  name: string;
  region: string;
}

/** One entry of a holiday calendar. */
export interface HolidayEntry {
  date: string;
  name: string;
  /** 0 means the whole day. */
  minutesOff: number;
}

/** A stored time-off record. */
export interface TimeOffRecord extends StampedRecord, SoftDeletable {
  personId: string;
  periodStart: string;
  periodEnd: string;
  kind: TimeOffKind;
  /** 0 means whole days. */
  minutesPerDay: number;
  status: TimeOffStatus;
  notes: string;
}

/** The writable fields of each kind, as a client sent them. */
export type WorkScheduleInput = Pick<WorkScheduleRecord, "personId" | "validFrom" | "weekdayMinutes" | "holidayCalendarId">;
/** The writable fields of a holiday calendar. */
export type HolidayCalendarInput = Pick<HolidayCalendarRecord, "name" | "region">;
/** The writable fields of a time-off record. */
export type TimeOffInput = Pick<TimeOffRecord, "personId" | "periodStart" | "periodEnd" | "kind" | "minutesPerDay" | "status" | "notes">;

/** Writable mask paths of each kind, in the order violations are reported. */
export const SCHEDULE_PATHS = ["person_id", "valid_from", "weekday_minutes", "holiday_calendar_id"] as const;
/** Writable mask paths of a holiday calendar. */
export const CALENDAR_PATHS = ["name", "region"] as const;
/** Writable mask paths of a time-off record. */
export const TIME_OFF_PATHS = ["person_id", "period_start", "period_end", "kind", "minutes_per_day", "status", "notes"] as const;
/** One writable path of a schedule. */
export type SchedulePath = (typeof SCHEDULE_PATHS)[number];
/** One writable path of a calendar. */
export type CalendarPath = (typeof CALENDAR_PATHS)[number];
/** One writable path of a time-off record. */
export type TimeOffPath = (typeof TIME_OFF_PATHS)[number];

/** The update mask of a SetWorkSchedule: the selected paths, or undefined for all. */
export function scheduleMask(paths: readonly string[] | undefined, v: Violations): Set<SchedulePath> | undefined {
  return resolveMaskOf(paths, SCHEDULE_PATHS, [...STAMPED_PATHS, ...SOFT_DELETE_PATHS], v);
}

/** The update mask of a SetHolidayCalendar. */
export function calendarMask(paths: readonly string[] | undefined, v: Violations): Set<CalendarPath> | undefined {
  return resolveMaskOf(paths, CALENDAR_PATHS, STAMPED_PATHS, v);
}

/** The update mask of a SetTimeOff. */
export function timeOffMask(paths: readonly string[] | undefined, v: Violations): Set<TimeOffPath> | undefined {
  return resolveMaskOf(paths, TIME_OFF_PATHS, [...STAMPED_PATHS, ...SOFT_DELETE_PATHS], v);
}

/** Whether a write takes `path` from the input: always on create and without a mask, else when masked. */
function taker<P extends string>(isCreate: boolean, mask: Set<P> | undefined): (path: P) => boolean {
  return (path) => isCreate || mask === undefined || mask.has(path);
}

/** A minutes value (0–1440); records a violation on `field` otherwise. */
function minutes(value: number, field: string, v: Violations): number {
  if (!Number.isInteger(value) || value < 0 || value > DAY_MINUTES) v.add(field, MINUTES_RULE);
  return value;
}

/** An optional holiday calendar reference: empty, or a well-formed `hcal_` id (its existence is the service's to check). */
function calendarReference(value: string, field: string, v: Violations): string {
  if (value !== "") checkRecordId(CALENDAR_PREFIX, value, field, v);
  return value;
}

/**
 * The writable fields of a schedule after a create (`base` undefined) or an
 * update of `base` under `mask`. Violations name fields under `schedule.`.
 */
function scheduleFields(input: WorkScheduleInput, base: WorkScheduleInput | undefined, mask: Set<SchedulePath> | undefined, v: Violations): WorkScheduleInput {
  const take = taker(base === undefined, mask);
  const out: WorkScheduleInput = base ? { ...base } : { personId: "", validFrom: "", weekdayMinutes: [], holidayCalendarId: "" };
  if (take("person_id")) out.personId = optionalReference(input.personId, "schedule.person_id", v) ?? "";
  if (take("valid_from")) out.validFrom = requiredDate(input.validFrom, "schedule.valid_from", v);
  if (take("weekday_minutes")) {
    const values = input.weekdayMinutes;
    if (values.length !== WEEKDAYS || values.some((m) => !Number.isInteger(m) || m < 0 || m > DAY_MINUTES))
      v.add("schedule.weekday_minutes", WEEKDAY_MINUTES_RULE);
    out.weekdayMinutes = [...values];
  }
  if (take("holiday_calendar_id")) out.holidayCalendarId = calendarReference(input.holidayCalendarId, "schedule.holiday_calendar_id", v);
  return out;
}

/** A new schedule. Throws InvalidArgumentError listing every broken rule. */
export function createSchedule(input: WorkScheduleInput, id: string, stamp: WriteStamp): WorkScheduleRecord {
  const v = new Violations();
  const fields = scheduleFields(input, undefined, undefined, v);
  v.throwIfAny();
  return { ...created(id, stamp), ...LIVE, ...fields };
}

/** `existing` updated under `mask` (the caller has checked etag and deletion). Throws InvalidArgumentError. */
export function updateSchedule(
  existing: WorkScheduleRecord,
  input: WorkScheduleInput,
  mask: Set<SchedulePath> | undefined,
  stamp: WriteStamp,
): WorkScheduleRecord {
  const v = new Violations();
  const fields = scheduleFields(input, existing, mask, v);
  v.throwIfAny();
  return touched({ ...existing, ...fields }, stamp);
}

/** The writable fields of a calendar after a create or an update under `mask`. */
function calendarFields(
  input: HolidayCalendarInput,
  base: HolidayCalendarInput | undefined,
  mask: Set<CalendarPath> | undefined,
  v: Violations,
): HolidayCalendarInput {
  const take = taker(base === undefined, mask);
  const out: HolidayCalendarInput = base ? { ...base } : { name: "", region: "" };
  if (take("name")) out.name = requiredText(input.name, MAX_NAME_CHARS, "calendar.name", v);
  if (take("region")) {
    checkText(input.region, MAX_REGION_CHARS, "calendar.region", v);
    out.region = input.region;
  }
  return out;
}

/** A new holiday calendar. Throws InvalidArgumentError. */
export function createCalendar(input: HolidayCalendarInput, id: string, stamp: WriteStamp): HolidayCalendarRecord {
  const v = new Violations();
  const fields = calendarFields(input, undefined, undefined, v);
  v.throwIfAny();
  return { ...created(id, stamp), ...fields };
}

/** `existing` updated under `mask` (the caller has checked the etag). Throws InvalidArgumentError. */
export function updateCalendar(
  existing: HolidayCalendarRecord,
  input: HolidayCalendarInput,
  mask: Set<CalendarPath> | undefined,
  stamp: WriteStamp,
): HolidayCalendarRecord {
  const v = new Violations();
  const fields = calendarFields(input, existing, mask, v);
  v.throwIfAny();
  return touched({ ...existing, ...fields }, stamp);
}

/** The writable fields of a time-off record after a create or an update under `mask`. */
function timeOffFields(input: TimeOffInput, base: TimeOffInput | undefined, mask: Set<TimeOffPath> | undefined, v: Violations): TimeOffInput {
  const take = taker(base === undefined, mask);
  const out: TimeOffInput = base
    ? { ...base }
    : { personId: "", periodStart: "", periodEnd: "", kind: TimeOffKind.UNSPECIFIED, minutesPerDay: 0, status: TimeOffStatus.REQUESTED, notes: "" };
  if (take("person_id")) out.personId = requiredReference(input.personId, "time_off.person_id", v);
  if (take("period_start")) out.periodStart = requiredDate(input.periodStart, "time_off.period_start", v);
  if (take("period_end")) out.periodEnd = requiredDate(input.periodEnd, "time_off.period_end", v);
  if (take("kind")) {
    if (input.kind === TimeOffKind.UNSPECIFIED) v.add("time_off.kind", "is required");
    else if (TimeOffKind[input.kind] === undefined) v.add("time_off.kind", "must be a known TimeOffKind value");
    out.kind = input.kind;
  }
  if (take("minutes_per_day")) out.minutesPerDay = minutes(input.minutesPerDay, "time_off.minutes_per_day", v);
  if (take("status")) {
    if (TimeOffStatus[input.status] === undefined) v.add("time_off.status", "must be a known TimeOffStatus value");
    out.status = input.status === TimeOffStatus.UNSPECIFIED ? TimeOffStatus.REQUESTED : input.status;
  }
  if (take("notes")) {
    checkText(input.notes, MAX_NOTES_CHARS, "time_off.notes", v);
    out.notes = input.notes;
  }
  checkPeriodOrder(out.periodStart, out.periodEnd, "time_off.period_end", "period_start", v);
  return out;
}

/** A new time-off record; status defaults to REQUESTED. Throws InvalidArgumentError. */
export function createTimeOff(input: TimeOffInput, id: string, stamp: WriteStamp): TimeOffRecord {
  const v = new Violations();
  const fields = timeOffFields(input, undefined, undefined, v);
  v.throwIfAny();
  return { ...created(id, stamp), ...LIVE, ...fields };
}

/** `existing` updated under `mask` (the caller has checked etag and deletion). Throws InvalidArgumentError. */
export function updateTimeOff(existing: TimeOffRecord, input: TimeOffInput, mask: Set<TimeOffPath> | undefined, stamp: WriteStamp): TimeOffRecord {
  const v = new Violations();
  const fields = timeOffFields(input, existing, mask, v);
  v.throwIfAny();
  return touched({ ...existing, ...fields }, stamp);
}

/**
 * A SetHolidays range and its entries: the range a real period, at most 500
 * entries, each a real date inside the range, no date twice, a name, minutes
 * off 0–1440. Returns the entries in date order. Throws InvalidArgumentError
 * (entries named `holidays[i].field`).
 */
export function checkHolidays(window: DateWindow, entries: readonly HolidayEntry[]): HolidayEntry[] {
  const v = new Violations();
  requiredDate(window.start, "period_start", v);
  requiredDate(window.end, "period_end", v);
  const inOrder = checkPeriodOrder(window.start, window.end, "period_end", "period_start", v);
  if (entries.length > MAX_HOLIDAYS_PER_CALL) {
    v.add("holidays", `must hold at most ${MAX_HOLIDAYS_PER_CALL} entries; split the range`);
    v.throwIfAny();
  }
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const f = (name: string): string => `holidays[${i}].${name}`;
    if (entry.date === "") v.add(f("date"), "is required");
    else if (!isIsoDate(entry.date)) requiredDate(entry.date, f("date"), v);
    else if (seen.has(entry.date)) v.add(f("date"), "appears twice; one entry per date");
    else if (inOrder && (entry.date < window.start || entry.date > window.end)) v.add(f("date"), "must be inside [period_start, period_end]");
    seen.add(entry.date);
    requiredText(entry.name, MAX_NAME_CHARS, f("name"), v);
    minutes(entry.minutesOff, f("minutes_off"), v);
  });
  v.throwIfAny();
  return [...entries].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** The error for an id that names no record of the caller; `what` names the kind ("work schedule"). */
export function notFound(what: string, id: string): NotFoundError {
  return new NotFoundError(`${what} ${id} not found`);
}
