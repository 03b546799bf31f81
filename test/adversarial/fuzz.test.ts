/**
 * Fuzzed input through the real server, over gRPC and Connect JSON, on both
 * databases: random and boundary values in every field of every RPC, and raw
 * corrupted, truncated and oversized bodies. Every answer is a proper status
 * (never INTERNAL or UNKNOWN, never a dropped connection), a rejected write
 * changes nothing, and every accepted string reads back byte for byte.
 */
import http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClient, ok, type Outcome, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { Figures } from "./figures.js";

const figures = new Figures("fuzz");
afterAll(() => figures.save());
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);

const nasty = fc.constantFrom(
  "",
  " ",
  "'; DROP TABLE capacities; --",
  '" OR 1=1 --',
  "\\",
  "%_",
  '{"$ne": null}',
  "</script><script>alert(1)</script>",
  "\u0000",
  "\u0000\u0001\u001f\u007f",
  "\u202e\u200b\ufeff",
  "😀👩‍👩‍👧‍👦",
  "𝕏".repeat(100),
  "\ud800",
  "a\udfffb",
  "x".repeat(5000),
  "per_01M8FMTT425T0SWT9WYGC66PKF",
  "cap_01M8FMTT425T0SWT9WYGC66PKF",
  "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
);
const text = fc.oneof(nasty, fc.string({ unit: "binary", maxLength: 60 }), fc.string({ maxLength: 20 }));
const date = fc.oneof(
  fc.date({ min: new Date("0001-01-01"), max: new Date("9999-12-31"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  fc.constantFrom("2027-02-29", "2028-02-29", "2027-02-30", "2027-13-01", "0000-00-00", "9999-12-31", "1000-01-01", "0999-12-31", "2027-1-1", "27-01-01", "2027-01-01T00:00:00Z"),
  text,
);
const number = fc.oneof(
  fc.double(),
  fc.integer({ min: -1000, max: 1000 }).map((n) => n / 10),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0, 100, 100.01, 33.33, 33.333, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER),
);
const ref = fc.oneof(fc.constant(""), fc.constantFrom("per_01M8FMTT425T0SWT9WYGC66PKF", "prj_01M8FMTT425T0SWT9WYGC66PKG"), text);
const mask = fc.array(fc.oneof(fc.constantFrom("person_id", "project_id", "period_start", "period_end", "allocated_pct", "notes", "source", "source_type", "*", "etag", "id", "tenant_id"), text), { maxLength: 4 });
const int32 = fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.constantFrom(0, -1, 1, 1000, 1001, 2147483647));

const capacity = fc.record(
  {
    personId: ref,
    projectId: ref,
    periodStart: date,
    periodEnd: date,
    allocatedPct: number,
    notes: text,
    source: text,
    sourceType: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: -5, max: 100 })),
    etag: fc.oneof(fc.constant(""), text),
  },
  { requiredKeys: [] },
);

type Call = { rpc: "setCapacity" | "getCapacity" | "listCapacities" | "deleteCapacity" | "undeleteCapacity" | "confirmCapacity" | "getPersonAvailability" | "batchGetPersonAvailability"; req: Record<string, unknown>; targetsRecord: boolean };

const call: fc.Arbitrary<Call> = fc.oneof(
  capacity.map((c) => ({ rpc: "setCapacity" as const, req: { capacity: c }, targetsRecord: false })),
  fc.record({ c: capacity, m: mask, v: fc.boolean(), r: fc.oneof(fc.constant(""), text, fc.uuid()) }).map(({ c, m, v, r }) => ({
    rpc: "setCapacity" as const,
    req: { capacity: { ...c, id: "<record>" }, updateMask: { paths: m }, validateOnly: v, requestId: r },
    targetsRecord: true,
  })),
  fc.oneof(fc.constant("<record>"), text).map((id) => ({ rpc: "getCapacity" as const, req: { id }, targetsRecord: false })),
  fc.record({ id: fc.oneof(fc.constant("<record>"), text), etag: fc.oneof(fc.constant(""), text) }).chain((x) =>
    fc.constantFrom("deleteCapacity" as const, "undeleteCapacity" as const, "confirmCapacity" as const).map((rpc) => ({ rpc, req: x, targetsRecord: true })),
  ),
  fc.record(
    { pageSize: int32, pageToken: fc.oneof(text, fc.base64String({ maxLength: 80 })), personId: ref, projectId: ref, periodFrom: date, periodTo: date, confirmed: fc.boolean(), showDeleted: fc.boolean() },
    { requiredKeys: [] },
  ).map((req) => ({ rpc: "listCapacities" as const, req, targetsRecord: false })),
  fc.record({ personId: ref, periodStart: date, periodEnd: date, confirmedOnly: fc.boolean(), excludeWeekends: fc.boolean() }, { requiredKeys: [] }).map((req) => ({
    rpc: "getPersonAvailability" as const,
    req,
    targetsRecord: false,
  })),
  fc.record({ personIds: fc.array(ref, { maxLength: 6 }), periodStart: date, periodEnd: date, minAvailablePct: number }, { requiredKeys: [] }).map((req) => ({
    rpc: "batchGetPersonAvailability" as const,
    req,
    targetsRecord: false,
  })),
);

