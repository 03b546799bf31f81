/**
 * The HTTP/JSON API's own semantics, over plain HTTP/1.1 and HTTP/2 on both
 * databases: paths, query parameters and bodies as google.api.http maps
 * them, the HTTP status and google.rpc.Status body of each error, and the
 * HTTP conventions (ETag, If-Match → 412, If-None-Match → 304,
 * Idempotency-Key, 201 + Location, 405 + Allow, HEAD, OPTIONS, CORS). The
 * RPC-level rules (every RPC, every code, isolation) run over REST in the
 * shared suites through the rest-http1 and rest-http2 client kinds.
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { http1Transport, http2Transport, type RestAnswer, type RestTransport } from "../helpers/rest-client.js";
import { useTestServer } from "../helpers/server.js";

const BASE = "/api/v1/work/capacity";
const TRANSPORTS = { "HTTP/1.1": http1Transport, "HTTP/2": http2Transport } as const;

interface Status {
  code: number;
  message: string;
  details: Array<Record<string, unknown>>;
}

function json<T = Record<string, unknown>>(a: RestAnswer): T {
  return JSON.parse(a.body) as T;
}

describe.each(ENGINES)("the HTTP/JSON API on %s", (engine) => {
  const suite = useTestServer(engine, { env: { CAPACITY_CORS_ORIGINS: "https://app.example", CAPACITY_READ_MAX_BYTES: "65536" } });

  describe.each(Object.keys(TRANSPORTS) as Array<keyof typeof TRANSPORTS>)("over %s", (version) => {
    let http: RestTransport;
    let token: string;
    let auth: Record<string, string>;
    const p = person();
    const body = (over: Record<string, unknown> = {}) =>
      JSON.stringify({ personId: p, projectId: project(), periodStart: "2027-05-03", periodEnd: "2027-05-28", allocatedPct: 25, ...over });
    const post = (b: string, headers: Record<string, string> = {}, query = "") =>
      http.send("POST", BASE + query, { ...auth, "content-type": "application/json", ...headers }, b);

    beforeAll(async () => {
      http = TRANSPORTS[version](suite.server.baseUrl);
      token = await suite.server.token(tenant());
      auth = { authorization: `Bearer ${token}` };
      return () => http.close();
    });

    it("creates with POST: 201, Location naming the record, ETag, proto-JSON with every field written", async () => {
      const created = await post(body({ notes: "a\u00e9" }));
      expect(created.status).toBe(201);
      const record = json(created);
      expect(record.id).toMatch(/^cap_/);
      expect(created.headers.location).toBe(`${BASE}/${record.id as string}`);
      expect(created.headers.etag).toBe(`"${record.etag as string}"`);
      expect(created.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(created.headers["x-request-id"]).toBeTruthy();
      // lowerCamel names, and implicit-presence fields present with their defaults.
      expect(record).toMatchObject({ personId: p, allocatedPct: 25, isDeleted: false, deletedBy: "", notes: "a\u00e9", sourceType: "SOURCE_TYPE_API" });
      const again = await http.send("GET", created.headers.location!, auth);
      expect(again.status).toBe(200);
      expect(json(again)).toEqual(record);
    });

    it("accepts the original snake_case field names in bodies and query parameters", async () => {
      const created = await post(
        JSON.stringify({ person_id: p, project_id: project(), period_start: "2027-06-01", period_end: "2027-06-02", allocated_pct: 10 }),
      );
      expect(created.status).toBe(201);
      const listed = await http.send("GET", `${BASE}?person_id=${p}&periodFrom=2027-06-01&period_to=2027-06-30&page_size=10`, auth);
      expect(listed.status).toBe(200);
      expect(json<{ capacities: Array<{ id: string }> }>(listed).capacities.map((c) => c.id)).toContain(json(created).id);
    });

    it("updates with PATCH and update_mask; If-Match with the current etag passes, a stale one is 412 and changes nothing", async () => {
      const created = await post(body());
      const { id } = json<{ id: string }>(created);
      const patched = await http.send(
        "PATCH",
        `${BASE}/${id}?update_mask=notes,%20allocatedPct`,
        { ...auth, "content-type": "application/json", "if-match": created.headers.etag! },
        JSON.stringify({ notes: "patched", allocatedPct: 40, projectId: "ignored-by-mask" }),
      );
      expect(patched.status).toBe(200);
      expect(json(patched)).toMatchObject({ id, notes: "patched", allocatedPct: 40 });
      expect(patched.headers.etag).not.toBe(created.headers.etag);

      const stale = await http.send(
        "PATCH",
        `${BASE}/${id}`,
        { ...auth, "content-type": "application/json", "if-match": created.headers.etag! },
        body({ notes: "lost" }),
      );
      expect(stale.status).toBe(412);
      expect(json<Status>(stale).code).toBe(10);
      const now = await http.send("GET", `${BASE}/${id}`, auth);
      expect(json(now)).toMatchObject({ notes: "patched" });
      expect(now.headers.etag).toBe(patched.headers.etag);

      // An etag in the body is the same precondition; a weak tag never matches; malformed is 400.
      const inBody = await http.send("PATCH", `${BASE}/${id}`, { ...auth, "content-type": "application/json" }, body({ etag: "nope" }));
      expect(inBody.status).toBe(412);
      const weak = await http.send("DELETE", `${BASE}/${id}`, { ...auth, "if-match": `W/${patched.headers.etag!}` });
      expect(weak.status).toBe(412);
      const malformed = await http.send("DELETE", `${BASE}/${id}`, { ...auth, "if-match": "no-quotes" });
      expect(malformed.status).toBe(400);
      expect(json<Status>(malformed).details[0]).toMatchObject({ fieldViolations: [{ field: "If-Match" }] });
      // If-Match: * means any current version.
      const any = await http.send("DELETE", `${BASE}/${id}`, { ...auth, "if-match": "*" });
      expect(any.status).toBe(200);
      expect(json(any)).toMatchObject({ isDeleted: true });
    });

    it("PATCH without update_mask changes only the fields its body names; a record read and sent back changes only its writable fields", async () => {
      const created = await post(body({ notes: "keep me", source: "hr" }));
      const { id } = json<{ id: string }>(created);
      const patched = await http.send("PATCH", `${BASE}/${id}`, { ...auth, "content-type": "application/json" }, JSON.stringify({ allocatedPct: 30 }));
      expect(patched.status).toBe(200);
      expect(json(patched)).toMatchObject({ allocatedPct: 30, notes: "keep me", source: "hr" });
      // The whole record as read, with one change: output-only fields and the id are left out of the inferred mask.
      const read = json<Record<string, unknown>>(await http.send("GET", `${BASE}/${id}`, auth));
      const echoed = await http.send("PATCH", `${BASE}/${id}`, { ...auth, "content-type": "application/json" }, JSON.stringify({ ...read, notes: "changed" }));
      expect(echoed.status).toBe(200);
      expect(json(echoed)).toMatchObject({ notes: "changed", allocatedPct: 30, source: "hr", createdAt: read.createdAt });
      // A body that names nothing writable would read as "replace everything": refused.
      const empty = await http.send("PATCH", `${BASE}/${id}`, { ...auth, "content-type": "application/json" }, JSON.stringify({ createdBy: "x" }));
      expect(empty.status).toBe(400);
      expect(json<Status>(empty).details[0]).toMatchObject({ fieldViolations: [{ field: "capacity" }] });
      // update_mask=* replaces every writable field: notes and source not sent go back to their defaults.
      const replaced = await http.send("PATCH", `${BASE}/${id}?update_mask=*`, { ...auth, "content-type": "application/json" }, body({ allocatedPct: 20 }));
      expect(json(replaced)).toMatchObject({ allocatedPct: 20, notes: "", source: "edm" });
    });

    it("refuses a path id that the body contradicts", async () => {
      const created = json<{ id: string }>(await post(body()));
      const other = "cap_01M8FMTT425T0SWT9WYGC66PKF";
      const res = await http.send("PATCH", `${BASE}/${created.id}`, { ...auth, "content-type": "application/json" }, body({ id: other }));
      expect(res.status).toBe(400);
      expect(json<Status>(res).details[0]).toMatchObject({ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "capacity.id" }] });
    });

    it("replays a create sent twice with one Idempotency-Key, and refuses the key for a different request", async () => {
      const key = randomUUID();
      const b = body();
      const first = await post(b, { "idempotency-key": key });
      const second = await post(b, { "idempotency-key": key });
      expect(first.status).toBe(201);
      expect(json(second)).toEqual(json(first));
      const different = await post(body({ allocatedPct: 26 }), { "idempotency-key": key });
      expect(different.status).toBe(400);
      const conflicting = await post(b, { "idempotency-key": key }, `?request_id=${randomUUID()}`);
      expect(conflicting.status).toBe(400);
      expect(json<Status>(conflicting).details[0]).toMatchObject({ fieldViolations: [{ field: "Idempotency-Key" }] });
    });

    it("answers GET and HEAD alike, and 304 to If-None-Match with the current etag", async () => {
      const created = await post(body());
      const path = created.headers.location!;
      const head = await http.send("HEAD", path, auth);
      expect(head.status).toBe(200);
      expect(head.body).toBe("");
      expect(head.headers.etag).toBe(created.headers.etag);
      expect(Number(head.headers["content-length"])).toBe(Buffer.byteLength((await http.send("GET", path, auth)).body));
      const notModified = await http.send("GET", path, { ...auth, "if-none-match": created.headers.etag! });
      expect(notModified.status).toBe(304);
      expect(notModified.body).toBe("");
      const modified = await http.send("GET", path, { ...auth, "if-none-match": '"other"' });
      expect(modified.status).toBe(200);
    });

    it("runs the lifecycle verbs :confirm and :undelete, with or without a body", async () => {
      const created = json<{ id: string; etag: string }>(await post(body({ personId: person() })));
      const confirmed = await http.send("POST", `${BASE}/${created.id}:confirm`, auth);
      expect(confirmed.status).toBe(200);
      expect(json(confirmed).confirmedById).toBeTruthy();
      await http.send("DELETE", `${BASE}/${created.id}`, auth);
      const restored = await http.send(
        "POST",
        `${BASE}/${created.id}:undelete`,
        { ...auth, "content-type": "application/json" },
        JSON.stringify({ overallocationPolicy: "OVERALLOCATION_POLICY_REJECT" }),
      );
      expect(restored.status).toBe(200);
      expect(json(restored).isDeleted).toBe(false);
      // A wrong method on a verb path is 405, not the plain record path.
      const wrong = await http.send("GET", `${BASE}/${created.id}:confirm`, auth);
      expect(wrong.status).toBe(405);
      expect(wrong.headers.allow).toBe("POST, OPTIONS");
    });

    it("maps each error to grpc-gateway's HTTP status with a google.rpc.Status body", async () => {
      const missing = await http.send("GET", `${BASE}/cap_01M8FMTT425T0SWT9WYGC66PKF`, auth);
      expect(missing.status).toBe(404);
      expect(json<Status>(missing)).toMatchObject({ code: 5, details: [] });

      const invalid = await post(body({ allocatedPct: 101, periodEnd: "2027-02-30" }));
      expect(invalid.status).toBe(400);
      const status = json<Status>(invalid);
      expect(status.code).toBe(3);
      expect(status.details).toHaveLength(1);
      const fields = (status.details[0]!.fieldViolations as Array<{ field: string }>).map((v) => v.field);
      expect(fields).toEqual(expect.arrayContaining(["capacity.allocated_pct", "capacity.period_end"]));

      const noToken = await http.send("GET", `${BASE}/cap_01M8FMTT425T0SWT9WYGC66PKF`, {});
      expect(noToken.status).toBe(401);
      expect(noToken.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(json<Status>(noToken).code).toBe(16);

      // Over-allocation under REJECT: FAILED_PRECONDITION is 400 with ErrorInfo and PreconditionFailure.
      const q = person();
      await post(body({ personId: q, allocatedPct: 80 }));
      const over = await post(body({ personId: q, allocatedPct: 30 }), {}, "?overallocation_policy=OVERALLOCATION_POLICY_REJECT");
      expect(over.status).toBe(400);
      const overStatus = json<Status>(over);
      expect(overStatus.code).toBe(9);
      expect(overStatus.details.map((d) => d["@type"])).toEqual([
        "type.googleapis.com/google.rpc.ErrorInfo",
        "type.googleapis.com/google.rpc.PreconditionFailure",
      ]);
      expect(overStatus.details[0]).toMatchObject({ reason: "OVERALLOCATED", domain: "capacity.work.v1", metadata: { person_id: q } });

      // Restoring a live record: ALREADY_EXISTS is 409.
      const live = json<{ id: string }>(await post(body({ personId: person() })));
      const exists = await http.send("POST", `${BASE}/${live.id}:undelete`, auth);
      expect(exists.status).toBe(409);
      expect(json<Status>(exists).code).toBe(6);
    });

    it("refuses bad query parameters, bodies and timeouts with the parameter named, before doing anything", async () => {
      const cases: Array<[string, string, string | Buffer | undefined, Record<string, string>, string]> = [
        ["GET", `${BASE}?person=x`, undefined, {}, "person"],
        ["GET", `${BASE}?page_size=ten`, undefined, {}, "page_size"],
        ["GET", `${BASE}?show_deleted=yes`, undefined, {}, "show_deleted"],
        ["GET", `${BASE}?page_size=1&page_size=2`, undefined, {}, "page_size"],
        ["GET", `${BASE}?page_size=9999999999`, undefined, {}, "page_size"],
        ["GET", `${BASE}?person_id=%FF%FE`, undefined, {}, "person_id"],
        ["GET", `${BASE}?person_id=%E0%A4%A`, undefined, {}, "person_id"],
        ["POST", BASE, body({ notes: "x" }).replace('"notes":"x"', '"notes":"\\ud800"'), { "content-type": "application/json" }, "body"],
        ["POST", BASE, Buffer.from(body({ notes: "x" }).replace('"notes":"x"', '"notes":"\u00ff"'), "latin1"), { "content-type": "application/json" }, "body"],
        ["POST", `${BASE}?overallocation_policy=REJECT`, body(), { "content-type": "application/json" }, "overallocation_policy"],
        ["GET", `${BASE}?timeout=soon`, undefined, {}, "timeout"],
        ["GET", `${BASE}/cap_01M8FMTT425T0SWT9WYGC66PKF?id=cap_01M8FMTT425T0SWT9WYGC66PKG`, undefined, {}, "id"],
        ["POST", BASE, "{not json", { "content-type": "application/json" }, "body"],
        ["POST", BASE, "[1,2]", { "content-type": "application/json" }, "capacity"],
        ["POST", BASE, body(), { "content-type": "text/plain" }, "Content-Type"],
        ["POST", BASE, body({ bogusField: 1 }), { "content-type": "application/json" }, "body"],
        ["POST", `${BASE}?capacity.notes=x`, body(), { "content-type": "application/json" }, "capacity.notes"],
        ["POST", `${BASE}/cap_01M8FMTT425T0SWT9WYGC66PKF:confirm?etag=x`, "{}", { "content-type": "application/json" }, "etag"],
      ];
      for (const [method, path, b, headers, field] of cases) {
        const res = await http.send(method, path, { ...auth, ...headers }, b);
        expect(res.status, `${method} ${path}`).toBe(400);
        const status = json<Status>(res);
        expect(status.code).toBe(3);
        expect(status.details[0], `${method} ${path}`).toMatchObject({ fieldViolations: [{ field }] });
      }
      const listed = json<{ capacities: unknown[] }>(await http.send("GET", `${BASE}?person_id=${p}`, auth));
      expect(listed.capacities.length).toBeGreaterThan(0);
    });

    it("takes the deadline from ?timeout= and grpc-timeout, capped like every other protocol", async () => {
      const a = await http.send("GET", `${BASE}?person_id=${p}&timeout=5s`, auth);
      expect(a.status).toBe(200);
      const b = await http.send("GET", `${BASE}?person_id=${p}`, { ...auth, "grpc-timeout": "5S" });
      expect(b.status).toBe(200);
      // A deadline already gone: 504, DEADLINE_EXCEEDED, nothing done.
      const late = await http.send("GET", `${BASE}?person_id=${p}&timeout=0ms`, auth);
      expect(late.status).toBe(504);
      expect(json<Status>(late).code).toBe(4);
    });

    it("refuses a body over CAPACITY_READ_MAX_BYTES with 413, without reading it all", async () => {
      const big = body({ notes: "x".repeat(70_000) });
      const res = await post(big);
      expect(res.status).toBe(413);
      expect(json<Status>(res)).toMatchObject({ code: 8, details: [{ reason: "REQUEST_TOO_LARGE", metadata: { limit: "CAPACITY_READ_MAX_BYTES" } }] });
    });

    it("answers 404 with a Status body off the bound paths, 405 with Allow for a wrong method, OPTIONS with Allow", async () => {
      const none = await http.send("GET", "/api/v1/work/nothing-here", auth);
      expect(none.status).toBe(404);
      expect(json<Status>(none).code).toBe(5);
      const put = await http.send("PUT", `${BASE}/cap_01M8FMTT425T0SWT9WYGC66PKF`, auth);
      expect(put.status).toBe(405);
      expect(put.headers.allow).toBe("GET, PATCH, DELETE, HEAD, OPTIONS");
      expect(json<Status>(put).code).toBe(12);
      const collection = await http.send("DELETE", BASE, auth);
      expect(collection.headers.allow).toBe("GET, POST, HEAD, OPTIONS");
      const options = await http.send("OPTIONS", BASE, {});
      expect(options.status).toBe(204);
      expect(options.headers.allow).toBe("GET, POST, HEAD, OPTIONS");
      const broken = await http.send("GET", `${BASE}/%E0%A4%A`, auth);
      expect(broken.status).toBe(400);
    });

    it("lets an allowed origin's browser call it (CORS preflight names the REST methods and headers)", async () => {
      const pre = await http.send("OPTIONS", `${BASE}/cap_01M8FMTT425T0SWT9WYGC66PKF`, {
        origin: "https://app.example",
        "access-control-request-method": "PATCH",
        "access-control-request-headers": "authorization, if-match, idempotency-key, content-type",
      });
      expect(pre.status).toBe(204);
      expect(pre.headers["access-control-allow-origin"]).toBe("https://app.example");
      for (const m of ["PATCH", "DELETE", "GET", "POST"]) expect(pre.headers["access-control-allow-methods"]).toContain(m);
      for (const h of ["If-Match", "Idempotency-Key", "Authorization"]) expect(pre.headers["access-control-allow-headers"]).toContain(h);
      const created = await post(body(), { origin: "https://app.example" });
      expect(created.headers["access-control-allow-origin"]).toBe("https://app.example");
      expect(created.headers["access-control-expose-headers"]).toMatch(/ETag/);
      expect(created.headers["access-control-expose-headers"]).toMatch(/Location/);
    });

    it("reads availability at /api/v1/work/people/{person_id}/availability and the batch with POST", async () => {
      const q = person();
      await post(body({ personId: q, allocatedPct: 60 }));
      const one = await http.send("GET", `/api/v1/work/people/${q}/availability?period_start=2027-05-01&period_end=2027-05-31&exclude_weekends=true`, auth);
      expect(one.status).toBe(200);
      expect(json(one)).toMatchObject({ personId: q, peakAllocatedPct: 60, countedDays: 21 });
      const batch = await http.send(
        "POST",
        "/api/v1/work/people/availability:batchGet",
        { ...auth, "content-type": "application/json" },
        JSON.stringify({ personIds: [q, person()], periodStart: "2027-05-01", periodEnd: "2027-05-31", minAvailablePct: 50 }),
      );
      expect(batch.status).toBe(200);
      expect(json<{ availabilities: Array<{ meetsMinAvailable: boolean }> }>(batch).availabilities.map((a) => a.meetsMinAvailable)).toEqual([false, true]);
    });
  });
});
