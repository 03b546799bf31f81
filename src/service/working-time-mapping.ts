/** Between the working-time records and their proto messages, both ways. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
  HolidayCalendarInput,
  HolidayCalendarRecord,
  HolidayEntry,
  TimeOffInput,
  TimeOffRecord,
  WorkScheduleInput,
  WorkScheduleRecord,
} from "../domain/working-time.js";
import {
  HolidayCalendarSchema,
  HolidaySchema,
  TimeOffSchema,
  WorkScheduleSchema,
  type Holiday,
  type HolidayCalendar,
  type TimeOff,
  type WorkSchedule,
} from "../gen/work/v1/working_time_pb.js";

/** Every field of a message: a mapping below must set each one (a new field that is forgotten does not compile). */
type Fields<M> = Record<Exclude<keyof M, "$typeName" | "$unknown">, unknown>;

/** Encoded size of each message besides its strings, in JSON (the larger encoding): field names, numbers, timestamps. */
export const FIXED_BYTES = { schedule: 640, calendar: 400, holiday: 96, timeOff: 640 } as const;

/** The server's stamps, as every record message has them. */
function stamps(r: Pick<WorkScheduleRecord, "id" | "tenantId" | "appId" | "createdAt" | "updatedAt" | "createdBy" | "updatedBy" | "etag">) {
  return {
    id: r.id,
    tenantId: r.tenantId,
    appId: r.appId,
    createdAt: timestampFromMs(r.createdAt),
    updatedAt: timestampFromMs(r.updatedAt),
    createdBy: r.createdBy,
    updatedBy: r.updatedBy,
    etag: r.etag,
  };
}

/** The soft-delete fields of a message. */
function deletion(r: Pick<WorkScheduleRecord, "isDeleted" | "deletedAt" | "deletedBy">) {
  return { isDeleted: r.isDeleted, deletedAt: r.deletedAt === null ? undefined : timestampFromMs(r.deletedAt), deletedBy: r.deletedBy };
}

/** The wire form of a stored schedule. */
export function toWorkSchedule(r: WorkScheduleRecord): WorkSchedule {
  const fields = {
    ...stamps(r),
    ...deletion(r),
    personId: r.personId,
    validFrom: r.validFrom,
    weekdayMinutes: r.weekdayMinutes,
    holidayCalendarId: r.holidayCalendarId,
  } satisfies Fields<WorkSchedule>;
  return create(WorkScheduleSchema, fields);
}

/** The wire form of a stored calendar. */
export function toHolidayCalendar(r: HolidayCalendarRecord): HolidayCalendar {
  const fields = { ...stamps(r), name: r.name, region: r.region } satisfies Fields<HolidayCalendar>;
  return create(HolidayCalendarSchema, fields);
}

/** The wire form of a calendar entry. */
export function toHoliday(e: HolidayEntry): Holiday {
  return create(HolidaySchema, { date: e.date, name: e.name, minutesOff: e.minutesOff } satisfies Fields<Holiday>);
}

/** The wire form of a stored time-off record. */
export function toTimeOff(r: TimeOffRecord): TimeOff {
  const fields = {
    ...stamps(r),
    ...deletion(r),
    personId: r.personId,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    kind: r.kind,
    minutesPerDay: r.minutesPerDay,
    status: r.status,
    notes: r.notes,
  } satisfies Fields<TimeOff>;
  return create(TimeOffSchema, fields);
}

/** The writable fields of a request's WorkSchedule; output-only fields are not read. */
export function scheduleInput(s: WorkSchedule): WorkScheduleInput {
  return { personId: s.personId, validFrom: s.validFrom, weekdayMinutes: s.weekdayMinutes, holidayCalendarId: s.holidayCalendarId };
}

/** The writable fields of a request's HolidayCalendar. */
export function calendarInput(c: HolidayCalendar): HolidayCalendarInput {
  return { name: c.name, region: c.region };
}

/** A request's calendar entry. */
export function holidayEntry(h: Holiday): HolidayEntry {
  return { date: h.date, name: h.name, minutesOff: h.minutesOff };
}

/** The writable fields of a request's TimeOff. */
export function timeOffInput(t: TimeOff): TimeOffInput {
  return {
    personId: t.personId,
    periodStart: t.periodStart,
    periodEnd: t.periodEnd,
    kind: t.kind,
    minutesPerDay: t.minutesPerDay,
    status: t.status,
    notes: t.notes,
  };
}
