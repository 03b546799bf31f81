/**
 * The working-time tables as the drivers see them: names, snake_case row
 * types, and the mapping between rows and the domain's records. No SQL runs
 * here.
 */
import type { HolidayCalendarRecord, HolidayEntry, TimeOffRecord, WorkScheduleRecord } from "../domain/working-time.js";

/** The work schedules. */
export const SCHEDULES = "work_schedules";
/** The holiday calendars. */
export const CALENDARS = "holiday_calendars";
/** The entries of holiday calendars, one row per (calendar, date). */
export const HOLIDAYS = "holidays";
/** The time-off records. */
export const TIME_OFF = "time_off";

/** The weekday columns of work_schedules, Monday first: the order of `weekdayMinutes`. */
export const WEEKDAY_COLUMNS = ["minutes_mon", "minutes_tue", "minutes_wed", "minutes_thu", "minutes_fri", "minutes_sat", "minutes_sun"] as const;

/** Columns every record table has. */
interface StampedRow {
  tenant_id: string;
  id: string;
  app_id: string;
  created_at: number;
  updated_at: number;
  created_by: string;
  updated_by: string;
  etag: string;
}

/** Soft-delete columns; both drivers answer booleans as 0 or 1. */
interface SoftDeleteRow {
  is_deleted: boolean | number;
  deleted_at: number | null;
  deleted_by: string;
}

/** A row of work_schedules. */
export type ScheduleRow = StampedRow &
  SoftDeleteRow &
  Record<(typeof WEEKDAY_COLUMNS)[number], number> & {
    person_id: string;
    valid_from: string;
    holiday_calendar_id: string;
  };

/** A row of holiday_calendars. */
export type CalendarRow = StampedRow & { name: string; region: string };

/** A row of holidays. */
export interface HolidayRow {
  tenant_id: string;
  calendar_id: string;
  holiday_date: string;
  name: string;
  minutes_off: number;
}

/** A row of time_off. */
export type TimeOffRow = StampedRow &
  SoftDeleteRow & {
    person_id: string;
    period_start: string;
    period_end: string;
    kind: number;
    minutes_per_day: number;
    status: number;
    notes: string;
  };

/** One record kind's table and its mapping both ways. */
export interface RecordTable<R, Row> {
  name: string;
  toRow(record: R): Row;
  toRecord(row: Row): R;
}

type Stamped = Pick<WorkScheduleRecord, "id" | "tenantId" | "appId" | "createdAt" | "updatedAt" | "createdBy" | "updatedBy" | "etag">;
type Deletable = Pick<WorkScheduleRecord, "isDeleted" | "deletedAt" | "deletedBy">;

function stampedRow(r: Stamped): StampedRow {
  return {
    tenant_id: r.tenantId,
    id: r.id,
    app_id: r.appId,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    created_by: r.createdBy,
    updated_by: r.updatedBy,
    etag: r.etag,
  };
}

function stamped(row: StampedRow): Stamped {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    appId: row.app_id,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    createdBy: row.created_by,
    updatedBy: row.updated_by,
    etag: row.etag,
  };
}

function deletableRow(r: Deletable): SoftDeleteRow {
  return { is_deleted: r.isDeleted, deleted_at: r.deletedAt, deleted_by: r.deletedBy };
}

function deletable(row: SoftDeleteRow): Deletable {
  return { isDeleted: Boolean(row.is_deleted), deletedAt: row.deleted_at === null ? null : Number(row.deleted_at), deletedBy: row.deleted_by };
}

/** work_schedules ↔ WorkScheduleRecord. */
export const SCHEDULE_TABLE: RecordTable<WorkScheduleRecord, ScheduleRow> = {
  name: SCHEDULES,
  toRow: (r) => ({
    ...stampedRow(r),
    ...deletableRow(r),
    person_id: r.personId,
    valid_from: r.validFrom,
    ...(Object.fromEntries(WEEKDAY_COLUMNS.map((c, i) => [c, r.weekdayMinutes[i] ?? 0])) as Record<(typeof WEEKDAY_COLUMNS)[number], number>),
    holiday_calendar_id: r.holidayCalendarId,
  }),
  toRecord: (row) =>
    ({
      ...stamped(row),
      ...deletable(row),
      personId: row.person_id,
      validFrom: row.valid_from,
      weekdayMinutes: WEEKDAY_COLUMNS.map((c) => Number(row[c])),
      holidayCalendarId: row.holiday_calendar_id,
    }) satisfies Record<keyof WorkScheduleRecord, unknown>,
};

/** holiday_calendars ↔ HolidayCalendarRecord. */
export const CALENDAR_TABLE: RecordTable<HolidayCalendarRecord, CalendarRow> = {
  name: CALENDARS,
  toRow: (r) => ({ ...stampedRow(r), name: r.name, region: r.region }),
  toRecord: (row) => ({ ...stamped(row), name: row.name, region: row.region }) satisfies Record<keyof HolidayCalendarRecord, unknown>,
};

/** time_off ↔ TimeOffRecord. */
export const TIME_OFF_TABLE: RecordTable<TimeOffRecord, TimeOffRow> = {
  name: TIME_OFF,
  toRow: (r) => ({
    ...stampedRow(r),
    ...deletableRow(r),
    person_id: r.personId,
    period_start: r.periodStart,
    period_end: r.periodEnd,
    kind: r.kind,
    minutes_per_day: r.minutesPerDay,
    status: r.status,
    notes: r.notes,
  }),
  toRecord: (row) =>
    ({
      ...stamped(row),
      ...deletable(row),
      personId: row.person_id,
      periodStart: row.period_start,
      periodEnd: row.period_end,
      kind: Number(row.kind),
      minutesPerDay: Number(row.minutes_per_day),
      status: Number(row.status),
      notes: row.notes,
    }) satisfies Record<keyof TimeOffRecord, unknown>,
};

/** The row of one calendar entry. */
export function toHolidayRow(tenantId: string, calendarId: string, entry: HolidayEntry): HolidayRow {
  return { tenant_id: tenantId, calendar_id: calendarId, holiday_date: entry.date, name: entry.name, minutes_off: entry.minutesOff };
}

/** A calendar entry as the domain sees it. */
export function toHoliday(row: HolidayRow): HolidayEntry {
  return { date: row.holiday_date, name: row.name, minutesOff: Number(row.minutes_off) };
}
