/** Request ids over a real store (SQLite): the fingerprint's recipe, replay, reuse for another request, and no-ops without an id. */
import { createHash } from "node:crypto";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/domain/errors.js";
import { CapacitySchema, OverallocationPolicy, SetCapacityRequestSchema, type SetCapacityRequest } from "../../src/gen/work/v1/capacity_pb.js";
import { idempotentWrite, requestFingerprint } from "../../src/service/idempotency.js";
import { migrate } from "../../src/store/database.js";
import { KnexCapacityStore } from "../../src/store/knex-store.js";
import { testDatabase, type TestDatabase } from "../helpers/databases.js";
import { tenant } from "../helpers/ids.js";

const CALLER = { tenantId: "acme", appId: "crm", personId: "per_01M8FMTT425T0SWT9WYGC66PKA" };
const request = (over: { requestId?: string; validateOnly?: boolean; overallocationPolicy?: OverallocationPolicy } = {}): SetCapacityRequest =>
  create(SetCapacityRequestSchema, {
    capacity: {
      personId: "per_01M8FMTT425T0SWT9WYGC66PKF",
      projectId: "prj_01M8FMTT425T0SWT9WYGC66PKG",
      periodStart: "2027-01-01",
      periodEnd: "2027-01-31",
      allocatedPct: 40,
    },
    requestId: "6F9619FF-8B86-D011-B42D-00C04FC964FF",
    overallocationPolicy: OverallocationPolicy.REJECT,
    ...over,
  });
const answer = create(CapacitySchema, { id: "cap_01M8FMTT425T0SWT9WYGC66PKF", tenantId: "acme", allocatedPct: 40, etag: "e1" });

describe("requestFingerprint", () => {
  it("keeps its recipe: fingerprints stored before a deploy still match after it", () => {
    // The values of the first recipe for a lower-case id; an id in capitals now hashes as its lower case.
    const lower = request({ requestId: "6f9619ff-8b86-d011-b42d-00c04fc964ff" });
    expect(requestFingerprint(CALLER, lower)).toBe("79132b67192088f502962f9eaf03b786dda4377af02b968a66a1960df7c8fc7c");
    expect(requestFingerprint({ ...CALLER, appId: undefined }, lower)).toBe("7d39d5e87b3389b2e104f0cb54a93e2bc546ae44a8e4ca397e1f0a1011ff55e7");
    expect(requestFingerprint(CALLER, request())).toBe(requestFingerprint(CALLER, lower));
  });
  it("changes with the caller and with any byte of the request", () => {
    const base = requestFingerprint(CALLER, request());
    expect(requestFingerprint({ ...CALLER, personId: "per_01M8FMTT425T0SWT9WYGC66PKB" }, request())).not.toBe(base);
    expect(requestFingerprint({ ...CALLER, tenantId: "other" }, request())).not.toBe(base);
    expect(requestFingerprint(CALLER, request({ validateOnly: true }))).not.toBe(base);
  });
});

describe("idempotentWrite on SQLite", () => {
  let db: TestDatabase;
  let store: KnexCapacityStore;
  beforeAll(async () => {
    db = testDatabase("sqlite");
    await migrate(db.knex);
    store = new KnexCapacityStore(db.knex);
  });
  afterAll(async () => {
    await store.close();
  });

  it("replays the saved answer for the same request, whatever the case of its id; the id is kept in lower case", async () => {
    const scope = { tenantId: tenant() };
    const caller = { ...CALLER, tenantId: scope.tenantId, appId: undefined };
    const first = idempotentWrite(caller, request());
    expect(await store.transaction(scope, (w) => first.replay(w))).toBeUndefined();
    await store.transaction(scope, (w) => first.save(w, answer, 1_800_000_000_000));
    const retry = idempotentWrite(caller, request({ requestId: "6f9619ff-8b86-d011-b42d-00c04fc964ff" }));
    // The same UUID in lower case is the same id and the same request: replayed.
    const lower = await store.transaction(scope, (w) => retry.replay(w));
    expect(lower && equals(CapacitySchema, lower, answer)).toBe(true);
    const same = await store.transaction(scope, (w) => idempotentWrite(caller, request()).replay(w));
    expect(same && equals(CapacitySchema, same, answer)).toBe(true);
    const rows = await db.knex("capacity_requests").where({ tenant_id: scope.tenantId }).select("request_id");
    expect(rows).toEqual([{ request_id: "6f9619ff-8b86-d011-b42d-00c04fc964ff" }]);
  });

  it("still replays a result stored by the first recipe, which hashed an id in capitals as sent", async () => {
    const scope = { tenantId: tenant() };
    const caller = { ...CALLER, tenantId: scope.tenantId, appId: undefined };
    const sent = request(); // its id is in capitals
    const firstRecipe = createHash("sha256")
      .update(JSON.stringify([caller.tenantId, null, caller.personId]))
      .update(toBinary(SetCapacityRequestSchema, sent))
      .digest("hex");
    expect(firstRecipe).not.toBe(requestFingerprint(caller, sent));
    await store.transaction(scope, (w) =>
      w.saveRequest({ requestId: sent.requestId.toLowerCase(), fingerprint: firstRecipe, response: toBinary(CapacitySchema, answer), createdAt: Date.now() }),
    );
    const replayed = await store.transaction(scope, (w) => idempotentWrite(caller, sent).replay(w));
    expect(replayed && equals(CapacitySchema, replayed, answer)).toBe(true);
    // Another request under that id is still refused.
    await expect(store.transaction(scope, (w) => idempotentWrite(caller, request({ validateOnly: true })).replay(w))).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it("refuses the id for a different request or another caller, on request_id", async () => {
    const scope = { tenantId: tenant() };
    const caller = { ...CALLER, tenantId: scope.tenantId, appId: undefined };
    await store.transaction(scope, (w) => idempotentWrite(caller, request()).save(w, answer, 1_800_000_000_000));
    for (const [who, req] of [
      [caller, request({ overallocationPolicy: OverallocationPolicy.ALLOW })],
      [{ ...caller, personId: "per_01M8FMTT425T0SWT9WYGC66PKB" }, request()],
    ] as const) {
      const err = await store.transaction(scope, (w) => idempotentWrite(who, req).replay(w)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).violations).toEqual([
        { field: "request_id", description: "was already used for a different request; use a new UUID" },
      ]);
    }
  });

  it("does nothing without a request id", async () => {
    const scope = { tenantId: tenant() };
    const none = idempotentWrite({ ...CALLER, tenantId: scope.tenantId }, request({ requestId: "" }));
    await store.transaction(scope, async (w) => {
      expect(await none.replay(w)).toBeUndefined();
      await none.save(w, answer, 1_800_000_000_000);
    });
    expect(await db.knex("capacity_requests").where({ tenant_id: scope.tenantId }).count({ n: "*" })).toEqual([{ n: 0 }]);
  });
});
