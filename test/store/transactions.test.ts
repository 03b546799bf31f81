/**
 * How KnexCapacityStore.transaction retries, on each engine: a lost
 * request-id race (a typed error), deadlocks and a busy SQLite are run again
 * up to the attempt limit; everything else ends the transaction at once.
 */
import { describe, expect, it } from "vitest";
import { RequestIdTakenError } from "../../src/store/driver-errors.js";
import { KnexCapacityStore } from "../../src/store/knex-store.js";
import { MAX_ATTEMPTS } from "../../src/store/retry.js";
import { StoreUnavailableError, type CapacityWriter, type Scope } from "../../src/store/store.js";
import { ENGINES, type TestDatabase } from "../helpers/databases.js";
import { useTestStore } from "../helpers/store.js";
import { person, tenant } from "../helpers/ids.js";

/** An error as the driver would raise it, with its real code. */
function driverError(code: string): Error {
  return Object.assign(new Error(`simulated ${code}`), { code });
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

const save = (w: CapacityWriter, requestId: string, body: string) =>
  w.saveRequest({ requestId, fingerprint: body.padEnd(64, "0"), response: Buffer.from(body), createdAt: Date.now() });

describe.each(ENGINES)("KnexCapacityStore.transaction on %s", (engine) => {
  /** Cases only MariaDB can stage (row locks held by other connections): registered there only, never skipped. */
  const onMysql = engine === "mysql" ? it : undefined;
  let db: TestDatabase;
  let store: KnexCapacityStore;
  useTestStore(engine, (d, s) => ((db = d), (store = s)));

  const requestIds = async (tenantId: string): Promise<string[]> =>
    (await db.knex("capacity_requests").where("tenant_id", tenantId).orderBy("request_id").pluck("request_id")) as string[];

  it("turns a second save of one request id into RequestIdTakenError, runs the transaction again and keeps one record", async () => {
    const scope = { tenantId: tenant() };
    const requestId = "7d1c1a52-5d8e-4a4e-9a53-0d7c2b6e1f01";
    const seen: unknown[] = [];
    let attempts = 0;
    const result = await store.transaction(scope, async (w) => {
      attempts++;
      await save(w, requestId, "first");
      if (attempts === 1) {
        try {
          await save(w, requestId, "again");
        } catch (err) {
          seen.push(err);
          throw err;
        }
      }
      return "done";
    });
    expect(result).toBe("done");
    expect(attempts).toBe(2);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(RequestIdTakenError);
    expect(await requestIds(scope.tenantId)).toEqual([requestId]);
  });

  // SQLite cannot lose this race: begin() takes the single write lock before findRequest.
  onMysql?.("loses a real request-id race to another connection, then replays the winner's record on the retry", async () => {
    const scope = { tenantId: tenant(), appId: "crm" };
    const requestId = "0e5d4b8a-2f1c-4c3b-8a9d-6e7f5a4b3c21";
    const seen: unknown[] = [];
    let attempts = 0;
    const result = await store.transaction(scope, async (w) => {
      attempts++;
      const prior = await w.findRequest(requestId);
      if (prior) return `replayed ${Buffer.from(prior.response).toString()}`;
      if (attempts === 1) {
        // The competitor commits between our check and our insert (its own connection, autocommit).
        await db.knex("capacity_requests").insert({
          tenant_id: scope.tenantId,
          app_id: "crm",
          request_id: requestId,
          fingerprint: "w".repeat(64),
          response: Buffer.from("winner"),
          created_at: Date.now(),
        });
      }
      try {
        await save(w, requestId, "loser");
      } catch (err) {
        seen.push(err);
        throw err;
      }
      return "saved";
    });
    expect(result).toBe("replayed winner");
    expect(attempts).toBe(2);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(RequestIdTakenError);
    expect(await requestIds(scope.tenantId)).toEqual([requestId]);
  });

  for (const code of ["ER_LOCK_DEADLOCK", "SQLITE_BUSY"]) {
    it(`runs the work again after ${code} on its first attempt, and commits only the second attempt`, async () => {
      const scope = { tenantId: tenant() };
      let attempts = 0;
      const result = await store.transaction(scope, async (w) => {
        attempts++;
        await save(w, `00000000-0000-4000-8000-00000000000${attempts}`, `attempt ${attempts}`);
        if (attempts === 1) throw driverError(code);
        return attempts;
      });
      expect(result).toBe(2);
      expect(attempts).toBe(2);
      // The first attempt's write was rolled back.
      expect(await requestIds(scope.tenantId)).toEqual(["00000000-0000-4000-8000-000000000002"]);
    });
  }

  it("does not retry other errors: a plain error, a raw duplicate key, a lock-wait timeout, the retired ER_DUP_ENTRY_REQUEST code", async () => {
    for (const error of [new Error("boom"), driverError("ER_DUP_ENTRY"), driverError("ER_LOCK_WAIT_TIMEOUT"), driverError("ER_DUP_ENTRY_REQUEST")]) {
      const scope = { tenantId: tenant() };
      let attempts = 0;
      await expect(
        store.transaction(scope, async (w) => {
          attempts++;
          await save(w, "11111111-1111-4111-8111-111111111111", "x");
          throw error;
        }),
      ).rejects.toBe(error);
      expect(attempts).toBe(1);
      expect(await requestIds(scope.tenantId)).toEqual([]);
    }
  });

  it(`gives up after ${MAX_ATTEMPTS} attempts: a deadlock reaches the caller as itself, a busy SQLite as StoreUnavailableError`, async () => {
    let attempts = 0;
    const deadlock = driverError("ER_LOCK_DEADLOCK");
    await expect(
      store.transaction({ tenantId: tenant() }, () => {
        attempts++;
        return Promise.reject(deadlock);
      }),
    ).rejects.toBe(deadlock);
    expect(attempts).toBe(MAX_ATTEMPTS);

    attempts = 0;
    const busy = driverError("SQLITE_BUSY");
    const err = await store
      .transaction({ tenantId: tenant() }, () => {
        attempts++;
        return Promise.reject(busy);
      })
      .catch((e: unknown) => e);
    expect(attempts).toBe(MAX_ATTEMPTS);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).cause).toBe(busy);
  });

  // SQLite has one writer at a time (begin() takes its lock), so it cannot deadlock.
  onMysql?.("survives a real deadlock: two writers lock two persons in opposite order, the victim is retried, both commit", async () => {
    const scope: Scope = { tenantId: tenant() };
    const [a, b] = [person(), person()];
    await store.transaction(scope, async (w) => {
      await w.lockPerson(a);
      await w.lockPerson(b);
    });
    const holding = [signal(), signal()];
    const both = Promise.all(holding.map((s) => s.promise));
    const attempts = [0, 0];
    const deadlocks: unknown[] = [];
    const writer = (k: 0 | 1, first: string, second: string) =>
      store.transaction(scope, async (w) => {
        attempts[k]!++;
        await w.lockPerson(first);
        if (attempts[k] === 1) {
          // Each holds its first row before either asks for its second: a lock cycle.
          holding[k]!.fire();
          await both;
        }
        try {
          await w.lockPerson(second);
        } catch (err) {
          deadlocks.push((err as { code?: unknown }).code);
          throw err;
        }
      });
    await Promise.all([writer(0, a, b), writer(1, b, a)]);
    expect(deadlocks).toEqual(["ER_LOCK_DEADLOCK"]);
    expect([...attempts].sort()).toEqual([1, 2]);
    const revisions = await db.knex("capacity_persons").where("tenant_id", scope.tenantId).orderBy("person_id").pluck("revision");
    // Created at 1, then one increment per committed writer.
    expect(revisions.map(Number)).toEqual([3, 3]);
  });
});