/** The codes a proper answer may carry; INTERNAL and UNKNOWN are never acceptable. */
const PROPER = new Set([Code.InvalidArgument, Code.NotFound, Code.Aborted, Code.FailedPrecondition, Code.AlreadyExists]);

describe.each(ENGINES)("fuzzing on %s", (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(async () => server?.close());

  it.each(["grpc-connect-node", "connect-json-http1"] as const)("every RPC over %s answers properly and keeps the data whole", async (kind) => {
    const client: TestClient = createTestClient(kind, server.baseUrl);
    const t = tenant("fuzz");
    const token = await server.token(t);
    const record = ok(await client.call("setCapacity", { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10 } }, token));
    const rows = async () => server.db.knex("capacities").where({ tenant_id: t }).orderBy("id");
    await fc.assert(
      fc.asyncProperty(call, async ({ rpc, req, targetsRecord }) => {
        const resolved = JSON.parse(JSON.stringify(req).replaceAll("<record>", record.id)) as Record<string, unknown>;
        // JSON round trip loses NaN/Infinity and -0: put numbers back.
        if (rpc === "setCapacity") (resolved.capacity as Record<string, unknown>).allocatedPct = (req.capacity as Record<string, unknown>).allocatedPct;
        if (rpc === "batchGetPersonAvailability") resolved.minAvailablePct = req.minAvailablePct;
        const before = targetsRecord || rpc === "setCapacity" ? await rows() : undefined;
        const out = (await client.call(rpc, resolved as never, token)) as Outcome<Record<string, unknown>>;
        if (!out.ok && out.requestId === undefined && /cannot encode/.test(out.message)) {
          // The client itself cannot express this request (a mask path with no JSON name): nothing was sent.
          figures.add("not encodable by the client");
          return;
        }
        figures.add("requests fuzzed");
        figures.add(`status ${out.ok ? "OK" : Code[out.code]}`);
        if (!out.ok) {
          expect({ rpc, code: out.code, message: out.message }).toEqual({ rpc, code: PROPER.has(out.code) ? out.code : "a proper status", message: out.message });
          if (before) expect(await rows()).toEqual(before);
          return;
        }
        if (rpc === "setCapacity" && !resolved.validateOnly) {
          // Accepted strings read back byte for byte.
          const written = out.value as { id: string; notes: string; source: string };
          const sent = resolved.capacity as { notes?: string; source?: string };
          const paths = (resolved.updateMask as { paths?: string[] } | undefined)?.paths ?? [];
          const stored = ok(await client.call("getCapacity", { id: written.id }, token));
          expect(stored).toEqual(out.value);
          if (sent.notes !== undefined && (paths.length === 0 || paths.includes("notes") || paths.includes("*"))) {
            expect(Buffer.from(stored.notes)).toEqual(Buffer.from(sent.notes));
          }
          figures.add("accepted writes read back");
        }
      }),
      { numRuns: RUNS },
    );
    // Still serving on the same connection.
    ok(await client.call("getCapacity", { id: record.id }, token));
    client.close();
  });

  it.each(["grpc-connect-node", "connect-json-http1"] as const)("stores any accepted free text byte for byte over %s", async (kind) => {
    const client = createTestClient(kind, server.baseUrl);
    const token = await server.token(tenant("fuzz-text"));
    await fc.assert(
      fc.asyncProperty(text, fc.string({ unit: "binary", maxLength: 64 }), async (notes, source) => {
        const out = await client.call(
          "setCapacity",
          { capacity: { personId: person(), projectId: project(), periodStart: "2027-05-01", periodEnd: "2027-05-02", allocatedPct: 1, notes, source } },
          token,
        );
        figures.add("requests fuzzed");
        figures.add(`status ${out.ok ? "OK" : Code[out.code]}`);
        if (!out.ok) {
          // Refused only for a rule: not valid Unicode, or too long.
          expect(out.code).toBe(Code.InvalidArgument);
          expect(!notes.isWellFormed() || !source.isWellFormed() || [...notes].length > 4000 || [...source].length > 64).toBe(true);
          return;
        }
        const stored = ok(await client.call("getCapacity", { id: out.value.id }, token));
        expect(Buffer.from(stored.notes)).toEqual(Buffer.from(notes));
        expect(Buffer.from(stored.source)).toEqual(Buffer.from(source === "" ? "edm" : source));
        figures.add("accepted writes read back");
      }),
      { numRuns: RUNS / 2 },
    );
    client.close();
  });

  it("answers corrupted, truncated and oversized bodies with a proper status and keeps the connection", async () => {
    const session = http2.connect(server.baseUrl);
    const token = await server.token(tenant("fuzz-raw"));
    const send = (path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; grpcStatus: string | undefined }> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": path, authorization: `Bearer ${token}`, ...headers });
        let status = 0;
        let grpcStatus: string | undefined;
        stream.on("response", (h) => {
          status = Number(h[":status"]);
          if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]);
        });
        stream.on("trailers", (h) => {
          grpcStatus = String(h["grpc-status"]);
        });
        stream.on("data", () => {});
        stream.on("close", () => resolve({ status, grpcStatus }));
        stream.on("error", reject);
        stream.end(body);
      });
    const methods = ["GetCapacity", "ListCapacities", "SetCapacity", "DeleteCapacity", "GetPersonAvailability", "BatchGetPersonAvailability"];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.constantFrom("grpc", "grpc-truncated", "connect-proto", "connect-json"),
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(new Uint8Array(0), new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), new Uint8Array([0x12, 0x80]))),
        async (method, framing, payload) => {
          const path = `/work.v1.CapacityService/${method}`;
          let result;
          if (framing.startsWith("grpc")) {
            const frame = Buffer.alloc(5 + payload.length);
            frame.writeUInt32BE(framing === "grpc-truncated" ? payload.length + 17 : payload.length, 1);
            frame.set(payload, 5);
            result = await send(path, { "content-type": "application/grpc", te: "trailers" }, frame);
            expect(result.status).toBe(200);
            // A status, and not INTERNAL or UNKNOWN. (A frame that promises more
            // bytes than it carries is a protocol error; connect-es says UNIMPLEMENTED.)
            expect(result.grpcStatus).toBeDefined();
            expect(["2", "13"]).not.toContain(result.grpcStatus);
          } else if (framing === "connect-proto") {
            result = await send(path, { "content-type": "application/proto" }, Buffer.from(payload));
            expect([200, 400, 404, 412]).toContain(result.status);
          } else {
            result = await send(path, { "content-type": "application/json" }, Buffer.from(payload));
            expect([200, 400, 404, 412]).toContain(result.status);
          }
          figures.add("corrupted bodies");
          figures.add(`raw ${framing} HTTP ${result.status}${result.grpcStatus === undefined ? "" : ` grpc-status ${result.grpcStatus}`}`);
        },
      ),
      { numRuns: RUNS },
    );
    // Oversized: more than CAPACITY_READ_MAX_BYTES.
    const big = Buffer.alloc(5 + 2_000_000);
    big.writeUInt32BE(2_000_000, 1);
    const over = await send("/work.v1.CapacityService/SetCapacity", { "content-type": "application/grpc", te: "trailers" }, big);
    expect(over.grpcStatus).toBe(String(Code.ResourceExhausted));
    figures.add("oversized bodies");
    // The same connection still serves.
    const fine = await send("/work.v1.CapacityService/ListCapacities", { "content-type": "application/json" }, Buffer.from("{}"));
    expect(fine.status).toBe(200);
    session.close();
  });
});
