/**
 * Raw request bodies through the real server, on both databases, below any
 * client library: random bytes, and valid requests with bytes flipped, cut
 * or appended, sent as gRPC and gRPC-Web frames (with valid and broken 5-byte
 * frame headers) and as Connect binary and JSON; and oversized bodies. Every
 * answer is a proper status (never INTERNAL or UNKNOWN) on a connection that
 * keeps serving, and afterwards the tenant's rows are exactly the writes the
 * server acknowledged, as acknowledged.
 */
import http2 from "node:http2";
import { create, fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BatchGetPersonAvailabilityRequestSchema,
  CapacitySchema,
  DeleteCapacityRequestSchema,
  GetCapacityRequestSchema,
  GetPersonAvailabilityRequestSchema,
  ListCapacitiesRequestSchema,
  SetCapacityRequestSchema,
  type Capacity,
} from "../../src/gen/work/v1/capacity_pb.js";
import { createTestClient, ok } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { Figures } from "./figures.js";
import { validCapacity, type CapacityFields } from "./fuzz-arbitraries.js";
import { tenantRows } from "./tenant-rows.js";

const figures = new Figures("fuzz-raw");
afterAll(() => figures.save());
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);

const SCHEMAS = {
  GetCapacity: GetCapacityRequestSchema,
  ListCapacities: ListCapacitiesRequestSchema,
  SetCapacity: SetCapacityRequestSchema,
  DeleteCapacity: DeleteCapacityRequestSchema,
  GetPersonAvailability: GetPersonAvailabilityRequestSchema,
  BatchGetPersonAvailability: BatchGetPersonAvailabilityRequestSchema,
} satisfies Record<string, DescMessage>;
type Method = keyof typeof SCHEMAS;
const METHODS = Object.keys(SCHEMAS) as Method[];
/** Methods whose successful answer is a written record. */
const WRITES = new Set<Method>(["SetCapacity", "DeleteCapacity"]);

/** What a body starts from: random bytes, or a valid request (a record named by index among the acknowledged ones). */
type Seed =
  | { kind: "random"; method: Method; bytes: Uint8Array }
  | { kind: "create"; capacity: CapacityFields }
  | { kind: "update notes"; pick: number; notes: string }
  | { kind: "delete"; pick: number }
  | { kind: "get"; pick: number }
  | { kind: "list" };
/** What is done to the encoded request. */
type Damage = { kind: "none" } | { kind: "flip"; at: number; xor: number } | { kind: "cut"; at: number } | { kind: "append"; bytes: Uint8Array };
type Framing = "grpc" | "grpc-web" | "connect-proto" | "connect-json";
/** The 5-byte gRPC frame header: flag byte and big-endian length. */
type Header =
  | "valid"
  | "length beyond the body"
  | "length short of the body"
  | "compressed flag, no encoding"
  | "trailer flag"
  | "unknown flag"
  | "cut inside the header"
  | "two messages";

