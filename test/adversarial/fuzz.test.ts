/**
 * Fuzzed calls through the real server, over gRPC and Connect JSON, on both
 * databases. Every answer is a proper status (never INTERNAL or UNKNOWN); a
 * refused write and a validate_only call change nothing (no capacity row, no
 * remembered request id, no per-person write counter); an accepted write
 * stored exactly the fields it was sent (byte for byte) and reads back as
 * acknowledged; where the call was built from valid values,
 * the answer is the one the contract allows. At the end the tenant's rows are
 * exactly the acknowledged writes. Raw bodies are fuzzed in fuzz-raw.test.ts.
 */
import { isDeepStrictEqual } from "node:util";
import { create, fromJson, toJson } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OverallocationPolicy, type Capacity } from "../../src/gen/work/v1/capacity_pb.js";
import { createTestClient, ok, type Outcome, type TestClient } from "../helpers/clients.js";
import { ENGINES } from "../helpers/databases.js";
import { person, project, tenant } from "../helpers/ids.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { Figures } from "./figures.js";
import { isWrite, op, POOLED_PEOPLE, text, type Op, type ReadOp, type SetOp, type TransitionOp } from "./fuzz-arbitraries.js";
import { etagFor, expectedWritable, hasIllFormedText, predict, TenantModel, writableOf, type Prediction } from "./fuzz-model.js";
import { countCapacities, tenantRows, type TenantRows } from "./tenant-rows.js";

const figures = new Figures("fuzz");
afterAll(() => figures.save());
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
/** Below this many runs the shares below are too noisy to assert. */
const RUNS_FOR_SHARES = 200;
/** The writer of every fuzzed call, so stamps can be checked. */
const SUB = "per_01J8ZZ0000000000000000000S";

/** The codes a proper answer may carry; INTERNAL and UNKNOWN are never acceptable. */
const PROPER = new Set([Code.InvalidArgument, Code.NotFound, Code.Aborted, Code.FailedPrecondition, Code.AlreadyExists]);
const CAPACITY_ID = /^cap_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
/** Fields whose change voids a confirmation. */
const CONFIRMED = ["personId", "projectId", "periodStart", "periodEnd", "allocatedPct"] as const;
/** Fields each transition may change; every other field must stay as it was. */
const CHANGES: Record<TransitionOp["rpc"], Array<keyof Capacity>> = {
  deleteCapacity: ["updatedAt", "updatedBy", "etag", "isDeleted", "deletedAt", "deletedBy"],
  undeleteCapacity: ["updatedAt", "updatedBy", "etag", "isDeleted", "deletedAt", "deletedBy"],
  confirmCapacity: ["updatedAt", "updatedBy", "etag", "confirmedById", "confirmedAt"],
};
/**
 * toEqual with a fast path: nearly every comparison here holds, and vitest's
 * deep equality is slow on whole-tenant snapshots compared after every call.
 */
function same<T>(actual: T, expected: T): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}
const without = (c: Capacity, keys: ReadonlyArray<keyof Capacity>): Partial<Capacity> =>
  Object.fromEntries(Object.entries(c).filter(([k]) => !keys.includes(k as keyof Capacity)));

/**
 * The paths a field mask carries after a round trip through its JSON form: one
 * comma-joined string of lowerCamelCase names, so `[""]` arrives as no path
 * and `"notes_"` as `"notes"`. (A mask the client cannot encode is not sent.)
 */
function jsonMaskPaths(paths: string[] | undefined): string[] | undefined {
  if (paths === undefined) return undefined;
  try {
    return fromJson(FieldMaskSchema, toJson(FieldMaskSchema, create(FieldMaskSchema, { paths }))).paths;
  } catch {
    return paths;
  }
}

/**
 * The paths an `update_mask` query parameter carries (docs/http-api.md): the
 * paths comma-joined, split again, trimmed, empties dropped, and a lowerCamel
 * path (a capital, no underscore) turned into proto naming.
 */
function queryMaskPaths(paths: string[] | undefined): string[] | undefined {
  if (paths === undefined) return undefined;
  return paths
    .join(",")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => (/[A-Z]/.test(p) && !p.includes("_") ? p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : p));
}

/** Rows after an accepted write: the written record is new or changed, every other row is as it was. */
function expectOnly(before: TenantRows, after: TenantRows, id: string, created: boolean): void {
  const { [id]: was, ...othersBefore } = before.capacities;
  const { [id]: now, ...othersAfter } = after.capacities;
  same(othersAfter, othersBefore);
  expect(now).toBeDefined();
  if (created) expect(was).toBeUndefined();
  else expect(now).not.toEqual(was);
}

