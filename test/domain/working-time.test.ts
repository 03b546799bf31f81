/** The pure rules of working-time records: creates, masked updates, soft delete, SetHolidays' entries. */
import { describe, expect, it } from "vitest";
import { EtagMismatchError, FailedPreconditionError, InvalidArgumentError, MAX_VIOLATIONS } from "../../src/domain/errors.js";
import { softDeleted, type WriteStamp } from "../../src/domain/records.js";
import {
  checkHolidays,
  createSchedule,
  createTimeOff,
  scheduleMask,
  updateCalendar,
  updateSchedule,
  createCalendar,
  WEEKDAY_MINUTES_RULE,
} from "../../src/domain/working-time.js";
import { TimeOffKind, TimeOffStatus } from "../../src/gen/work/v1/working_time_pb.js";
import { thrownBy, violationsOf } from "../helpers/violations.js";

const stamp = (now: number, etag: string): WriteStamp => ({ tenantId: "t", appId: "crm", actor: "per_01M8FMTT425T0SWT9WYGC66PKF", now, etag });
const WEEK = [480, 480, 480, 480, 480, 0, 0];

describe("work schedules", () => {
  it("creates with the stamps and a canonical person; empty person is the tenant default", () => {
    const s = createSchedule(
      { personId: "PER_01m8fmtt425t0swt9wygc66pkf", validFrom: "2027-01-01", weekdayMinutes: WEEK, holidayCalendarId: "" },
      "wsc_1",
      stamp(5, "e1"),
    );
    expect(s).toMatchObject({
      id: "wsc_1",
      tenantId: "t",
      appId: "crm",
      createdAt: 5,
      updatedAt: 5,
      etag: "e1",
      isDeleted: false,
      personId: "per_01M8FMTT425T0SWT9WYGC66PKF",
    });
    expect(createSchedule({ personId: "", validFrom: "2027-01-01", weekdayMinutes: WEEK, holidayCalendarId: "" }, "wsc_2", stamp(5, "e")).personId).toBe("");
  });

  it("updates only masked fields, with a new etag and writer, keeping the creation stamps", () => {
    const s = createSchedule({ personId: "", validFrom: "2027-01-01", weekdayMinutes: WEEK, holidayCalendarId: "" }, "wsc_1", stamp(5, "e1"));
    const u = updateSchedule(
      s,
      { personId: "garbage", validFrom: "2030-01-01", weekdayMinutes: [0, 0, 0, 0, 0, 0, 0], holidayCalendarId: "" },
      new Set(["weekday_minutes"] as const),
      stamp(9, "e2"),
    );
    expect(u).toMatchObject({ personId: "", validFrom: "2027-01-01", weekdayMinutes: [0, 0, 0, 0, 0, 0, 0], createdAt: 5, updatedAt: 9, etag: "e2" });
  });

  it("wants exactly seven weekday values of 0 to 1440", () => {
    for (const weekdayMinutes of [[], [480, 480, 480, 480, 480, 0], [...WEEK, 0], [480, 480, 480, 480, 480, 0, 1441], [1.5, 0, 0, 0, 0, 0, 0]]) {
      const err = thrownBy(() => createSchedule({ personId: "", validFrom: "2027-01-01", weekdayMinutes, holidayCalendarId: "" }, "wsc_1", stamp(1, "e")));
      expect((err as InvalidArgumentError).violations).toEqual([{ field: "schedule.weekday_minutes", description: WEEKDAY_MINUTES_RULE }]);
    }
  });

  it("resolves masks: * and empty mean all; output-only and unknown paths are refused", () => {
    expect(violationsOf((v) => expect(scheduleMask(["*"], v)).toBeUndefined())).toEqual([]);
    expect(violationsOf((v) => scheduleMask(["is_deleted", "x"], v)).map((x) => x.description)).toEqual([
      'path "is_deleted" is output only',
      expect.stringContaining('unknown path "x"'),
    ]);
  });
});

describe("calendars and time off", () => {
  it("a calendar update keeps what the mask leaves out", () => {
    const c = createCalendar({ name: "Bavaria", region: "DE-BY" }, "hcal_1", stamp(1, "e1"));
    expect(updateCalendar(c, { name: "", region: "AT" }, new Set(["region"] as const), stamp(2, "e2"))).toMatchObject({
      name: "Bavaria",
      region: "AT",
      etag: "e2",
    });
  });

  it("time off defaults to REQUESTED and whole days", () => {
    const t = createTimeOff(
      {
        personId: "per_01M8FMTT425T0SWT9WYGC66PKF",
        periodStart: "2027-01-01",
        periodEnd: "2027-01-02",
        kind: TimeOffKind.SICK,
        minutesPerDay: 0,
        status: TimeOffStatus.UNSPECIFIED,
        notes: "",
      },
      "off_1",
      stamp(1, "e"),
    );
    expect(t).toMatchObject({ status: TimeOffStatus.REQUESTED, minutesPerDay: 0 });
  });

  it("soft delete stamps the deleter; a stale etag or a second delete is refused", () => {
    const t = createTimeOff(
      {
        personId: "per_01M8FMTT425T0SWT9WYGC66PKF",
        periodStart: "2027-01-01",
        periodEnd: "2027-01-02",
        kind: TimeOffKind.SICK,
        minutesPerDay: 0,
        status: TimeOffStatus.APPROVED,
        notes: "",
      },
      "off_1",
      stamp(1, "e1"),
    );
    expect(thrownBy(() => softDeleted(t, "old", stamp(2, "e2"), "time off"))).toBeInstanceOf(EtagMismatchError);
    const d = softDeleted(t, "e1", stamp(2, "e2"), "time off");
    expect(d).toMatchObject({ isDeleted: true, deletedAt: 2, deletedBy: stamp(0, "").actor, etag: "e2", updatedAt: 2 });
    expect(thrownBy(() => softDeleted(d, "", stamp(3, "e3"), "time off"))).toBeInstanceOf(FailedPreconditionError);
  });
});

describe("SetHolidays entries", () => {
  const window = { start: "2027-01-01", end: "2027-12-31" };

  it("returns the entries in date order", () => {
    const out = checkHolidays(window, [
      { date: "2027-12-25", name: "Christmas", minutesOff: 0 },
      { date: "2027-01-01", name: "New Year", minutesOff: 0 },
    ]);
    expect(out.map((e) => e.date)).toEqual(["2027-01-01", "2027-12-25"]);
  });

  it("accepts 500 entries and refuses 501 before looking at them", () => {
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ date: `bad-${i}`, name: "", minutesOff: 0 }));
    expect((thrownBy(() => checkHolidays(window, entries(501))) as InvalidArgumentError).violations.map((v) => v.field)).toEqual(["holidays"]);
    // 500 are looked at: two broken fields each, listed up to MAX_VIOLATIONS, then counted.
    const violations = (thrownBy(() => checkHolidays(window, entries(500))) as InvalidArgumentError).violations;
    expect(violations).toHaveLength(MAX_VIOLATIONS + 1);
    expect(violations.at(-1)).toEqual({ field: "request", description: `${1000 - MAX_VIOLATIONS} more violations not listed` });
  });

  it("checks the range itself", () => {
    expect((thrownBy(() => checkHolidays({ start: "2027-02-01", end: "2027-01-01" }, [])) as InvalidArgumentError).violations).toEqual([
      { field: "period_end", description: "must not be before period_start" },
    ]);
    expect((thrownBy(() => checkHolidays({ start: "", end: "2027-01-01" }, [])) as InvalidArgumentError).violations.map((v) => v.field)).toEqual([
      "period_start",
    ]);
  });
});