const seed: fc.Arbitrary<Seed> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("random" as const),
      method: fc.constantFrom(...METHODS),
      bytes: fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(new Uint8Array(0), new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), new Uint8Array([0x12, 0x80])),
      ),
    }),
  },
  { weight: 3, arbitrary: validCapacity.map((capacity): Seed => ({ kind: "create", capacity })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("update notes" as const), pick: fc.nat(), notes: fc.string({ maxLength: 20 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("get" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant<Seed>({ kind: "list" }) },
);
const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Damage>({ kind: "none" }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
);
const header: fc.Arbitrary<Header> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Header>("valid") },
  {
    weight: 6,
    arbitrary: fc.constantFrom<Header>(
      "length beyond the body",
      "length short of the body",
      "compressed flag, no encoding",
      "trailer flag",
      "unknown flag",
      "cut inside the header",
      "two messages",
    ),
  },
);

function damaged(bytes: Uint8Array, d: Damage): Uint8Array {
  const out = Buffer.from(bytes);
  if (d.kind === "flip" && out.length > 0) out[d.at % out.length]! ^= d.xor;
  if (d.kind === "cut") return out.subarray(0, d.at % (out.length + 1));
  if (d.kind === "append") return Buffer.concat([out, d.bytes]);
  return out;
}

function frame(payload: Uint8Array, h: Header, cutAt: number): Buffer {
  const one = (flag: number, length: number): Buffer => {
    const f = Buffer.alloc(5 + payload.length);
    f[0] = flag;
    f.writeUInt32BE(length, 1);
    f.set(payload, 5);
    return f;
  };
  switch (h) {
    case "valid":
      return one(0, payload.length);
    case "length beyond the body":
      return one(0, payload.length + 17);
    case "length short of the body":
      return one(0, Math.max(0, payload.length - 3));
    case "compressed flag, no encoding":
      return one(1, payload.length);
    case "trailer flag":
      return one(0x80, payload.length);
    case "unknown flag":
      return one(unknownFlag(cutAt), payload.length);
    case "cut inside the header":
      return one(0, payload.length).subarray(0, cutAt % 5);
    case "two messages":
      return Buffer.concat([one(0, payload.length), one(0, payload.length)]);
  }
}

/**
 * A frame with the compressed bit set on a call that named no grpc-encoding:
 * connect-node reports it as INTERNAL; the server answers INVALID_ARGUMENT
 * (the caller's fault), which this suite first found and now pins.
 */
const compressedBit = (h: Header, cutAt: number): boolean => h === "compressed flag, no encoding" || (h === "unknown flag" && (unknownFlag(cutAt) & 1) === 1);
/** The flag byte of an "unknown flag" frame: a reserved bit set, and any low bits. */
const unknownFlag = (n: number): number => 0x40 | (n % 0x3f);

/** The data frames (flag 0) and the gRPC-Web trailer frame (flag 0x80) of a gRPC or gRPC-Web response body. */
function frames(body: Buffer): { messages: Buffer[]; trailer: Record<string, string> } {
  const messages: Buffer[] = [];
  const trailer: Record<string, string> = {};
  for (let at = 0; at + 5 <= body.length;) {
    const flag = body[at]!;
    const length = body.readUInt32BE(at + 1);
    const data = body.subarray(at + 5, at + 5 + length);
    at += 5 + length;
    if (flag === 0) messages.push(data);
    else if (flag & 0x80) {
      for (const line of data.toString("latin1").split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) trailer[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
  }
  return { messages, trailer };
}

describe.each(ENGINES)("raw bodies on %s", (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(async () => server?.close());

  it("answer every corrupted, truncated, misframed and oversized body properly, keep the connection, and store only acknowledged writes", async () => {
    const session = http2.connect(server.baseUrl);
    const t = tenant("fuzz-raw");
    const token = await server.token(t);
    const client = createTestClient("connect-json-http1", server.baseUrl);
    /** Each acknowledged record as the server last acknowledged it. */
    const acknowledged = new Map<string, Capacity>();
    for (let i = 0; i < 3; i++) {
      const c = ok(
        await client.call(
          "setCapacity",
          { capacity: { personId: person(), projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10 } },
          token,
        ),
      );
      acknowledged.set(c.id, c);
    }
    const pick = (n: number): string => [...acknowledged.keys()][n % acknowledged.size]!;

    interface Answer {
      status: number;
      headers: http2.IncomingHttpHeaders;
      trailers: http2.IncomingHttpHeaders;
      body: Buffer;
    }
    const send = (path: string, headers: Record<string, string>, body: Buffer): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": path, authorization: `Bearer ${token}`, ...headers });
        const answer: Answer = { status: 0, headers: {}, trailers: {}, body: Buffer.alloc(0) };
        const chunks: Buffer[] = [];
        stream.on("response", (h) => {
          answer.status = Number(h[":status"]);
          answer.headers = h;
        });
        stream.on("trailers", (h: http2.IncomingHttpHeaders) => {
          answer.trailers = h;
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("close", () => resolve({ ...answer, body: Buffer.concat(chunks) }));
        stream.on("error", reject);
        stream.end(body);
      });

    /** The request a seed stands for, by method, as a message of that method's schema (or raw bytes). */
    const request = (s: Seed): { method: Method; message?: unknown; bytes?: Uint8Array } => {
      switch (s.kind) {
        case "random":
          return { method: s.method, bytes: s.bytes };
        case "create":
          return { method: "SetCapacity", message: { capacity: s.capacity } };
        case "update notes":
          return { method: "SetCapacity", message: { capacity: { id: pick(s.pick), notes: s.notes }, updateMask: { paths: ["notes"] } } };
        case "delete":
          return { method: "DeleteCapacity", message: { id: pick(s.pick) } };
        case "get":
          return { method: "GetCapacity", message: { id: pick(s.pick) } };
        case "list":
          return { method: "ListCapacities", message: {} };
      }
    };

    await fc.assert(
      fc.asyncProperty(
        seed,
        damage,
        fc.constantFrom<Framing>("grpc", "grpc-web", "connect-proto", "connect-json"),
        header,
        fc.nat(),
        async (s, d, framing, h, cutAt) => {
          const { method, message, bytes } = request(s);
          const schema = SCHEMAS[method];
          const json = framing === "connect-json";
          const msg = create(schema, message as never);
          const encoded = bytes ?? (json ? Buffer.from(toJsonString(schema, msg)) : toBinary(schema, msg));
          const payload = damaged(encoded, d);
          const path = `/work.v1.CapacityService/${method}`;
          let written: Buffer | undefined;
          let label: string;
          if (framing === "grpc" || framing === "grpc-web") {
            const contentType: Record<string, string> =
              framing === "grpc" ? { "content-type": "application/grpc", te: "trailers" } : { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" };
            const answer = await send(path, contentType, frame(payload, h, cutAt));
            const body = frames(answer.body);
            // gRPC: trailers (or trailers-only headers); gRPC-Web: the trailer frame (or trailers-only headers).
            const grpcStatus = answer.trailers["grpc-status"] ?? body.trailer["grpc-status"] ?? answer.headers["grpc-status"];
            label = `raw ${framing} HTTP ${answer.status} grpc-status ${String(grpcStatus)}`;
            figures.add(`raw frame header: ${h}`);
            figures.add(label);
            expect({ framing, header: h, status: answer.status }).toEqual({ framing, header: h, status: 200 });
            // A status, and not INTERNAL or UNKNOWN. (A frame that promises more
            // bytes than it carries is a protocol error; connect-es says UNIMPLEMENTED.)
            const message = decodeURIComponent(String(answer.trailers["grpc-message"] ?? body.trailer["grpc-message"] ?? answer.headers["grpc-message"] ?? ""));
            if (compressedBit(h, cutAt) && String(grpcStatus) !== "0") {
              expect({ framing, header: h, grpcStatus: String(grpcStatus) }).toEqual({ framing, header: h, grpcStatus: String(Code.InvalidArgument) });
              figures.add("compressed frame without grpc-encoding: INVALID_ARGUMENT");
            }
            expect({
              framing,
              header: h,
              grpcStatus: grpcStatus === undefined || ["2", "13"].includes(String(grpcStatus)) ? `improper: ${String(grpcStatus)} ${message}` : "proper",
            }).toEqual({
              framing,
              header: h,
              grpcStatus: "proper",
            });
            if (String(grpcStatus) === "0") {
              expect(body.messages).toHaveLength(1);
              written = body.messages[0];
            }
          } else {
            const answer = await send(path, { "content-type": json ? "application/json" : "application/proto" }, Buffer.from(payload));
            label = `raw ${framing} HTTP ${answer.status}`;
            figures.add(label);
            expect([200, 400, 404, 409, 412]).toContain(answer.status);
            if (answer.status !== 200) {
              const error = JSON.parse(answer.body.toString("utf8")) as { code?: string };
              expect(["unknown", "internal"]).not.toContain(error.code);
            } else written = answer.body;
          }
          figures.add("raw bodies sent");
          if (written === undefined || !WRITES.has(method)) return;
          const c = json ? fromJsonString(CapacitySchema, written.toString("utf8")) : fromBinary(CapacitySchema, written);
          // The server decoded the very bytes sent: a flip that set validate_only wrote nothing.
          let validateOnly = false;
          try {
            if (method === "SetCapacity")
              validateOnly = (
                json ? fromJsonString(SetCapacityRequestSchema, Buffer.from(payload).toString("utf8")) : fromBinary(SetCapacityRequestSchema, payload)
              ).validateOnly;
          } catch {
            // Not decodable as sent, yet answered OK: counted as a write, and the final check decides.
          }
          if (validateOnly || c.id === "") return;
          acknowledged.set(c.id, c);
          figures.add("raw writes acknowledged");
        },
      ),
      { numRuns: RUNS },
    );
    // Oversized: more than CAPACITY_READ_MAX_BYTES, framed for gRPC and for gRPC-Web.
    const big = Buffer.alloc(5 + 2_000_000);
    big.writeUInt32BE(2_000_000, 1);
    const over = await send("/work.v1.CapacityService/SetCapacity", { "content-type": "application/grpc", te: "trailers" }, big);
    expect(over.trailers["grpc-status"] ?? over.headers["grpc-status"]).toBe(String(Code.ResourceExhausted));
    const overWeb = await send("/work.v1.CapacityService/SetCapacity", { "content-type": "application/grpc-web+proto" }, big);
    expect(overWeb.headers["grpc-status"] ?? frames(overWeb.body).trailer["grpc-status"]).toBe(String(Code.ResourceExhausted));
    figures.add("oversized bodies", 2);
    // The same connection still serves.
    const fine = await send("/work.v1.CapacityService/ListCapacities", { "content-type": "application/json" }, Buffer.from("{}"));
    expect(fine.status).toBe(200);
    session.close();

    // The tenant's rows are exactly the acknowledged writes, each as last acknowledged.
    const rows = await tenantRows(server.db.knex, t);
    expect(Object.keys(rows.capacities).sort()).toEqual([...acknowledged.keys()].sort());
    const listed = ok(await client.call("listCapacities", { showDeleted: true, pageSize: 1000 }, token));
    expect(new Map(listed.capacities.map((c) => [c.id, c]))).toEqual(acknowledged);
    figures.add("raw rows checked against acknowledged writes", acknowledged.size);
    client.close();
    // Enough writes got through for that check to mean something.
    if (RUNS >= 200) expect(acknowledged.size - 3).toBeGreaterThanOrEqual(RUNS / 40);
  });
});
