/**
 * WorkingTimeService on the service core (no listener), over both databases:
 * every RPC's success and error paths (codes and BadRequest fields),
 * request ids, etags, paging, soft delete, SetHolidays' replace-in-range
 * and its 500 limit, and tenant/app isolation. The SQL audit of the helper
 * checks the tenant predicate of every statement.
 */
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import type { Caller } from "../../src/auth/caller.js";
import { DATE_RULE } from "../../src/domain/dates.js";
import { REFERENCE_RULE } from "../../src/domain/ids.js";
import { MINUTES_RULE, WEEKDAY_MINUTES_RULE } from "../../src/domain/working-time.js";
import { TimeOffKind, TimeOffStatus } from "../../src/gen/work/v1/working_time_pb.js";
import { failed } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { newCaller, useTestService, type WorkingTimeClient } from "../helpers/service.js";

const WEEK = [480, 480, 480, 480, 240, 0, 0];
const MISSING = { schedule: "wsc_01M8FMTT425T0SWT9WYGC66PKF", calendar: "hcal_01M8FMTT425T0SWT9WYGC66PKF", timeOff: "off_01M8FMTT425T0SWT9WYGC66PKF" };

/** Every page of a List, by following next_page_token. */
async function allPages<T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token = "";
  for (let pages = 1; pages < 100; pages++) {
    const p = await page(token);
    items.push(...p.items);
    if (p.next === "") return { items, pages };
    token = p.next;
  }
  throw new Error("too many pages");
}

