/**
 * OWASP API1 (broken object-level authorization): every RPC called with the
 * other side's token and the victim's ids, across tenants and across apps of
 * one tenant. The answer must be exactly the one a missing id gets, and the
 * victim's rows must be unchanged, compared row by row.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTime, ulid } from "ulid";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";
import { TimeOffKind, WorkingTimeService } from "../../src/gen/work/v1/working_time_pb.js";
import { CLIENT_KINDS, createTestClient, ok, type Outcome, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { Figures } from "./figures.js";

const figures = new Figures("isolation");
afterAll(() => figures.save());

/** Same code and the same message once the id is swapped for a placeholder. */
function shape(o: Outcome<unknown>, id: string): unknown {
  if (o.ok) return { ok: true, value: o.value };
  return { code: o.code, message: o.message.replaceAll(id, "<id>"), violations: o.violations };
}

describe.each(ENGINES)("isolation on %s", (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(async () => server?.close());

  it.each(CLIENT_KINDS)("no RPC through %s lets one tenant or app touch another's records", async (kind) => {
    const client: TestClient = createTestClient(kind, server.baseUrl);
    const victimTenant = tenant("victim");
    const victim = await server.token(victimTenant, { appId: "crm" });
    const victimPerson = person();
    const records = [];
    for (let i = 0; i < 3; i++) {
      records.push(
        ok(
          await client.call(
            "setCapacity",
            {
              capacity: {
                personId: victimPerson,
                projectId: project(),
                periodStart: "2027-01-01",
                periodEnd: "2027-01-31",
                allocatedPct: 30,
                notes: `secret ${i}`,
              },
            },
            victim,
          ),
        ),
      );
    }
    ok(await client.call("deleteCapacity", { id: records[2]!.id }, victim));
    const snapshot = async () => server.db.knex("capacities").where({ tenant_id: victimTenant }).orderBy("id");
    const before = await snapshot();

    const attackers = { "other tenant": await server.token(tenant("attacker")), "other app, same tenant": await server.token(victimTenant, { appId: "erp" }) };
    // Ids an attacker might guess: the victim's own, and fresh ULIDs from the victim's timestamps.
    const guessed = records.map((r) => `cap_${ulid(decodeTime(r.id.slice(4)))}`);
    for (const [who, token] of Object.entries(attackers)) {
      for (const id of [...records.map((r) => r.id), ...guessed]) {
        const missing = `cap_${ulid(0)}`;
        const calls: Array<[string, (x: string) => Promise<Outcome<unknown>>]> = [
          ["get", (x) => client.call("getCapacity", { id: x }, token)],
          [
            "update",
            (x) =>
              client.call("setCapacity", { capacity: { id: x, allocatedPct: 99, notes: "pwned" }, updateMask: { paths: ["allocated_pct", "notes"] } }, token),
          ],
          [
            "replace",
            (x) =>
              client.call(
                "setCapacity",
                { capacity: { id: x, personId: victimPerson, projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-02", allocatedPct: 1 } },
                token,
              ),
          ],
          [
            "validate-only update",
            (x) => client.call("setCapacity", { capacity: { id: x, notes: "x" }, updateMask: { paths: ["notes"] }, validateOnly: true }, token),
          ],
          ["delete", (x) => client.call("deleteCapacity", { id: x }, token)],
          ["undelete", (x) => client.call("undeleteCapacity", { id: x, overallocationPolicy: OverallocationPolicy.REJECT }, token)],
          ["confirm", (x) => client.call("confirmCapacity", { id: x }, token)],
        ];
        for (const [name, call] of calls) {
          const attack = await call(id);
          const baseline = await call(missing);
          expect({ who, name, answer: shape(attack, id) }).toEqual({ who, name, answer: shape(baseline, missing) });
          figures.add("attacks");
          if (!attack.ok) figures.add("rejected as missing");
        }
      }
      // Reads by filter show nothing of the victim's.
      // (Counted as they come back, before the assertions.)
      const listed = ok(await client.call("listCapacities", { personId: victimPerson, showDeleted: true }, token));
      const window = { periodStart: "2027-01-01", periodEnd: "2027-01-31", includeCapacityIds: true };
      const availability = ok(await client.call("getPersonAvailability", { personId: victimPerson, ...window }, token));
      const batch = ok(await client.call("batchGetPersonAvailability", { personIds: [victimPerson], ...window }, token));
      const seen = [
        listed.capacities.length,
        availability.segments.flatMap((s) => s.capacityIds).length + availability.peakAllocatedPct,
        batch.availabilities[0]!.peakAllocatedPct,
      ];
      figures.add("attacks", seen.length);
      figures.add("rejected as missing", seen.filter((n) => n === 0).length);
      expect(listed.capacities).toEqual([]);
      expect(availability.segments.flatMap((s) => s.capacityIds)).toEqual([]);
      expect(availability.peakAllocatedPct).toBe(0);
      expect(batch.availabilities[0]!.peakAllocatedPct).toBe(0);
    }
    expect(await snapshot()).toEqual(before);
    client.close();
  });

  // WorkingTimeService through connect-es clients (the helpers' TestClient speaks CapacityService only).
  it.each(["grpc", "connect-json-http1"] as const)("no WorkingTimeService RPC through %s lets one tenant or app touch another's records", async (kind) => {
    const transport =
      kind === "grpc"
        ? createGrpcTransport({ baseUrl: server.baseUrl })
        : createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useBinaryFormat: false });
    const client = createClient(WorkingTimeService, transport);
    const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    const victimTenant = tenant("victim");
    const victim = as(await server.token(victimTenant, { appId: "crm" }));
    const who = person();
    const week = [480, 480, 480, 480, 480, 0, 0];
    const cal = await client.setHolidayCalendar({ calendar: { name: "secret" } }, victim);
    await client.setHolidays({ calendarId: cal.id, periodStart: "2027-01-01", periodEnd: "2027-12-31", holidays: [{ date: "2027-05-01", name: "x" }] }, victim);
    const sched = await client.setWorkSchedule(
      { schedule: { personId: who, validFrom: "2027-01-01", weekdayMinutes: week, holidayCalendarId: cal.id } },
      victim,
    );
    const off = await client.setTimeOff({ timeOff: { personId: who, periodStart: "2027-01-04", periodEnd: "2027-01-05", kind: TimeOffKind.SICK } }, victim);
    const tables = ["work_schedules", "holiday_calendars", "holidays", "time_off"];
    const snapshot = async () =>
      Promise.all(
        tables.map((t) =>
          server.db
            .knex(t)
            .where({ tenant_id: victimTenant })
            .orderBy(t === "holidays" ? "holiday_date" : "id"),
        ),
      );
    const before = await snapshot();
    const outcome = async (call: Promise<unknown>): Promise<Outcome<unknown>> => {
      try {
        return { ok: true, value: await call };
      } catch (err) {
        const e = ConnectError.from(err);
        return { ok: false, code: e.code, message: e.rawMessage, violations: [], errorInfo: [], retryDelayMs: undefined, requestId: undefined };
      }
    };
    const attackers = {
      "other tenant": as(await server.token(tenant("attacker"))),
      "other app, same tenant": as(await server.token(victimTenant, { appId: "erp" })),
    };
    for (const [who2, token] of Object.entries(attackers)) {
      const calls: Array<[string, string, string, (x: string) => Promise<unknown>]> = [
        ["get time off", off.id, "off", (x) => client.getTimeOff({ id: x }, token)],
        ["update time off", off.id, "off", (x) => client.setTimeOff({ timeOff: { id: x, notes: "pwned" }, updateMask: { paths: ["notes"] } }, token)],
        ["delete time off", off.id, "off", (x) => client.deleteTimeOff({ id: x }, token)],
        [
          "update schedule",
          sched.id,
          "wsc",
          (x) => client.setWorkSchedule({ schedule: { id: x, weekdayMinutes: week }, updateMask: { paths: ["weekday_minutes"] } }, token),
        ],
        ["delete schedule", sched.id, "wsc", (x) => client.deleteWorkSchedule({ id: x }, token)],
        ["rename calendar", cal.id, "hcal", (x) => client.setHolidayCalendar({ calendar: { id: x, name: "pwned" } }, token)],
        ["set holidays", cal.id, "hcal", (x) => client.setHolidays({ calendarId: x, periodStart: "2027-01-01", periodEnd: "2027-12-31" }, token)],
        ["list holidays", cal.id, "hcal", (x) => client.listHolidays({ calendarId: x }, token)],
      ];
      for (const [name, id, prefix, call] of calls) {
        const missing = `${prefix}_${ulid(0)}`;
        const attack = await outcome(call(id));
        expect({ who: who2, name, answer: shape(attack, id) }).toEqual({ who: who2, name, answer: shape(await outcome(call(missing)), missing) });
        figures.add("attacks");
        if (!attack.ok) figures.add("rejected as missing");
      }
      expect((await client.listWorkSchedules({ personId: who, showDeleted: true }, token)).schedules).toEqual([]);
      expect((await client.listTimeOff({ personId: who, showDeleted: true }, token)).timeOff).toEqual([]);
      expect((await client.listHolidayCalendars({}, token)).calendars.map((c) => c.id)).not.toContain(cal.id);
    }
    expect(await snapshot()).toEqual(before);
  });
});
