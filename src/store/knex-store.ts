/**
 * The queries: `KnexCapacityStore` (reads, the transaction around writes, the
 * purge of expired request ids) and `KnexWriter` (the writes inside one
 * transaction), for MySQL (mysql2) and SQLite (better-sqlite3). Every
 * statement names the tenant. Row shapes are in rows.ts, the meaning of
 * driver errors in driver-errors.ts, retries in retry.ts, per-query deadlines
 * in deadline.ts, and when purges run in request-purge.ts.
 */
import type { Knex } from "knex";
import type { Allocation } from "../domain/availability.js";
import type { CapacityRecord } from "../domain/capacity.js";
import { dialectOf, type Dialect } from "./dialect.js";
import { tables, within, type Tables } from "./deadline.js";
import { describeFailure, guard } from "./driver-errors.js";
import { findRequest, lockPerson, runTransaction, saveRequest } from "./knex-shared.js";
import { DEFAULT_PURGE_BATCH, positiveInteger, PurgeSchedule, type RequestPurgeOptions } from "./request-purge.js";
import {
  ALLOCATION_COLUMNS,
  CAPACITIES,
  GET_APP_SQL,
  GET_SQL,
  REQUESTS,
  toAllocation,
  toRecord,
  toRecords,
  toRow,
  type AllocationRow,
  type CapacityRow,
  type RequestRow,
} from "./rows.js";
import type { AllocationPage, CapacityStore, CapacityWriter, ListQuery, PersonAllocation, Scope, StoredRequest } from "./store.js";
import type { DateWindow } from "../domain/dates.js";

/** Idempotency records are kept this long (the contract promises 24 hours). */
const REQUEST_RETENTION_MS = 48 * 3600_000;
/** Time each purge batch (its select and its delete) may take: the purge belongs to no call, so it gets its own bound. */
const PURGE_STATEMENT_MS = 10_000;

/** The tenant predicate, and the app predicate for app-scoped callers. */
function scoped(query: Knex.QueryBuilder, scope: Scope): Knex.QueryBuilder {
  query.where("tenant_id", scope.tenantId);
  if (scope.appId !== undefined) query.andWhere("app_id", scope.appId);
  return query;
}

/** Live allocations overlapping the window. */
function overlapping(query: Knex.QueryBuilder, window: DateWindow): Knex.QueryBuilder {
  return query.andWhere("is_deleted", false).andWhere("period_start", "<=", window.end).andWhere("period_end", ">=", window.start);
}

class KnexWriter implements CapacityWriter {
  private readonly table: Tables;
  /** Whether this transaction saved a request id (its tenant is then due a purge after commit). */
  savedRequests = false;

  constructor(
    private readonly trx: Knex.Transaction,
    private readonly scope: Scope,
    private readonly dialect: Dialect,
  ) {
    this.table = tables(trx, scope, dialect);
  }

  async getForUpdate(id: string): Promise<CapacityRecord | undefined> {
    const query = scoped(this.table(CAPACITIES).select("*"), this.scope).andWhere("id", id);
    // SQLite transactions here are already exclusive writers (see begin()).
    if (this.dialect === "mysql") query.forUpdate();
    const row = (await query.first()) as CapacityRow | undefined;
    return row && toRecord(row);
  }

  async insert(record: CapacityRecord): Promise<void> {
    this.assertTenant(record);
    await this.table(CAPACITIES).insert(toRow(record));
  }

  async update(record: CapacityRecord, expectedEtag: string): Promise<void> {
    this.assertTenant(record);
    const { tenant_id: _tenant, id: _id, ...changes } = toRow(record);
    const count = await scoped(this.table(CAPACITIES), this.scope).andWhere({ id: record.id, etag: expectedEtag }).update(changes);
    if (count !== 1) throw new Error(`update of ${record.id} matched ${count} rows`);
  }

  findRequest(requestId: string): Promise<StoredRequest | undefined> {
    return findRequest(this.table, this.scope, requestId);
  }

  async saveRequest(request: StoredRequest): Promise<void> {
    await saveRequest(this.table, this.scope, request);
    this.savedRequests = true;
  }

  lockPerson(personId: string): Promise<void> {
    return lockPerson(this.table, this.trx, this.scope.tenantId, personId);
  }

