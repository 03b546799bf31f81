/**
 * work.v1.WorkingTimeService: work schedules, holiday calendars and their
 * entries, time off. Thin, like the capacity service: each RPC checks its
 * request through the domain (domain/working-time.ts), reads or writes the
 * store (store/working-time-store.ts) and maps to the message
 * (working-time-mapping.ts). Every write runs through one runner
 * (working-time-writes.ts): validate_only, request ids, one transaction.
 */
import { create } from "@bufbuild/protobuf";
import { AlreadyExistsError, InvalidArgumentError, Violations } from "../domain/errors.js";
import { checkRecordId, checkRequestId } from "../domain/ids.js";
import { assertEtag, assertLive, softDeleted, touched, type SoftDeletable, type StampedRecord } from "../domain/records.js";
import {
  calendarMask,
  CALENDAR_PREFIX,
  checkHolidays,
  createCalendar,
  createSchedule,
  createTimeOff,
  notFound,
  scheduleMask,
  SCHEDULE_PREFIX,
  timeOffMask,
  TIME_OFF_PREFIX,
  updateCalendar,
  updateSchedule,
  updateTimeOff,
  type WorkScheduleRecord,
} from "../domain/working-time.js";
import { SetHolidaysResponseSchema, WorkingTimeService } from "../gen/work/v1/working_time_pb.js";
import type { WorkingTimeReads, WorkingTimeStore, WorkingTimeWriter } from "../store/working-time-store.js";
import { scopeOf, type Call, type ServiceCore, type WorkLimits } from "./call.js";
import { writeStamp } from "./capacity-writes.js";
import { calendarInput, holidayEntry, scheduleInput, timeOffInput, toHoliday, toHolidayCalendar, toTimeOff, toWorkSchedule } from "./working-time-mapping.js";
import { calendarOf, checkedId, createWorkingTimeReads } from "./working-time-reads.js";
import { checkSetRequest, runWrite } from "./working-time-writes.js";

/** work.v1.WorkingTimeService's core: one method per RPC of the generated descriptor. */
export type WorkingTimeCore = ServiceCore<typeof WorkingTimeService>;

/** What the service runs on. */
export interface WorkingTimeServiceOptions {
  store: WorkingTimeStore;
  /** The response cap (from the configuration). */
  limits: Pick<WorkLimits, "maxResponseBytes">;
  /** Epoch milliseconds; tests may pin it. */
  now?: () => number;
}

const M = WorkingTimeService.method;
/**
 * A schedule's references, read under the same reads as the write: its
 * calendar must be one of the caller's (else INVALID_ARGUMENT on the field),
 * and no other live schedule of the person may start on its `valid_from`
 * (ALREADY_EXISTS); the person's lock is taken first, so the check holds.
 */
async function checkScheduleRefs(record: WorkScheduleRecord, reads: WorkingTimeReads, lockPerson: (p: string) => Promise<void>): Promise<void> {
  if (record.holidayCalendarId !== "" && !(await reads.getCalendar(record.holidayCalendarId))) {
    throw new InvalidArgumentError([{ field: "schedule.holiday_calendar_id", description: "names no holiday calendar of the caller" }]);
  }
  await lockPerson(record.personId);
  const clash = await reads.scheduleAt(record.personId, record.validFrom);
  if (clash !== undefined && clash !== record.id) {
    const whose = record.personId === "" ? "the tenant default" : `person ${record.personId}`;
    throw new AlreadyExistsError(`work schedule ${clash} of ${whose} already starts on ${record.validFrom}; update it instead`);
  }
}

