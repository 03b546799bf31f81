/**
 * Persistence of working time (WorkingTimeService): work schedules, holiday
 * calendars and their entries, time off. Like CapacityStore, every method
 * takes the scope first (or is bound to one): there is no way to touch a row
 * without naming its tenant, and an app-scoped caller sees only its app's
 * records.
 */
import type { DateWindow } from "../domain/dates.js";
import type { HolidayCalendarRecord, HolidayEntry, TimeOffRecord, WorkScheduleRecord } from "../domain/working-time.js";
import type { TimeOffStatus } from "../gen/work/v1/working_time_pb.js";
import type { RequestLog, Scope } from "./store.js";

/** A keyset position: strictly after this (key, id) in (key, id) order. */
export interface KeysetPosition {
  key: string;
  id: string;
}

/** Filters and keyset position of a ListWorkSchedules page, in (valid_from, id) order. */
export interface ScheduleQuery {
  /** Only this person's schedules; `""` only the tenant default's; undefined all. */
  personId?: string | undefined;
  showDeleted: boolean;
  after?: KeysetPosition | undefined;
  limit: number;
}

/** Filters and keyset position of a ListHolidayCalendars page, in id order. */
export interface CalendarQuery {
  region?: string | undefined;
  /** Resume strictly after this id. */
  after?: string | undefined;
  limit: number;
}

/** Filters and keyset position of a ListHolidays page, in date order. */
export interface HolidayQuery {
  calendarId: string;
  periodFrom?: string | undefined;
  periodTo?: string | undefined;
  /** Resume strictly after this date. */
  after?: string | undefined;
  limit: number;
}

/** Filters and keyset position of a ListTimeOff page, in (period_start, id) order. */
export interface TimeOffQuery {
  personId?: string | undefined;
  /** Only records whose period ends on or after this day. */
  periodFrom?: string | undefined;
  /** Only records whose period starts on or before this day. */
  periodTo?: string | undefined;
  status?: TimeOffStatus | undefined;
  showDeleted: boolean;
  after?: KeysetPosition | undefined;
  limit: number;
}

/** Point reads of one scope. Inside a transaction (WorkingTimeWriter) they lock what they read until it ends. */
export interface WorkingTimeReads {
  getSchedule(id: string): Promise<WorkScheduleRecord | undefined>;
  getCalendar(id: string): Promise<HolidayCalendarRecord | undefined>;
  getTimeOff(id: string): Promise<TimeOffRecord | undefined>;
  /** The id of the live schedule of `personId` (`""`: the tenant default) that starts on `validFrom`, if any. */
  scheduleAt(personId: string, validFrom: string): Promise<string | undefined>;
  /** The calendar's entries within the window, in date order (the calendar must be in scope: read it first). */
  holidays(calendarId: string, window: DateWindow): Promise<HolidayEntry[]>;
}

/** Reads and writes inside one transaction, bound to one scope. */
export interface WorkingTimeWriter extends WorkingTimeReads, RequestLog {
  insertSchedule(record: WorkScheduleRecord): Promise<void>;
  /** Writes `record` over the stored row that still has `expectedEtag`. */
  updateSchedule(record: WorkScheduleRecord, expectedEtag: string): Promise<void>;
  insertCalendar(record: HolidayCalendarRecord): Promise<void>;
  /** Writes `record` over the stored row that still has `expectedEtag`. */
  updateCalendar(record: HolidayCalendarRecord, expectedEtag: string): Promise<void>;
  insertTimeOff(record: TimeOffRecord): Promise<void>;
  /** Writes `record` over the stored row that still has `expectedEtag`. */
  updateTimeOff(record: TimeOffRecord, expectedEtag: string): Promise<void>;
  /** Deletes the calendar's entries within the window and inserts `entries` (all inside it). */
  replaceHolidays(calendarId: string, window: DateWindow, entries: readonly HolidayEntry[]): Promise<void>;
  /** Serializes writers of one person's working time (`""`: the tenant default) until the transaction ends. */
  lockPerson(personId: string): Promise<void>;
}

/** The working-time tables of one database. */
export interface WorkingTimeStore {
  /** Point reads of `scope`, outside any transaction (no locks). */
  reads(scope: Scope): WorkingTimeReads;
  listSchedules(scope: Scope, query: ScheduleQuery): Promise<WorkScheduleRecord[]>;
  listCalendars(scope: Scope, query: CalendarQuery): Promise<HolidayCalendarRecord[]>;
  /** The calendar's entries (the calendar must be in scope: read it first). */
  listHolidays(scope: Scope, query: HolidayQuery): Promise<HolidayEntry[]>;
  listTimeOff(scope: Scope, query: TimeOffQuery): Promise<TimeOffRecord[]>;
  /**
   * Runs `work` in one transaction. Deadlocks and lost races are retried by
   * running `work` again, so it must not have effects outside the writer.
   */
  transaction<T>(scope: Scope, work: (writer: WorkingTimeWriter) => Promise<T>): Promise<T>;
}
