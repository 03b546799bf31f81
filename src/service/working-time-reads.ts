/**
 * The reads of WorkingTimeService: its List RPCs and GetTimeOff, spread into
 * the core by working-time-service.ts. Each checks its filters, resumes its
 * page token (bound to the filters and the caller's scope) and reads one page
 * plus one row, cut short to fit the response cap.
 */
import { create } from "@bufbuild/protobuf";
import { checkPeriodOrder, isIsoDate, optionalDate } from "../domain/dates.js";
import { Violations } from "../domain/errors.js";
import { checkRecordId, isRecordId, optionalReference } from "../domain/ids.js";
import { CALENDAR_PREFIX, notFound, SCHEDULE_PREFIX, TIME_OFF_PREFIX, type HolidayCalendarRecord } from "../domain/working-time.js";
import {
  ListHolidayCalendarsResponseSchema,
  ListHolidaysResponseSchema,
  ListTimeOffResponseSchema,
  ListWorkSchedulesResponseSchema,
  TimeOffStatus,
  type WorkingTimeService,
} from "../gen/work/v1/working_time_pb.js";
import type { WorkingTimeReads, WorkingTimeStore } from "../store/working-time-store.js";
import { scopeOf, type Call, type ServiceCore, type WorkLimits } from "./call.js";
import { checkPageSize, keysetPage, pageSizeOf, queryDigest, resumeAfter, type PositionRules } from "./paging.js";
import { FIXED_BYTES, toHoliday, toHolidayCalendar, toTimeOff, toWorkSchedule } from "./working-time-mapping.js";

/** The read RPCs of WorkingTimeService's core. */
export type WorkingTimeReadRpcs = Pick<
  ServiceCore<typeof WorkingTimeService>,
  "listWorkSchedules" | "listHolidayCalendars" | "listHolidays" | "getTimeOff" | "listTimeOff"
>;

/** Page-token positions of each List: (valid_from | period_start, id), ("", calendar id), (date, ""). */
const DATED = (prefix: string): PositionRules => ({ isKey: isIsoDate, isId: (id) => isRecordId(prefix, id) });
const BY_ID: PositionRules = { isKey: (k) => k === "", isId: (id) => isRecordId(CALENDAR_PREFIX, id) };
const BY_DATE: PositionRules = { isKey: isIsoDate, isId: (id) => id === "" };

/** A checked id argument (`id`, `calendar_id`); throws InvalidArgumentError. */
export function checkedId(prefix: string, id: string, field: string): string {
  const v = new Violations();
  checkRecordId(prefix, id, field, v);
  v.throwIfAny();
  return id;
}

/** Reads the caller's calendar or fails NOT_FOUND. */
export async function calendarOf(reads: WorkingTimeReads, id: string): Promise<HolidayCalendarRecord> {
  const calendar = await reads.getCalendar(id);
  if (!calendar) throw notFound("holiday calendar", id);
  return calendar;
}

/** The digest parts every List shares: the caller's scope and the RPC. */
const scopeParts = (caller: Call, rpc: string): unknown[] => [caller.tenantId, caller.appId ?? null, rpc];