describe.each(ENGINES)("fuzzing on %s", (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(async () => server?.close());

  it.each(["grpc-connect-node", "connect-json-http1", "rest-http1"] as const)(
    "every RPC over %s answers properly, and every write does exactly what it acknowledged",
    async (kind) => {
      const client: TestClient = createTestClient(kind, server.baseUrl);
      const t = tenant("fuzz");
      const token = await server.token(t, { sub: SUB });
      const model = new TenantModel();
      // This test's own counts, for the shares asserted at the end (figures sum all tests).
      const tally = new Figures("unsaved");
      const count = (name: string): void => {
        figures.add(name);
        tally.add(name);
      };
      for (const personId of POOLED_PEOPLE) {
        model.put(
          ok(
            await client.call(
              "setCapacity",
              { capacity: { personId, projectId: project(), periodStart: "2027-01-01", periodEnd: "2027-01-31", allocatedPct: 10 } },
              token,
            ),
          ),
        );
      }
      const rows = () => tenantRows(server.db.knex, t);
      // Only this test writes to its tenant: the rows after one call are the rows before the next.
      let current = await rows();
      /** The last accepted write with a request id, and its answer. */
      let retryable: { req: Record<string, unknown>; value: Capacity } | undefined;
      const readBack = async (value: Capacity): Promise<void> => {
        same(ok(await client.call("getCapacity", { id: value.id }, token)), value);
        count("read-backs verified");
      };

      /** An accepted SetCapacity: the fields it was sent, the stamps, and (unless validate_only) the row and the read-back. */
      async function acceptedSet(o: SetOp, req: Record<string, unknown>, id: string, value: Capacity, before: TenantRows, after: TenantRows): Promise<void> {
        const existing = id === "" ? undefined : model.records.get(id);
        if (id !== "") expect({ acceptedUpdateOf: id, known: existing !== undefined }).toEqual({ acceptedUpdateOf: id, known: true });
        const want = expectedWritable(o.capacity, existing, o.paths);
        same(writableOf(value), want);
        expect(Buffer.from(value.notes)).toEqual(Buffer.from(want.notes));
        expect(Buffer.from(value.source)).toEqual(Buffer.from(want.source));
        expect(value).toMatchObject({ tenantId: t, appId: "", updatedBy: SUB, isDeleted: false, deletedBy: "", schemaVersion: 1 });
        expect(value.deletedAt).toBeUndefined();
        if (existing) {
          expect(value).toMatchObject({ id, createdAt: existing.createdAt, createdBy: existing.createdBy });
          expect(value.etag).not.toBe(existing.etag);
          const renumbered = CONFIRMED.some((k) => want[k] !== existing[k]);
          expect({ confirmedById: value.confirmedById, confirmedAt: value.confirmedAt }).toEqual(
            renumbered ? { confirmedById: "", confirmedAt: undefined } : { confirmedById: existing.confirmedById, confirmedAt: existing.confirmedAt },
          );
        } else {
          expect(value).toMatchObject({ createdBy: SUB, confirmedById: "", updatedAt: value.createdAt });
        }
        if (o.validateOnly) {
          // Nothing written in any table, and nothing new to find by the id it answered.
          same(after, before);
          if (existing) expect(ok(await client.call("getCapacity", { id }, token))).toEqual(existing);
          else {
            if (value.id !== "") expect(await client.call("getCapacity", { id: value.id }, token)).toMatchObject({ ok: false, code: Code.NotFound });
            expect(value.id).toBe(""); // a would-be new record has no id
          }
          count("validate_only checked");
          return;
        }
        if (!existing) expect(value.id).toMatch(CAPACITY_ID);
        await readBack(value);
        expectOnly(before, after, value.id, existing === undefined);
        expect(after.requests).toBe(before.requests + (o.requestId === "" ? 0 : 1));
        model.put(value);
        if (o.requestId !== "") {
          model.requests.set(o.requestId.toLowerCase(), value);
          retryable = { req, value };
        }
        if (existing) {
          count("accepted updates");
          if (o.paths !== undefined) count("accepted updates with a mask");
        } else count("accepted creates");
      }

      /** An accepted Delete, Undelete or Confirm: only its own fields changed, and it reads back. */
      async function acceptedTransition(o: TransitionOp, id: string, value: Capacity, before: TenantRows, after: TenantRows): Promise<void> {
        const existing = model.records.get(id);
        expect({ accepted: o.rpc, id, known: existing !== undefined }).toEqual({ accepted: o.rpc, id, known: true });
        expect(without(value, CHANGES[o.rpc])).toEqual(without(existing!, CHANGES[o.rpc]));
        expect(value.updatedBy).toBe(SUB);
        expect(value.etag).not.toBe(existing!.etag);
        if (o.rpc === "deleteCapacity") expect(value).toMatchObject({ isDeleted: true, deletedBy: SUB, deletedAt: expect.anything() as unknown });
        if (o.rpc === "undeleteCapacity")
          expect({ isDeleted: value.isDeleted, deletedBy: value.deletedBy, deletedAt: value.deletedAt }).toEqual({
            isDeleted: false,
            deletedBy: "",
            deletedAt: undefined,
          });
        if (o.rpc === "confirmCapacity") expect(value).toMatchObject({ confirmedById: SUB, confirmedAt: expect.anything() as unknown });
        await readBack(value);
        expectOnly(before, after, id, false);
        model.put(value);
        count("accepted deletes, undeletes and confirms");
      }

      async function read(o: ReadOp): Promise<void> {
        const first = model.resolve({ kind: "pool", index: 0 });
        const req = Object.fromEntries(Object.entries(o.req).map(([k, v]) => [k, v === "<record>" ? first : v]));
        const out = (await client.call(o.rpc, req, token)) as Outcome<unknown>;
        figures.add("requests fuzzed");
        figures.add(`status ${out.ok ? "OK" : Code[out.code]}`);
        if (!out.ok && !PROPER.has(out.code))
          expect({ rpc: o.rpc, code: out.code, message: out.message }).toEqual({ rpc: o.rpc, code: "a proper status", message: out.message });
      }

      /** The same request again: the first answer, and nothing written. */
      async function retry(): Promise<void> {
        if (!retryable) return;
        const out = await client.call("setCapacity", retryable.req, token);
        count("requests fuzzed");
        figures.add(`status ${out.ok ? "OK" : Code[out.code]}`);
        expect(out).toEqual({ ok: true, value: retryable.value });
        same(await rows(), current);
        count("idempotent replays");
      }

      await fc.assert(
        fc.asyncProperty(op, async (o: Op) => {
          if (o.rpc === "retry") return retry();
          if (!isWrite(o)) return read(o);
          const id = o.target === undefined ? "" : model.resolve(o.target);
          const sentEtag = etagFor(o.etag, model.records.get(id));
          const req: Record<string, unknown> =
            o.rpc === "setCapacity"
              ? {
                  capacity: { ...o.capacity, id, etag: sentEtag },
                  updateMask: o.paths && { paths: o.paths },
                  validateOnly: o.validateOnly,
                  overallocationPolicy: o.policy,
                  requestId: o.requestId,
                }
              : { id, etag: sentEtag, overallocationPolicy: o.policy };
          // What the server decodes: a JSON field mask does not carry every list of paths unchanged.
          const masked = kind === "connect-json-http1" ? jsonMaskPaths : kind === "rest-http1" ? queryMaskPaths : undefined;
          const seen: Op = o.rpc === "setCapacity" && masked ? { ...o, paths: masked(o.paths) } : o;
          // Connect JSON and the HTTP/JSON API refuse a lone surrogate anywhere in the request before the service
          // sees it (a JSON escape, or bytes in the URL that are not UTF-8); gRPC's encoder sends U+FFFD instead.
          const predicted: Prediction =
            kind !== "grpc-connect-node" && hasIllFormedText(req) ? { code: Code.InvalidArgument } : predict(seen, model, id, sentEtag);
          const before = current;
          const out: Outcome<Capacity> = await client.call(o.rpc, req, token);
          current = await rows();
          if (!out.ok && out.requestId === undefined && /cannot encode/.test(out.message)) {
            // The client itself cannot express this request (a mask path with no JSON name): nothing was sent.
            figures.add("not encodable by the client");
            return;
          }
          count("requests fuzzed");
          figures.add(`status ${out.ok ? "OK" : Code[out.code]}`);
          const answer = out.ok ? { code: "ok" } : { code: out.code, message: out.message, fields: out.violations.map((v) => v.field) };
          const context = { rpc: o.rpc, id, validateOnly: "validateOnly" in o ? o.validateOnly : undefined, policy: o.policy };
          if (predicted && "code" in predicted && predicted.code !== answer.code) {
            expect({ ...context, op: o, answer }).toEqual({
              ...context,
              op: o,
              answer: predicted.code === "ok" ? { code: "ok" } : { ...answer, code: predicted.code },
            });
          }
          if (!out.ok) {
            count("rejections");
            if (!PROPER.has(out.code)) expect({ ...context, ...answer }).toEqual({ ...context, ...answer, code: "a proper status" });
            if (predicted && "replayOf" in predicted) {
              // A used request id with a different request.
              expect(answer).toMatchObject({ code: Code.InvalidArgument, fields: ["request_id"] });
              count("request ids reused for another request");
            }
            if (out.code === Code.FailedPrecondition && out.errorInfo[0]?.reason === "OVERALLOCATED") {
              count("over-allocation refusals (REJECT)");
              expect(o.policy).toBe(OverallocationPolicy.REJECT);
              expect(Number(out.errorInfo[0].metadata.allocated_pct)).toBeGreaterThan(100);
            }
            // A refusal writes nothing, in any table.
            same(current, before);
            return;
          }
          if (predicted && "replayOf" in predicted) {
            // A request id already used, with the very same request: the first answer, and nothing written.
            expect(out.value).toEqual(predicted.replayOf);
            same(current, before);
            count("idempotent replays");
            return;
          }
          if (seen.rpc === "setCapacity") await acceptedSet(seen, req, id, out.value, before, current);
          else await acceptedTransition(seen, id, out.value, before, current);
        }),
        // The server's state carries from run to run, so a shrunk case would not replay: report the first failure as it happened.
        { numRuns: RUNS, endOnFailure: true },
      );

      // The tenant holds exactly the acknowledged records, as acknowledged.
      const listed = new Map<string, Capacity>();
      for (let pageToken = "", first = true; first || pageToken !== ""; first = false) {
        const page = ok(await client.call("listCapacities", { showDeleted: true, pageSize: 1000, pageToken }, token));
        for (const c of page.capacities) listed.set(c.id, c);
        pageToken = page.nextPageToken;
      }
      expect(listed).toEqual(model.records);
      expect(await countCapacities(server.db.knex, t)).toBe(model.records.size);
      client.close();

      // The generators must keep reaching accepted writes, not only refusals. Shares seen over 600 runs:
      // accepted creates and updates 0.35-0.42, creates 0.18-0.24, updates 0.15-0.22 (with a mask 0.08-0.14),
      // validate_only 0.06-0.10, REJECT refusals 0.02-0.05, rejections 0.41-0.47, replays 0.03-0.07.
      const n = tally.get("requests fuzzed");
      const share = (...names: string[]): number => names.reduce((s, name) => s + tally.get(name), 0) / n;
      const shares = {
        "accepted creates and updates": share("accepted creates", "accepted updates"),
        "accepted creates": share("accepted creates"),
        "accepted updates": share("accepted updates"),
        "accepted updates with a mask": share("accepted updates with a mask"),
        "validate_only checked": share("validate_only checked"),
        "over-allocation refusals (REJECT)": share("over-allocation refusals (REJECT)"),
        rejections: share("rejections"),
        "idempotent replays": share("idempotent replays"),
      };
      expect(tally.get("read-backs verified")).toBe(
        tally.get("accepted creates") + tally.get("accepted updates") + tally.get("accepted deletes, undeletes and confirms"),
      );
      if (RUNS >= RUNS_FOR_SHARES) {
        const floors: Record<keyof typeof shares, number> = {
          "accepted creates and updates": 0.3,
          "accepted creates": 0.1,
          "accepted updates": 0.1,
          "accepted updates with a mask": 0.04,
          "validate_only checked": 0.03,
          "over-allocation refusals (REJECT)": 0.005,
          rejections: 0.15,
          "idempotent replays": 0.01,
        };
        const below = Object.entries(floors).filter(([name, min]) => !(shares[name as keyof typeof shares] >= min));
        expect(below.map(([name, min]) => `${name}: ${shares[name as keyof typeof shares].toFixed(3)} < ${min}`)).toEqual([]);
      }
    },
  );

  it.each(["grpc-connect-node", "connect-json-http1", "rest-http1"] as const)("stores any accepted free text byte for byte over %s", async (kind) => {
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
        figures.add("read-backs verified");
      }),
      { numRuns: RUNS / 2 },
    );
    client.close();
  });
});
