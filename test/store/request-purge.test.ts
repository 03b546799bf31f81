/**
 * Expired request ids: the tenant-scoped purge on each engine, the
 * background run after a commit, its failures and its stop on close(); and
 * the schedule's own rules (interval, bounded memory) without a database.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { KnexCapacityStore, type KnexStoreOptions } from "../../src/store/knex-store.js";
import { PurgeSchedule } from "../../src/store/request-purge.js";
import type { Scope } from "../../src/store/store.js";
import { ENGINES, migratedDatabase, type TestDatabase } from "../helpers/databases.js";
import { tenant } from "../helpers/ids.js";

const HOUR = 3600_000;
let serial = 0;
/** A request id no other row has. */
const requestId = (): string => `00000000-0000-4000-8000-${String(++serial).padStart(12, "0")}`;

describe.each(ENGINES)("purging expired request ids on %s", (engine) => {
  let db: TestDatabase;
  const stores: KnexCapacityStore[] = [];
  beforeAll(async () => {
    db = await migratedDatabase(engine);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await db.knex.destroy();
  });

  /** A store on its own pool over the test's database, so closing it leaves the test's connection open. */
  const openStore = (options?: KnexStoreOptions): KnexCapacityStore => {
    const knex = openDatabase({ url: db.url, dataDir: db.dataDir, ...(db.sqliteFile !== undefined && { sqliteFile: db.sqliteFile }) });
    const store = new KnexCapacityStore(knex, options);
    stores.push(store);
    return store;
  };

  /** Idempotency rows written straight into the table, `ageMs` old. */
  const insertRequests = async (tenantId: string, ageMs: number, count: number, appId = ""): Promise<void> => {
    const now = Date.now();
    const rows = Array.from({ length: count }, () => ({
      tenant_id: tenantId,
      app_id: appId,
      request_id: requestId(),
      fingerprint: "f".repeat(64),
      response: Buffer.from("r"),
      created_at: now - ageMs,
    }));
    await db.knex.batchInsert("capacity_requests", rows, 100);
  };

  const ages = async (tenantId: string): Promise<number[]> => {
    const rows = (await db.knex("capacity_requests").where("tenant_id", tenantId).pluck("created_at")) as Array<number | string>;
    return rows.map((c) => Math.round((Date.now() - Number(c)) / HOUR)).sort((x, y) => x - y);
  };

  /** Saves one request id in a committed transaction, as SetCapacity does. */
  const saveOne = (store: KnexCapacityStore, scope: Scope): Promise<void> =>
    store.transaction(scope, (w) => w.saveRequest({ requestId: requestId(), fingerprint: "f".repeat(64), response: Buffer.from("r"), createdAt: Date.now() }));

  it("deletes only the tenant's ids older than 48 h, across its apps, in bounded batches that each name the tenant", async () => {
    const store = openStore();
    const [mine, other] = [tenant(), tenant()];
    await insertRequests(mine, 49 * HOUR, 4);
    await insertRequests(mine, 100 * HOUR, 3, "crm");
    await insertRequests(mine, 47 * HOUR, 2);
    await insertRequests(mine, 1 * HOUR, 1, "crm");
    await insertRequests(other, 49 * HOUR, 3);
    const statements: string[] = [];
    const knex = (store as unknown as { knex: { on: (e: string, f: (q: { sql: string }) => void) => void } }).knex;
    knex.on("query", (q) => statements.push(q.sql));

    expect(await store.purgeExpiredRequests(mine, { batchSize: 3 })).toBe(7);

    expect(await ages(mine)).toEqual([1, 47, 47]);
    expect(await ages(other)).toEqual([49, 49, 49]);
    // 3 + 3 + 1 rows: three selects and three deletes, each with the tenant predicate.
    expect(statements.filter((s) => /^delete/i.test(s))).toHaveLength(3);
    expect(statements).toHaveLength(6);
    for (const sql of statements) expect(sql).toMatch(/[`"]tenant_id[`"]\s*=\s*\?/);
    expect(await store.purgeExpiredRequests(mine)).toBe(0);
  });

  it("refuses a batch size that is not a positive integer", async () => {
    const store = openStore();
    await expect(store.purgeExpiredRequests(tenant(), { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
    expect(() => new KnexCapacityStore(db.knex, { requestPurge: { intervalMs: -1 } })).toThrow(/intervalMs must be a positive integer/);
    expect(() => new KnexCapacityStore(db.knex, { requestPurge: { batchSize: 2.5 } })).toThrow(/batchSize must be a positive integer/);
  });

  it("purges in the background after a commit that saved a request id, at most once per interval per tenant", async () => {
    const store = openStore({ requestPurge: { intervalMs: 10 * 60_000 } });
    const [mine, other] = [tenant(), tenant()];
    await insertRequests(mine, 49 * HOUR, 2);
    await insertRequests(other, 49 * HOUR, 1);

    await saveOne(store, { tenantId: mine, appId: "crm" });
    await store.purgesIdle();
    expect(await ages(mine)).toEqual([0]);
    expect(await ages(other)).toEqual([49]);

    // Within the interval: a new expired row survives the next save.
    await insertRequests(mine, 49 * HOUR, 1);
    await saveOne(store, { tenantId: mine });
    await store.purgesIdle();
    expect(await ages(mine)).toEqual([0, 0, 49]);

    // A commit that saved no request id schedules nothing, even past the interval.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 11 * 60_000 });
    await store.transaction({ tenantId: mine }, (w) => w.lockPerson("per_01M8FMTT425T0SWT9WYGC66PKF"));
    await store.purgesIdle();
    expect((await ages(mine)).filter((h) => h >= 48)).toHaveLength(1);

    // Past the interval, the next save purges again.
    await saveOne(store, { tenantId: mine });
    await store.purgesIdle();
    expect((await ages(mine)).filter((h) => h >= 48)).toHaveLength(0);
    expect(await ages(other)).toEqual([49]);
  });

  it("keeps a failing purge away from the caller and the process, and reports it without SQL", async () => {
    const warnings: Array<{ facts: Record<string, unknown>; message: string }> = [];
    const store = openStore({ warn: (facts, message) => warnings.push({ facts, message }) });
    const mine = tenant();
    const trigger = `purge_refused_${mine.replace(/-/g, "_")}`;
    // A trigger that refuses deletes of this tenant's rows only.
    if (engine === "mysql") {
      await db.knex.raw(
        `create trigger ${trigger} before delete on capacity_requests for each row begin ` +
          `if old.tenant_id = '${mine}' then signal sqlstate '45000' set message_text = 'purge refused'; end if; end`,
      );
    } else {
      await db.knex.raw(
        `create trigger ${trigger} before delete on capacity_requests when old.tenant_id = '${mine}' begin select raise(abort, 'purge refused'); end`,
      );
    }
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await insertRequests(mine, 49 * HOUR, 2);
      await expect(saveOne(store, { tenantId: mine })).resolves.toBeUndefined();
      await store.purgesIdle();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toBe("purge of expired request ids failed");
      expect(warnings[0]!.facts).toEqual({
        tenant: mine,
        name: engine === "mysql" ? "Error" : "SqliteError",
        code: engine === "mysql" ? "ER_SIGNAL_EXCEPTION" : "SQLITE_CONSTRAINT_TRIGGER",
      });
      expect(JSON.stringify(warnings)).not.toMatch(/delete|capacity_requests/i);
      expect(await ages(mine)).toEqual([0, 49, 49]);
      // The store still works.
      await expect(saveOne(store, { tenantId: tenant() })).resolves.toBeUndefined();
      await store.purgesIdle();
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await db.knex.raw(`drop trigger ${trigger}`);
    }
  });

  it("close() stops a running purge after its current batch and waits for it", async () => {
    const warnings: unknown[] = [];
    const store = openStore({ requestPurge: { batchSize: 5 }, warn: (facts) => warnings.push(facts) });
    const mine = tenant();
    await insertRequests(mine, 49 * HOUR, 20);
    const knex = (store as unknown as { knex: { on: (e: string, f: (q: { sql: string }) => void) => void } }).knex;
    let closed: Promise<void> | undefined;
    // Close while the first delete is on its way to the database.
    knex.on("query", (q) => {
      if (closed === undefined && /^delete/i.test(q.sql)) closed = store.close();
    });
    await saveOne(store, { tenantId: mine });
    await store.purgesIdle();
    expect(closed).toBeDefined();
    await closed;
    expect((await ages(mine)).filter((h) => h >= 48)).toHaveLength(15);
    expect(warnings).toEqual([]);
  });
});

describe("PurgeSchedule", () => {
  /** A schedule over a fake purge that records the tenants it was asked to purge. */
  const schedule = (options: { intervalMs?: number; maxTenants?: number }, fail?: (tenantId: string) => boolean) => {
    const purged: string[] = [];
    const failures: string[] = [];
    const s = new PurgeSchedule(
      (tenantId) => {
        purged.push(tenantId);
        return fail?.(tenantId) ? Promise.reject(new Error(`cannot purge ${tenantId}`)) : Promise.resolve();
      },
      options,
      (tenantId) => {
        failures.push(tenantId);
        throw new Error("a reporter that fails too");
      },
    );
    return { s, purged, failures };
  };

  it("purges each tenant once per interval, one after another, after the caller has moved on", async () => {
    const { s, purged } = schedule({ intervalMs: 60_000 });
    s.saved("a");
    s.saved("b");
    s.saved("a");
    expect(purged).toEqual([]);
    await s.idle();
    expect(purged).toEqual(["a", "b"]);
    s.saved("a");
    await s.idle();
    expect(purged).toEqual(["a", "b"]);
  });

  it("remembers at most maxTenants tenants: the least recently purged is forgotten first", async () => {
    const { s, purged } = schedule({ intervalMs: 60_000, maxTenants: 2 });
    for (const t of ["a", "b", "c"]) {
      s.saved(t);
      await s.idle();
    }
    // "a" was forgotten to make room for "c"; "b" and "c" are still within their interval.
    s.saved("c");
    s.saved("b");
    s.saved("a");
    await s.idle();
    expect(purged).toEqual(["a", "b", "c", "a"]);
  });

  it("reports a failed purge, keeps going with the next tenant, and never rejects", async () => {
    const { s, purged, failures } = schedule({}, (t) => t === "bad");
    s.saved("bad");
    s.saved("good");
    await expect(s.idle()).resolves.toBeUndefined();
    expect(purged).toEqual(["bad", "good"]);
    expect(failures).toEqual(["bad"]);
  });

  it("after stop() queues nothing and drops what was due", async () => {
    const { s, purged } = schedule({});
    s.saved("a");
    await s.stop();
    s.saved("b");
    await s.idle();
    expect(purged).toEqual([]);
  });
});