describe.each(ENGINES)("WorkingTimeService on %s", (engine) => {
  const suite = useTestService({ engine });
  let me: Caller;
  let client: WorkingTimeClient;
  beforeAll(() => {
    me = newCaller();
    client = suite.service.workingTime(me);
  });

  describe("work schedules", () => {
    it("creates, updates under a mask, and lists a person's schedules by valid_from", async () => {
      const who = person();
      const later = await client.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-07-01", weekdayMinutes: WEEK } });
      const earlier = await client.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-01-01", weekdayMinutes: WEEK } });
      expect(later).toMatchObject({ tenantId: me.tenantId, appId: "", createdBy: me.personId, isDeleted: false, personId: who, weekdayMinutes: WEEK });
      expect(later.id).toMatch(/^wsc_[0-9A-Z]{26}$/);
      const updated = await client.setWorkSchedule({
        schedule: { id: later.id, weekdayMinutes: [360, 360, 360, 360, 0, 0, 0], validFrom: "1999-01-01" },
        updateMask: { paths: ["weekday_minutes"] },
      });
      expect(updated).toMatchObject({ validFrom: "2027-07-01", weekdayMinutes: [360, 360, 360, 360, 0, 0, 0] });
      expect(updated.etag).not.toBe(later.etag);
      const listed = await client.listWorkSchedules({ personId: who });
      expect(listed.schedules.map((s) => s.id)).toEqual([earlier.id, later.id]);
      expect(listed.schedules[1]).toEqual(updated);
    });

    it("keeps the tenant default apart from people's schedules", async () => {
      const caller = newCaller();
      const c = suite.service.workingTime(caller);
      const byDefault = await c.setWorkSchedule({ schedule: { validFrom: "2027-01-01", weekdayMinutes: [480, 480, 480, 480, 480, 0, 0] } });
      await c.setWorkSchedule({ schedule: { personId: person(), validFrom: "2027-01-01", weekdayMinutes: WEEK } });
      expect((await c.listWorkSchedules({ tenantDefault: true })).schedules.map((s) => s.id)).toEqual([byDefault.id]);
      expect((await c.listWorkSchedules({})).schedules).toHaveLength(2);
    });

    it("refuses a second live schedule of the same person and valid_from (ALREADY_EXISTS), but not after a delete", async () => {
      const who = person();
      const first = await client.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-03-01", weekdayMinutes: WEEK } });
      const f = await failed(client.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-03-01", weekdayMinutes: WEEK } }));
      expect(f.code).toBe(Code.AlreadyExists);
      expect(f.message).toContain(first.id);
      const other = await client.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-04-01", weekdayMinutes: WEEK } });
      // Moving another schedule onto the date clashes too; validate_only sees it as well.
      const move = { schedule: { id: other.id, validFrom: "2027-03-01" }, updateMask: { paths: ["valid_from"] } };
      expect((await failed(client.setWorkSchedule(move))).code).toBe(Code.AlreadyExists);
      expect((await failed(client.setWorkSchedule({ ...move, validateOnly: true }))).code).toBe(Code.AlreadyExists);
      await client.deleteWorkSchedule({ id: first.id });
      expect((await client.setWorkSchedule(move)).validFrom).toBe("2027-03-01");
    });

    it.each<[string, Record<string, unknown>, string]>([
      ["schedule.person_id", { personId: "bob" }, REFERENCE_RULE],
      ["schedule.valid_from", { validFrom: "" }, "is required"],
      ["schedule.valid_from", { validFrom: "2027-02-29" }, DATE_RULE],
      ["schedule.weekday_minutes", { weekdayMinutes: [480, 480] }, WEEKDAY_MINUTES_RULE],
      ["schedule.weekday_minutes", { weekdayMinutes: [480, 480, 480, 480, 480, 0, 1441] }, WEEKDAY_MINUTES_RULE],
      ["schedule.weekday_minutes", { weekdayMinutes: [480, 480, 480, 480, 480, 0, -1] }, WEEKDAY_MINUTES_RULE],
      ["schedule.holiday_calendar_id", { holidayCalendarId: "cal_1" }, "must be an id: hcal_ followed by a ULID"],
      ["schedule.holiday_calendar_id", { holidayCalendarId: MISSING.calendar }, "names no holiday calendar of the caller"],
      ["schedule.id", { id: "wsc_nope" }, "must be an id: wsc_ followed by a ULID"],
    ])("rejects a bad %s (%j) and writes nothing", async (field, over, description) => {
      const before = (await client.listWorkSchedules({ pageSize: 1000 })).schedules.length;
      const f = await failed(client.setWorkSchedule({ schedule: { personId: person(), validFrom: "2027-01-01", weekdayMinutes: WEEK, ...over } }));
      expect(f.code).toBe(Code.InvalidArgument);
      expect(f.violations).toEqual([{ field, description }]);
      expect((await client.listWorkSchedules({ pageSize: 1000 })).schedules.length).toBe(before);
    });

    it("checks the request's shape: the record, request_id, the mask", async () => {
      expect((await failed(client.setWorkSchedule({}))).violations).toEqual([{ field: "schedule", description: "is required" }]);
      const s = { personId: person(), validFrom: "2027-01-01", weekdayMinutes: WEEK };
      expect((await failed(client.setWorkSchedule({ schedule: s, requestId: "x" }))).fields).toEqual(["request_id"]);
      expect((await failed(client.setWorkSchedule({ schedule: s, updateMask: { paths: ["valid_from"] } }))).violations).toEqual([
        { field: "update_mask", description: "applies to updates only (schedule.id set)" },
      ]);
      const created = await client.setWorkSchedule({ schedule: s });
      const f = await failed(client.setWorkSchedule({ schedule: { id: created.id }, updateMask: { paths: ["etag", "nope"] } }));
      expect(f.violations.map((v) => v.description)).toEqual(['path "etag" is output only', expect.stringContaining('unknown path "nope"')]);
    });

    it("accepts a calendar of the caller, and the schedule names it", async () => {
      const cal = await client.setHolidayCalendar({ calendar: { name: "Bavaria", region: "DE-BY" } });
      const s = await client.setWorkSchedule({ schedule: { personId: person(), validFrom: "2027-01-01", weekdayMinutes: WEEK, holidayCalendarId: cal.id } });
      expect(s.holidayCalendarId).toBe(cal.id);
    });

    it("deletes softly: listed only with show_deleted; a second delete, a stale etag and an update are refused", async () => {
      const who = person();
      const s = await client.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-01-01", weekdayMinutes: WEEK } });
      expect((await failed(client.deleteWorkSchedule({ id: s.id, etag: "stale" }))).code).toBe(Code.Aborted);
      const d = await client.deleteWorkSchedule({ id: s.id, etag: s.etag });
      expect(d).toMatchObject({ isDeleted: true, deletedBy: me.personId });
      expect(d.deletedAt).toBeDefined();
      expect((await client.listWorkSchedules({ personId: who })).schedules).toEqual([]);
      expect((await client.listWorkSchedules({ personId: who, showDeleted: true })).schedules).toEqual([d]);
      expect((await failed(client.deleteWorkSchedule({ id: s.id }))).code).toBe(Code.FailedPrecondition);
      expect((await failed(client.setWorkSchedule({ schedule: { id: s.id, validFrom: "2027-01-01", weekdayMinutes: WEEK } }))).code).toBe(
        Code.FailedPrecondition,
      );
      expect((await failed(client.deleteWorkSchedule({ id: MISSING.schedule }))).code).toBe(Code.NotFound);
      expect((await failed(client.deleteWorkSchedule({ id: "nope" }))).fields).toEqual(["id"]);
    });

    it("refuses a list with both person_id and tenant_default, or a bad person", async () => {
      expect((await failed(client.listWorkSchedules({ personId: person(), tenantDefault: true }))).fields).toEqual(["tenant_default"]);
      expect((await failed(client.listWorkSchedules({ personId: "x" }))).fields).toEqual(["person_id"]);
    });
  });

  describe("writes in general", () => {
    it("replays a request id with the same request and refuses it for a different one, or for another RPC", async () => {
      const requestId = randomUUID();
      const req = { schedule: { personId: person(), validFrom: "2027-01-01", weekdayMinutes: WEEK }, requestId };
      const first = await client.setWorkSchedule(req);
      expect(await client.setWorkSchedule({ ...req, requestId: requestId.toUpperCase() })).toEqual(first);
      expect((await client.listWorkSchedules({ personId: req.schedule.personId })).schedules).toHaveLength(1);
      const changed = await failed(client.setWorkSchedule({ ...req, schedule: { ...req.schedule, validFrom: "2027-02-01" } }));
      expect(changed.fields).toEqual(["request_id"]);
      const otherRpc = await failed(client.setHolidayCalendar({ calendar: { name: "x" }, requestId }));
      expect(otherRpc.fields).toEqual(["request_id"]);
      // Another app of the tenant has its own ids.
      const app = suite.service.workingTime({ ...me, appId: "crm" });
      expect((await app.setHolidayCalendar({ calendar: { name: "x" }, requestId })).appId).toBe("crm");
    });

    it("validate_only checks everything, answers the would-be record without an id and writes nothing", async () => {
      const who = person();
      const would = await client.setTimeOff({
        timeOff: { personId: who, periodStart: "2027-08-01", periodEnd: "2027-08-14", kind: TimeOffKind.VACATION },
        validateOnly: true,
      });
      expect(would).toMatchObject({ id: "", personId: who, status: TimeOffStatus.REQUESTED });
      expect((await client.listTimeOff({ personId: who })).timeOff).toEqual([]);
      expect((await failed(client.setTimeOff({ timeOff: { id: MISSING.timeOff, personId: who }, validateOnly: true }))).code).toBe(Code.NotFound);
    });
  });

  describe("holiday calendars and holidays", () => {
    it("creates and updates a calendar with etags, and lists calendars by region in id order, a page at a time", async () => {
      const c = suite.service.workingTime(newCaller());
      const made = [];
      for (let i = 0; i < 5; i++) made.push(await c.setHolidayCalendar({ calendar: { name: `cal ${i}`, region: i % 2 === 0 ? "DE-BY" : "AT" } }));
      expect(made[0]!.id).toMatch(/^hcal_/);
      const renamed = await c.setHolidayCalendar({ calendar: { id: made[0]!.id, name: "Bayern", etag: made[0]!.etag }, updateMask: { paths: ["name"] } });
      expect(renamed).toMatchObject({ name: "Bayern", region: "DE-BY" });
      expect((await failed(c.setHolidayCalendar({ calendar: { id: made[0]!.id, name: "x", etag: made[0]!.etag } }))).code).toBe(Code.Aborted);
      const all = await allPages(async (pageToken) => {
        const p = await c.listHolidayCalendars({ pageSize: 2, pageToken });
        return { items: p.calendars.map((x) => x.id), next: p.nextPageToken };
      });
      expect(all).toEqual({ items: made.map((m) => m.id), pages: 3 });
      expect((await c.listHolidayCalendars({ region: "DE-BY" })).calendars.map((x) => x.id)).toEqual([made[0]!.id, made[2]!.id, made[4]!.id]);
      const first = await c.listHolidayCalendars({ pageSize: 1 });
      expect((await failed(c.listHolidayCalendars({ pageSize: 1, pageToken: first.nextPageToken, region: "AT" }))).fields).toEqual(["page_token"]);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ["calendar.name", { name: "" }, "is required"],
      ["calendar.name", { name: "n".repeat(201) }, "must be at most 200 characters"],
      ["calendar.region", { region: "r".repeat(65) }, "must be at most 64 characters"],
    ])("rejects a bad %s", async (field, over, description) => {
      expect((await failed(client.setHolidayCalendar({ calendar: { name: "ok", ...over } }))).violations).toEqual([{ field, description }]);
    });

    it("replaces the entries inside the range only, in one call, and bumps the calendar's etag", async () => {
      const cal = await client.setHolidayCalendar({ calendar: { name: "Bavaria" } });
      const year = await client.setHolidays({
        calendarId: cal.id,
        periodStart: "2027-01-01",
        periodEnd: "2027-12-31",
        holidays: [
          { date: "2027-12-25", name: "Christmas" },
          { date: "2027-01-01", name: "New Year" },
          { date: "2027-12-24", name: "Christmas Eve", minutesOff: 240 },
        ],
        etag: cal.etag,
      });
      expect(year.holidays.map((h) => [h.date, h.minutesOff])).toEqual([
        ["2027-01-01", 0],
        ["2027-12-24", 240],
        ["2027-12-25", 0],
      ]);
      expect(year.calendar!.etag).not.toBe(cal.etag);
      expect((await failed(client.setHolidays({ calendarId: cal.id, periodStart: "2027-01-01", periodEnd: "2027-01-01", etag: cal.etag }))).code).toBe(
        Code.Aborted,
      );
      // December only: Christmas Eve goes, New Year stays.
      const december = await client.setHolidays({
        calendarId: cal.id,
        periodStart: "2027-12-01",
        periodEnd: "2027-12-31",
        holidays: [
          { date: "2027-12-26", name: "St Stephen" },
          { date: "2027-12-25", name: "Christmas" },
        ],
      });
      expect(december.holidays.map((h) => h.date)).toEqual(["2027-12-25", "2027-12-26"]);
      const listed = await client.listHolidays({ calendarId: cal.id });
      expect(listed.holidays.map((h) => h.date)).toEqual(["2027-01-01", "2027-12-25", "2027-12-26"]);
      expect((await client.listHolidays({ calendarId: cal.id, periodFrom: "2027-12-26" })).holidays.map((h) => h.name)).toEqual(["St Stephen"]);
    });

    it("takes 500 entries in one call and pages through them; 501 is refused", async () => {
      const cal = await client.setHolidayCalendar({ calendar: { name: "many" } });
      const day = (i: number) => new Date(Date.UTC(2030, 0, 1 + i)).toISOString().slice(0, 10);
      const holidays = Array.from({ length: 500 }, (_, i) => ({ date: day(i), name: `d${i}` }));
      const set = await client.setHolidays({ calendarId: cal.id, periodStart: "2030-01-01", periodEnd: "2031-12-31", holidays });
      expect(set.holidays).toHaveLength(500);
      const all = await allPages(async (pageToken) => {
        const p = await client.listHolidays({ calendarId: cal.id, pageSize: 200, pageToken });
        return { items: p.holidays.map((h) => h.date), next: p.nextPageToken };
      });
      expect(all).toEqual({ items: holidays.map((h) => h.date), pages: 3 });
      const tooMany = await failed(
        client.setHolidays({ calendarId: cal.id, periodStart: "2030-01-01", periodEnd: "2031-12-31", holidays: [...holidays, { date: day(500), name: "x" }] }),
      );
      expect(tooMany.violations).toEqual([{ field: "holidays", description: "must hold at most 500 entries; split the range" }]);
      expect((await client.listHolidays({ calendarId: cal.id, pageSize: 1000 })).holidays).toHaveLength(500);
    });

    it("names each bad entry and the range", async () => {
      const cal = await client.setHolidayCalendar({ calendar: { name: "bad" } });
      const f = await failed(
        client.setHolidays({
          calendarId: cal.id,
          periodStart: "2027-01-01",
          periodEnd: "2027-01-31",
          holidays: [
            { date: "2027-01-05", name: "a" },
            { date: "2027-01-05", name: "b" },
            { date: "2027-02-01", name: "c" },
            { date: "2027-01-32", name: "" },
            { date: "2027-01-06", name: "e", minutesOff: 1441 },
          ],
        }),
      );
      expect(f.violations).toEqual([
        { field: "holidays[1].date", description: "appears twice; one entry per date" },
        { field: "holidays[2].date", description: "must be inside [period_start, period_end]" },
        { field: "holidays[3].date", description: DATE_RULE },
        { field: "holidays[3].name", description: "is required" },
        { field: "holidays[4].minutes_off", description: MINUTES_RULE },
      ]);
      expect((await failed(client.setHolidays({ calendarId: cal.id, periodStart: "2027-02-01", periodEnd: "2027-01-01" }))).fields).toEqual(["period_end"]);
      expect((await failed(client.setHolidays({ calendarId: "x", periodStart: "2027-01-01", periodEnd: "2027-01-01" }))).fields).toEqual(["calendar_id"]);
      expect((await failed(client.setHolidays({ calendarId: MISSING.calendar, periodStart: "2027-01-01", periodEnd: "2027-01-01" }))).code).toBe(Code.NotFound);
      expect((await failed(client.listHolidays({ calendarId: MISSING.calendar }))).code).toBe(Code.NotFound);
      expect((await failed(client.listHolidays({ calendarId: cal.id, periodFrom: "2027-02-01", periodTo: "2027-01-01" }))).fields).toEqual(["period_to"]);
    });
  });

  describe("time off", () => {
    it("creates, reads, updates status under a mask, filters and deletes", async () => {
      const who = person();
      const base = { personId: who, kind: TimeOffKind.VACATION };
      const summer = await client.setTimeOff({ timeOff: { ...base, periodStart: "2027-08-01", periodEnd: "2027-08-14", notes: "Lake" } });
      const friday = await client.setTimeOff({
        timeOff: { ...base, kind: TimeOffKind.OTHER, periodStart: "2027-03-05", periodEnd: "2027-03-05", minutesPerDay: 240, status: TimeOffStatus.APPROVED },
      });
      expect(summer).toMatchObject({ status: TimeOffStatus.REQUESTED, minutesPerDay: 0, notes: "Lake" });
      expect(summer.id).toMatch(/^off_/);
      expect(await client.getTimeOff({ id: summer.id })).toEqual(summer);
      const approved = await client.setTimeOff({
        timeOff: { id: summer.id, status: TimeOffStatus.APPROVED, etag: summer.etag },
        updateMask: { paths: ["status"] },
      });
      expect(approved).toMatchObject({ status: TimeOffStatus.APPROVED, periodStart: "2027-08-01", notes: "Lake" });
      expect((await client.listTimeOff({ personId: who })).timeOff.map((t) => t.id)).toEqual([friday.id, summer.id]);
      expect((await client.listTimeOff({ personId: who, periodFrom: "2027-08-14", periodTo: "2027-12-31" })).timeOff.map((t) => t.id)).toEqual([summer.id]);
      await client.setTimeOff({ timeOff: { id: friday.id, status: TimeOffStatus.CANCELLED }, updateMask: { paths: ["status"] } });
      expect((await client.listTimeOff({ personId: who, status: TimeOffStatus.APPROVED })).timeOff.map((t) => t.id)).toEqual([summer.id]);
      const d = await client.deleteTimeOff({ id: summer.id });
      expect(d.isDeleted).toBe(true);
      expect(await client.getTimeOff({ id: summer.id })).toEqual(d);
      expect((await client.listTimeOff({ personId: who, status: TimeOffStatus.APPROVED })).timeOff).toEqual([]);
      expect((await client.listTimeOff({ personId: who, showDeleted: true })).timeOff).toHaveLength(2);
      expect((await failed(client.deleteTimeOff({ id: summer.id }))).code).toBe(Code.FailedPrecondition);
      expect((await failed(client.getTimeOff({ id: MISSING.timeOff }))).message).toBe(`time off ${MISSING.timeOff} not found`);
      expect((await failed(client.getTimeOff({ id: "" }))).violations).toEqual([{ field: "id", description: "is required" }]);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ["time_off.person_id", { personId: "" }, "is required"],
      ["time_off.period_start", { periodStart: "2027-13-01" }, DATE_RULE],
      ["time_off.period_end", { periodEnd: "2027-07-31" }, "must not be before period_start"],
      ["time_off.kind", { kind: TimeOffKind.UNSPECIFIED }, "is required"],
      ["time_off.kind", { kind: 42 }, "must be a known TimeOffKind value"],
      ["time_off.minutes_per_day", { minutesPerDay: 1441 }, MINUTES_RULE],
      ["time_off.status", { status: 9 }, "must be a known TimeOffStatus value"],
      ["time_off.notes", { notes: "n".repeat(4001) }, "must be at most 4000 characters"],
    ])("rejects a bad %s", async (field, over, description) => {
      const f = await failed(
        client.setTimeOff({ timeOff: { personId: person(), periodStart: "2027-08-01", periodEnd: "2027-08-02", kind: TimeOffKind.SICK, ...over } }),
      );
      expect(f.violations).toEqual([{ field, description }]);
    });

    it("pages by period_start with tokens bound to their filters; refuses a negative page size", async () => {
      const who = person();
      for (let m = 1; m <= 5; m++) {
        await client.setTimeOff({ timeOff: { personId: who, periodStart: `2028-0${m}-01`, periodEnd: `2028-0${m}-02`, kind: TimeOffKind.SICK } });
      }
      const all = await allPages(async (pageToken) => {
        const p = await client.listTimeOff({ personId: who, pageSize: 2, pageToken });
        return { items: p.timeOff.map((t) => t.periodStart), next: p.nextPageToken };
      });
      expect(all).toEqual({ items: ["2028-01-01", "2028-02-01", "2028-03-01", "2028-04-01", "2028-05-01"], pages: 3 });
      const first = await client.listTimeOff({ personId: who, pageSize: 2 });
      expect((await failed(client.listTimeOff({ pageSize: 2, pageToken: first.nextPageToken }))).fields).toEqual(["page_token"]);
      expect((await failed(client.listTimeOff({ pageToken: "garbage!" }))).fields).toEqual(["page_token"]);
      expect((await failed(client.listTimeOff({ pageSize: -1 }))).fields).toEqual(["page_size"]);
    });
  });

  describe("isolation", () => {
    it("answers another tenant's or app's records exactly as missing ones, and lists none of them", async () => {
      const owner = newCaller({ tenantId: tenant("victim"), appId: "crm" });
      const v = suite.service.workingTime(owner);
      const who = person();
      const cal = await v.setHolidayCalendar({ calendar: { name: "secret" } });
      await v.setHolidays({ calendarId: cal.id, periodStart: "2027-01-01", periodEnd: "2027-12-31", holidays: [{ date: "2027-05-01", name: "May Day" }] });
      const sched = await v.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-01-01", weekdayMinutes: WEEK, holidayCalendarId: cal.id } });
      const off = await v.setTimeOff({ timeOff: { personId: who, periodStart: "2027-02-01", periodEnd: "2027-02-02", kind: TimeOffKind.SICK } });
      for (const attacker of [newCaller(), newCaller({ tenantId: owner.tenantId, appId: "erp" })]) {
        const a = suite.service.workingTime(attacker);
        const same = async (call: (id: string) => Promise<unknown>, id: string, missing: string) => {
          const got = await failed(call(id));
          const baseline = await failed(call(missing));
          expect({ code: got.code, message: got.message.replaceAll(id, "<id>") }).toEqual({
            code: baseline.code,
            message: baseline.message.replaceAll(missing, "<id>"),
          });
          expect(got.code).toBe(Code.NotFound);
        };
        await same((id) => a.getTimeOff({ id }), off.id, MISSING.timeOff);
        await same((id) => a.deleteTimeOff({ id }), off.id, MISSING.timeOff);
        await same((id) => a.setTimeOff({ timeOff: { id, notes: "x" }, updateMask: { paths: ["notes"] } }), off.id, MISSING.timeOff);
        await same((id) => a.deleteWorkSchedule({ id }), sched.id, MISSING.schedule);
        await same(
          (id) => a.setWorkSchedule({ schedule: { id, weekdayMinutes: WEEK }, updateMask: { paths: ["weekday_minutes"] } }),
          sched.id,
          MISSING.schedule,
        );
        await same((id) => a.setHolidayCalendar({ calendar: { id, name: "x" } }), cal.id, MISSING.calendar);
        await same((id) => a.setHolidays({ calendarId: id, periodStart: "2027-01-01", periodEnd: "2027-12-31" }), cal.id, MISSING.calendar);
        await same((id) => a.listHolidays({ calendarId: id }), cal.id, MISSING.calendar);
        // Naming the victim's calendar from a schedule is refused as for any unknown calendar.
        const ref = await failed(a.setWorkSchedule({ schedule: { validFrom: "2027-01-01", weekdayMinutes: WEEK, holidayCalendarId: cal.id } }));
        expect(ref.violations).toEqual([{ field: "schedule.holiday_calendar_id", description: "names no holiday calendar of the caller" }]);
        expect((await a.listWorkSchedules({ personId: who, showDeleted: true })).schedules).toEqual([]);
        expect((await a.listTimeOff({ personId: who, showDeleted: true })).timeOff).toEqual([]);
        expect((await a.listHolidayCalendars({})).calendars.map((c) => c.id)).not.toContain(cal.id);
      }
      // The victim's records are untouched.
      expect(await v.getTimeOff({ id: off.id })).toEqual(off);
      expect((await v.listHolidays({ calendarId: cal.id })).holidays.map((h) => h.name)).toEqual(["May Day"]);
      // A tenant-wide token of the same tenant sees the app's records.
      const wide = suite.service.workingTime(newCaller({ tenantId: owner.tenantId }));
      expect((await wide.listWorkSchedules({ personId: who })).schedules.map((s) => s.id)).toEqual([sched.id]);
    });
  });
});