  async allocationsForUpdate(personId: string, window: DateWindow): Promise<Allocation[]> {
    // Scoped like every read: an app-scoped caller sees (and counts) only its app's records.
    const query = overlapping(scoped(this.table(CAPACITIES).select(ALLOCATION_COLUMNS), this.scope).andWhere("person_id", personId), window);
    if (this.dialect === "mysql") query.forUpdate();
    return ((await query) as AllocationRow[]).map(toAllocation);
  }

  /** A record can only be written into the scope the writer was opened for. */
  private assertTenant(record: CapacityRecord): void {
    if (record.tenantId !== this.scope.tenantId) throw new Error("record written outside its tenant");
  }
}

/** Options of `KnexCapacityStore`; all optional. */
export interface KnexStoreOptions {
  /** When the background purge of expired request ids runs (see request-purge.ts). */
  requestPurge?: RequestPurgeOptions;
  /**
   * Told about a background purge that failed, with facts safe to log (tenant,
   * error name and driver code; no SQL). Default: dropped.
   */
  warn?: (facts: Record<string, unknown>, message: string) => void;
}

/** What `purgeExpiredRequests` may be told. */
export interface PurgeRequestsOptions {
  /** The time the retention counts back from (default: now). */
  now?: number;
  /** Rows per delete statement (default: the store's `requestPurge.batchSize`). */
  batchSize?: number;
  /** Asked between batches; true ends the purge early (the store is closing). */
  shouldStop?: () => boolean;
}

/** CapacityStore on Knex, for MySQL (mysql2) and SQLite (better-sqlite3). */
export class KnexCapacityStore implements CapacityStore {
  private readonly dialect: Dialect;
  private readonly purges: PurgeSchedule;
  private readonly purgeBatch: number;

  constructor(
    private readonly knex: Knex,
    options: KnexStoreOptions = {},
  ) {
    this.dialect = dialectOf(knex);
    this.purgeBatch = positiveInteger(options.requestPurge?.batchSize ?? DEFAULT_PURGE_BATCH, "batchSize");
    const warn = options.warn ?? (() => {});
    this.purges = new PurgeSchedule(
      (tenantId, shouldStop) => this.purgeExpiredRequests(tenantId, { shouldStop }),
      options.requestPurge ?? {},
      (tenantId, err) => warn({ tenant: tenantId, ...describeFailure(err) }, "purge of expired request ids failed"),
    );
  }

  get(scope: Scope, id: string): Promise<CapacityRecord | undefined> {
    return guard(async () => {
      // The hottest read: constant SQL text, no query-builder compilation per call.
      const sql = scope.appId === undefined ? GET_SQL : GET_APP_SQL;
      const bindings = scope.appId === undefined ? [scope.tenantId, id] : [scope.tenantId, id, scope.appId];
      const result = (await within(this.knex.raw(sql, bindings), scope, this.dialect)) as unknown;
      // mysql2 answers [rows, fields]; better-sqlite3 answers rows.
      const rows = (this.dialect === "mysql" ? (result as [CapacityRow[]])[0] : result) as CapacityRow[];
      return rows[0] && toRecord(rows[0]);
    });
  }

  list(scope: Scope, q: ListQuery): Promise<CapacityRecord[]> {
    return guard(async () => {
      const table = tables(this.knex, scope, this.dialect);
      const query = scoped(table(CAPACITIES).select("*"), scope);
      if (q.personId !== undefined) query.andWhere("person_id", q.personId);
      if (q.projectId !== undefined) query.andWhere("project_id", q.projectId);
      if (q.periodFrom !== undefined) query.andWhere("period_end", ">=", q.periodFrom);
      if (q.periodTo !== undefined) query.andWhere("period_start", "<=", q.periodTo);
      if (q.confirmed === true) query.whereNotNull("confirmed_at");
      if (q.confirmed === false) query.whereNull("confirmed_at");
      if (!q.showDeleted) query.andWhere("is_deleted", false);
      const after = q.after;
      if (after !== undefined) {
        // The expanded form uses the (…, period_start, id) indexes on MySQL.
        query.andWhere((w) => {
          void w.where("period_start", ">", after.periodStart).orWhere((w2) => {
            void w2.where("period_start", after.periodStart).andWhere("id", ">", after.id);
          });
        });
      }
      const rows = (await query.orderBy([{ column: "period_start" }, { column: "id" }]).limit(q.limit)) as CapacityRow[];
      return toRecords(rows);
    });
  }