/** The read RPCs on a store. */
export function createWorkingTimeReads(store: WorkingTimeStore, limits: Pick<WorkLimits, "maxResponseBytes">): WorkingTimeReadRpcs {
  /** One page of a List: size checked, token resumed, records read with one extra, cut to the response cap. */
  async function listed<R, Msg extends object>(
    v: Violations,
    pageSize: number,
    pageToken: string,
    digestParts: unknown[],
    rules: PositionRules,
    read: (after: { key: string; id: string } | undefined, limit: number) => Promise<R[]>,
    shape: { toMessage: (r: R) => Msg; positionOf: (r: R) => { key: string; id: string }; fixedBytes: number },
  ): Promise<{ items: Msg[]; nextPageToken: string }> {
    checkPageSize(pageSize, v);
    const digest = queryDigest(digestParts);
    const after = resumeAfter(pageToken, digest, v, rules);
    v.throwIfAny();
    const size = pageSizeOf(pageSize);
    return keysetPage(await read(after, size + 1), size, limits.maxResponseBytes, digest, shape);
  }

  /** A period filter pair, in order once both are valid dates. */
  function periodFilter(from: string, to: string, v: Violations): { periodFrom: string | undefined; periodTo: string | undefined } {
    const periodFrom = optionalDate(from, "period_from", v);
    const periodTo = optionalDate(to, "period_to", v);
    if (periodFrom !== undefined && periodTo !== undefined && v.empty) checkPeriodOrder(periodFrom, periodTo, "period_to", "period_from", v);
    return { periodFrom, periodTo };
  }

  const scopeReads = (caller: Call): WorkingTimeReads => store.reads(scopeOf(caller));

  return {
    /** One page of schedules in (valid_from, id) order. Errors: INVALID_ARGUMENT. */
    async listWorkSchedules(caller, req) {
      const v = new Violations();
      const person = optionalReference(req.personId, "person_id", v);
      if (req.tenantDefault && person !== undefined) v.add("tenant_default", "cannot be combined with person_id");
      const filters = { personId: req.tenantDefault ? "" : person, showDeleted: req.showDeleted };
      const page = await listed(
        v,
        req.pageSize,
        req.pageToken,
        [...scopeParts(caller, "schedules"), filters],
        DATED(SCHEDULE_PREFIX),
        (after, limit) => store.listSchedules(scopeOf(caller), { ...filters, after, limit }),
        { toMessage: toWorkSchedule, positionOf: (r) => ({ key: r.validFrom, id: r.id }), fixedBytes: FIXED_BYTES.schedule },
      );
      return create(ListWorkSchedulesResponseSchema, { schedules: page.items, nextPageToken: page.nextPageToken });
    },

    /** One page of calendars in id order. Errors: INVALID_ARGUMENT. */
    async listHolidayCalendars(caller, req) {
      const v = new Violations();
      const filters = { region: req.region === "" ? undefined : req.region };
      const page = await listed(
        v,
        req.pageSize,
        req.pageToken,
        [...scopeParts(caller, "calendars"), filters],
        BY_ID,
        (after, limit) => store.listCalendars(scopeOf(caller), { ...filters, after: after?.id, limit }),
        { toMessage: toHolidayCalendar, positionOf: (r) => ({ key: "", id: r.id }), fixedBytes: FIXED_BYTES.calendar },
      );
      return create(ListHolidayCalendarsResponseSchema, { calendars: page.items, nextPageToken: page.nextPageToken });
    },

    /** One page of a calendar's entries in date order. Errors: INVALID_ARGUMENT, NOT_FOUND. */
    async listHolidays(caller, req) {
      const calendarId = checkedId(CALENDAR_PREFIX, req.calendarId, "calendar_id");
      const v = new Violations();
      const filters = { calendarId, ...periodFilter(req.periodFrom, req.periodTo, v) };
      // The calendar first: another tenant's or app's calendar is NOT_FOUND, and its entries are never read.
      if (v.empty) await calendarOf(scopeReads(caller), calendarId);
      const page = await listed(
        v,
        req.pageSize,
        req.pageToken,
        [...scopeParts(caller, "holidays"), filters],
        BY_DATE,
        (after, limit) => store.listHolidays(scopeOf(caller), { ...filters, after: after?.key, limit }),
        { toMessage: toHoliday, positionOf: (e) => ({ key: e.date, id: "" }), fixedBytes: FIXED_BYTES.holiday },
      );
      return create(ListHolidaysResponseSchema, { holidays: page.items, nextPageToken: page.nextPageToken });
    },

    /** Reads one record, deleted ones included. Errors: INVALID_ARGUMENT, NOT_FOUND. */
    async getTimeOff(caller, req) {
      const record = await scopeReads(caller).getTimeOff(checkedId(TIME_OFF_PREFIX, req.id, "id"));
      if (!record) throw notFound("time off", req.id);
      return toTimeOff(record);
    },

    /** One page of time off in (period_start, id) order. Errors: INVALID_ARGUMENT. */
    async listTimeOff(caller, req) {
      const v = new Violations();
      const person = optionalReference(req.personId, "person_id", v);
      if (TimeOffStatus[req.status] === undefined) v.add("status", "must be a known TimeOffStatus value");
      const status = req.status === TimeOffStatus.UNSPECIFIED ? undefined : req.status;
      const filters = { personId: person, ...periodFilter(req.periodFrom, req.periodTo, v), status, showDeleted: req.showDeleted };
      const page = await listed(
        v,
        req.pageSize,
        req.pageToken,
        [...scopeParts(caller, "time-off"), filters],
        DATED(TIME_OFF_PREFIX),
        (after, limit) => store.listTimeOff(scopeOf(caller), { ...filters, after, limit }),
        { toMessage: toTimeOff, positionOf: (r) => ({ key: r.periodStart, id: r.id }), fixedBytes: FIXED_BYTES.timeOff },
      );
      return create(ListTimeOffResponseSchema, { timeOff: page.items, nextPageToken: page.nextPageToken });
    },
  };
}