/** The WorkingTimeService core on a store; the server adapts it to every engine. */
export function createWorkingTimeService({ store, limits, now = Date.now }: WorkingTimeServiceOptions): WorkingTimeCore {
  /** A soft delete of one record: read under a row lock, checked, written back. */
  async function remove<R extends StampedRecord & SoftDeletable>(
    caller: Call,
    req: { id: string; etag: string },
    prefix: string,
    what: string,
    get: (reads: WorkingTimeReads, id: string) => Promise<R | undefined>,
    put: (w: WorkingTimeWriter, record: R, etag: string) => Promise<void>,
  ): Promise<R> {
    checkedId(prefix, req.id, "id");
    return store.transaction(scopeOf(caller), async (w) => {
      const existing = await get(w, req.id);
      if (!existing) throw notFound(what, req.id);
      const next = softDeleted(existing, req.etag, writeStamp(caller, now()), what);
      await put(w, next, existing.etag);
      return next;
    });
  }

  return {
    ...createWorkingTimeReads(store, limits),

    /** Creates or updates a schedule. Errors: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, ABORTED, FAILED_PRECONDITION. */
    async setWorkSchedule(caller, req) {
      const mask = checkSetRequest("schedule", req.schedule, req.requestId, SCHEDULE_PREFIX, (v) => scheduleMask(req.updateMask?.paths, v));
      const sent = req.schedule!;
      const input = scheduleInput(sent);
      return runWrite(
        store,
        caller,
        M.setWorkSchedule,
        req,
        SCHEDULE_PREFIX,
        {
          async build({ reads, lockPerson, stamp, newId }) {
            let existing: WorkScheduleRecord | undefined;
            let record: WorkScheduleRecord;
            if (sent.id === "") {
              record = createSchedule(input, newId(), stamp);
            } else {
              existing = await reads.getSchedule(sent.id);
              if (!existing) throw notFound("work schedule", sent.id);
              assertLive(existing, sent.etag, "work schedule");
              record = updateSchedule(existing, input, mask, stamp);
            }
            await checkScheduleRefs(record, reads, lockPerson);
            return { record, existing };
          },
          persist: (w, { record, existing }) => (existing ? w.updateSchedule(record, existing.etag) : w.insertSchedule(record)),
          respond: ({ record }) => toWorkSchedule(record),
        },
        now,
      );
    },

    /** Soft-deletes a schedule. Errors: INVALID_ARGUMENT, NOT_FOUND, ABORTED, FAILED_PRECONDITION. */
    async deleteWorkSchedule(caller, req) {
      const r = await remove(
        caller,
        req,
        SCHEDULE_PREFIX,
        "work schedule",
        (reads, id) => reads.getSchedule(id),
        (w, rec, etag) => w.updateSchedule(rec, etag),
      );
      return toWorkSchedule(r);
    },

    /** Creates or updates a calendar. Errors: INVALID_ARGUMENT, NOT_FOUND, ABORTED. */
    async setHolidayCalendar(caller, req) {
      const mask = checkSetRequest("calendar", req.calendar, req.requestId, CALENDAR_PREFIX, (v) => calendarMask(req.updateMask?.paths, v));
      const sent = req.calendar!;
      const input = calendarInput(sent);
      return runWrite(
        store,
        caller,
        M.setHolidayCalendar,
        req,
        CALENDAR_PREFIX,
        {
          async build({ reads, stamp, newId }) {
            if (sent.id === "") return { record: createCalendar(input, newId(), stamp), existing: undefined };
            const existing = await calendarOf(reads, sent.id);
            assertEtag(existing, sent.etag, "holiday calendar");
            return { record: updateCalendar(existing, input, mask, stamp), existing };
          },
          persist: (w, { record, existing }) => (existing ? w.updateCalendar(record, existing.etag) : w.insertCalendar(record)),
          respond: ({ record }) => toHolidayCalendar(record),
        },
        now,
      );
    },

    /** Replaces a calendar's entries in a range. Errors: INVALID_ARGUMENT, NOT_FOUND, ABORTED. */
    async setHolidays(caller, req) {
      const v = new Violations();
      checkRecordId(CALENDAR_PREFIX, req.calendarId, "calendar_id", v);
      checkRequestId(req.requestId, "request_id", v);
      v.throwIfAny();
      const window = { start: req.periodStart, end: req.periodEnd };
      const entries = checkHolidays(window, req.holidays.map(holidayEntry));
      return runWrite(
        store,
        caller,
        M.setHolidays,
        req,
        CALENDAR_PREFIX,
        {
          async build({ reads, stamp }) {
            const existing = await calendarOf(reads, req.calendarId);
            assertEtag(existing, req.etag, "holiday calendar");
            return { calendar: touched(existing, stamp), existing };
          },
          async persist(w, { calendar, existing }) {
            await w.replaceHolidays(calendar.id, window, entries);
            await w.updateCalendar(calendar, existing.etag);
          },
          respond: ({ calendar }) => create(SetHolidaysResponseSchema, { calendar: toHolidayCalendar(calendar), holidays: entries.map(toHoliday) }),
        },
        now,
      );
    },

    /** Creates or updates a time-off record. Errors: INVALID_ARGUMENT, NOT_FOUND, ABORTED, FAILED_PRECONDITION. */
    async setTimeOff(caller, req) {
      const mask = checkSetRequest("time_off", req.timeOff, req.requestId, TIME_OFF_PREFIX, (v) => timeOffMask(req.updateMask?.paths, v));
      const sent = req.timeOff!;
      const input = timeOffInput(sent);
      return runWrite(
        store,
        caller,
        M.setTimeOff,
        req,
        TIME_OFF_PREFIX,
        {
          async build({ reads, stamp, newId }) {
            if (sent.id === "") return { record: createTimeOff(input, newId(), stamp), existing: undefined };
            const existing = await reads.getTimeOff(sent.id);
            if (!existing) throw notFound("time off", sent.id);
            assertLive(existing, sent.etag, "time off");
            return { record: updateTimeOff(existing, input, mask, stamp), existing };
          },
          persist: (w, { record, existing }) => (existing ? w.updateTimeOff(record, existing.etag) : w.insertTimeOff(record)),
          respond: ({ record }) => toTimeOff(record),
        },
        now,
      );
    },

    /** Soft-deletes a time-off record. Errors: INVALID_ARGUMENT, NOT_FOUND, ABORTED, FAILED_PRECONDITION. */
    async deleteTimeOff(caller, req) {
      const r = await remove(
        caller,
        req,
        TIME_OFF_PREFIX,
        "time off",
        (reads, id) => reads.getTimeOff(id),
        (w, rec, etag) => w.updateTimeOff(rec, etag),
      );
      return toTimeOff(r);
    },
  };
}