  allocations(scope: Scope, personIds: readonly string[], window: DateWindow, confirmedOnly: boolean, page?: AllocationPage): Promise<PersonAllocation[]> {
    return guard(async () => {
      const table = tables(this.knex, scope, this.dialect);
      const query = overlapping(scoped(table(CAPACITIES).select(ALLOCATION_COLUMNS), scope).whereIn("person_id", personIds), window);
      if (confirmedOnly) query.whereNotNull("confirmed_at");
      const after = page?.after;
      if (after !== undefined) {
        // Expanded keyset form: it lets MySQL use the (tenant_id, person_id, period_start, id) index.
        query.andWhere((w) => {
          void w.where("person_id", ">", after.personId).orWhere((p) => {
            void p.where("person_id", after.personId).andWhere((d) => {
              void d.where("period_start", ">", after.periodStart).orWhere((i) => {
                void i.where("period_start", after.periodStart).andWhere("id", ">", after.id);
              });
            });
          });
        });
      }
      if (page !== undefined) query.orderBy([{ column: "person_id" }, { column: "period_start" }, { column: "id" }]).limit(page.limit);
      return ((await query) as AllocationRow[]).map(toAllocation);
    });
  }

  transaction<T>(scope: Scope, work: (writer: CapacityWriter) => Promise<T>): Promise<T> {
    return runTransaction<KnexWriter, T>(
      this.knex,
      this.dialect,
      scope,
      (trx) => new KnexWriter(trx, scope, this.dialect),
      work,
      (tenantId) => this.requestsSaved(tenantId),
    );
  }

  /**
   * A transaction that saved request ids of this tenant has committed (here
   * or in another store on the same database): its expired ids may be due a
   * purge, which runs off the caller's path.
   */
  requestsSaved(tenantId: string): void {
    this.purges.saved(tenantId);
  }

  /**
   * Deletes this tenant's idempotency records older than the retention (48 h
   * before `now`), oldest first, at most `batchSize` rows per statement, each
   * statement on its own (no long transaction, no long-held locks). Every
   * statement names the tenant: no purge reaches across tenants. Resolves to
   * the number of rows deleted. The store runs it in the background after
   * commits that saved request ids; it may also be called directly.
   */
  purgeExpiredRequests(tenantId: string, options: PurgeRequestsOptions = {}): Promise<number> {
    return guard(async () => {
      const cutoff = (options.now ?? Date.now()) - REQUEST_RETENTION_MS;
      const batchSize = positiveInteger(options.batchSize ?? this.purgeBatch, "batchSize");
      let deleted = 0;
      for (;;) {
        const table = tables(this.knex, { tenantId, deadline: Date.now() + PURGE_STATEMENT_MS }, this.dialect);
        const expired = (await table(REQUESTS)
          .select("app_id", "request_id")
          .where("tenant_id", tenantId)
          .andWhere("created_at", "<", cutoff)
          .orderBy("created_at")
          .limit(batchSize)) as Array<Pick<RequestRow, "app_id" | "request_id">>;
        if (expired.length === 0) break;
        // By key, and still only if expired: an id saved anew since the select stays.
        deleted += await table(REQUESTS)
          .where("tenant_id", tenantId)
          .andWhere("created_at", "<", cutoff)
          .whereIn(
            ["app_id", "request_id"],
            expired.map((r) => [r.app_id, r.request_id]),
          )
          .delete();
        if (expired.length < batchSize || options.shouldStop?.() === true) break;
      }
      return deleted;
    });
  }

  /** Resolves once no background purge is due or running (for tests and orderly shutdown). */
  purgesIdle(): Promise<void> {
    return this.purges.idle();
  }

  ping(): Promise<void> {
    return guard(async () => {
      await this.knex.raw("select 1");
    });
  }

  /** Stops the background purge (after its current batch), then closes the pool. */
  async close(): Promise<void> {
    await this.purges.stop();
    await this.knex.destroy();
  }
}
