/**
 * WorkingTimeService over the wire, on both databases, through the real
 * server: connect-es clients over gRPC, Connect JSON on HTTP/1.1 and gRPC-Web,
 * gRPC on the grpc-js engine's port, and plain REST (fetch against the
 * proto's google.api.http bindings). A record written through one is read
 * identically through the others.
 */
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../src/gen/google/rpc/error_details_pb.js";
import {
  HolidayCalendarSchema,
  TimeOffKind,
  TimeOffSchema,
  TimeOffStatus,
  WorkScheduleSchema,
  WorkingTimeService,
} from "../../src/gen/work/v1/working_time_pb.js";
import { ENGINES } from "../helpers/databases.js";
import { person, tenant } from "../helpers/ids.js";
import { useTestServer } from "../helpers/server.js";

type WorkingTime = Client<typeof WorkingTimeService>;
const WEEK = [480, 480, 480, 480, 240, 0, 0];

describe.each(ENGINES)("WorkingTimeService over the wire on %s", (engine) => {
  const suite = useTestServer(engine, { env: { CAPACITY_GRPC_PORT: "0" } });
  let token: string;
  let kinds: Array<[string, WorkingTime]>;
  let auth: { headers: Record<string, string> };

  beforeAll(async () => {
    const { server } = suite;
    token = await server.token(tenant());
    auth = { headers: { authorization: `Bearer ${token}` } };
    const client = (t: Transport): WorkingTime => createClient(WorkingTimeService, t);
    const baseUrl = server.baseUrl;
    kinds = [
      ["grpc", client(createGrpcTransport({ baseUrl }))],
      ["connect-json-http1", client(createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }))],
      ["grpc-web-http1", client(createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }))],
      ["grpc → grpc-js engine", client(createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.app.grpcPort}` }))],
    ];
  });

  /** A REST call with the suite's token: status, headers and JSON body. */
  async function rest(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${suite.server.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { "content-type": "application/json" }), ...headers },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, headers: res.headers, json: (await res.json()) as JsonValue & Record<string, unknown> };
  }

  it("a time-off record written through each client kind reads the same through every other kind and REST", async () => {
    for (const [writer, w] of kinds) {
      const made = await w.setTimeOff(
        { timeOff: { personId: person(), periodStart: "2027-08-01", periodEnd: "2027-08-02", kind: TimeOffKind.VACATION, notes: `via ${writer} ✓` } },
        auth,
      );
      for (const [reader, r] of kinds) expect([writer, reader, await r.getTimeOff({ id: made.id }, auth)]).toEqual([writer, reader, made]);
      const viaRest = await rest("GET", `/api/v1/work/time-off/${made.id}`);
      expect(viaRest.status).toBe(200);
      expect(viaRest.headers.get("etag")).toBe(`"${made.etag}"`);
      expect(fromJson(TimeOffSchema, viaRest.json)).toEqual(made);
    }
  });

  it("REST creates with 201 and Location, updates with PATCH and If-Match, and a gRPC client reads the result", async () => {
    const [, grpc] = kinds[0]!;
    const created = await rest("POST", "/api/v1/work/time-off", {
      personId: person(),
      periodStart: "2027-09-01",
      periodEnd: "2027-09-03",
      kind: "TIME_OFF_KIND_SICK",
    });
    expect(created.status).toBe(201);
    const off = fromJson(TimeOffSchema, created.json);
    expect(created.headers.get("location")).toBe(`/api/v1/work/time-off/${off.id}`);
    const stale = await rest("PATCH", `/api/v1/work/time-off/${off.id}?update_mask=status`, { status: "TIME_OFF_STATUS_APPROVED" }, { "if-match": '"stale"' });
    expect(stale.status).toBe(412);
    const patched = await rest(
      "PATCH",
      `/api/v1/work/time-off/${off.id}?update_mask=status`,
      { status: "TIME_OFF_STATUS_APPROVED" },
      { "if-match": `"${off.etag}"` },
    );
    expect(patched.status).toBe(200);
    expect(await grpc.getTimeOff({ id: off.id }, auth)).toEqual(fromJson(TimeOffSchema, patched.json));
    expect((await grpc.getTimeOff({ id: off.id }, auth)).status).toBe(TimeOffStatus.APPROVED);
    const listed = await rest("GET", `/api/v1/work/time-off?person_id=${off.personId}&status=TIME_OFF_STATUS_APPROVED`);
    expect((listed.json.timeOff as unknown[]).length).toBe(1);
    expect((await rest("DELETE", `/api/v1/work/time-off/${off.id}`)).json.isDeleted).toBe(true);
  });

  it("schedules, calendars and holidays through REST and gRPC alike, with the same errors", async () => {
    const [, grpc] = kinds[0]!;
    const [, web] = kinds[2]!;
    const cal = await rest("POST", "/api/v1/work/holiday-calendars", { name: "Bavaria", region: "DE-BY" });
    expect(cal.status).toBe(201);
    const calendar = fromJson(HolidayCalendarSchema, cal.json);
    const set = await rest("POST", `/api/v1/work/holiday-calendars/${calendar.id}/holidays:set`, {
      periodStart: "2027-01-01",
      periodEnd: "2027-12-31",
      holidays: [
        { date: "2027-10-03", name: "Unity Day" },
        { date: "2027-12-24", name: "Christmas Eve", minutesOff: 240 },
      ],
    });
    expect(set.status).toBe(200);
    const viaGrpc = await grpc.listHolidays({ calendarId: calendar.id }, auth);
    expect(viaGrpc.holidays.map((h) => [h.date, h.name, h.minutesOff])).toEqual([
      ["2027-10-03", "Unity Day", 0],
      ["2027-12-24", "Christmas Eve", 240],
    ]);
    expect((await rest("GET", `/api/v1/work/holiday-calendars/${calendar.id}/holidays?period_from=2027-12-01`)).json.holidays).toEqual([
      { date: "2027-12-24", name: "Christmas Eve", minutesOff: 240 },
    ]);
    const who = person();
    const schedule = await web.setWorkSchedule(
      { schedule: { personId: who, validFrom: "2027-01-01", weekdayMinutes: WEEK, holidayCalendarId: calendar.id } },
      auth,
    );
    const listed = await rest("GET", `/api/v1/work/schedules?person_id=${who}`);
    expect((listed.json.schedules as JsonValue[]).map((s) => fromJson(WorkScheduleSchema, s))).toEqual([schedule]);
    const dup = await rest("POST", "/api/v1/work/schedules", { personId: who, validFrom: "2027-01-01", weekdayMinutes: WEEK });
    expect([dup.status, dup.json.code]).toEqual([409, Code.AlreadyExists]);
    const bad = await rest("POST", "/api/v1/work/schedules", { personId: who, validFrom: "2027-02-01", weekdayMinutes: [1, 2] });
    expect([bad.status, bad.json.code]).toEqual([400, Code.InvalidArgument]);
    const grpcBad = await web.setWorkSchedule({ schedule: { personId: who, validFrom: "2027-02-01", weekdayMinutes: [1, 2] } }, auth).catch((e: unknown) => e);
    const violations = ConnectError.from(grpcBad)
      .findDetails(BadRequestSchema)[0]!
      .fieldViolations.map((v) => v.field);
    expect(violations).toEqual(["schedule.weekday_minutes"]);
    expect(JSON.stringify(bad.json)).toContain('"field":"schedule.weekday_minutes"');
    const deleted = await rest("DELETE", `/api/v1/work/schedules/${schedule.id}`);
    expect(deleted.json.isDeleted).toBe(true);
  });

  it("refuses a call without a token on every kind", async () => {
    for (const [kind, c] of kinds) {
      const err = await c.listTimeOff({}).catch((e: unknown) => e);
      expect([kind, ConnectError.from(err).code]).toEqual([kind, Code.Unauthenticated]);
    }
    const res = await fetch(`${suite.server.baseUrl}/api/v1/work/time-off`);
    expect(res.status).toBe(401);
  });
});
