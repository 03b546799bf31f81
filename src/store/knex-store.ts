import type { Knex } from "knex";
import type { Allocation } from "../domain/availability.js";
import type { CapacityRecord } from "../domain/capacity.js";
import { DeadlineExceededError } from "../domain/errors.js";
import { dialectOf, type Dialect } from "./database.js";
import {
  StoreUnavailableError,
  type AllocationPage,
  type CapacityStore,
  type CapacityWriter,
  type ListQuery,
  type PersonAllocation,
  type Scope,
  type StoredRequest,
  type Window,
} from "./store.js";

/** A row of `capacities`, as both drivers return it. */
interface CapacityRow {
  tenant_id: string;
  id: string;
  app_id: string;
  created_at: number | string;
  updated_at: number | string;
  created_by: string;
  updated_by: string;
  source: string;
  source_type: number;
  is_deleted: number | boolean;
  deleted_at: number | string | null;
  deleted_by: string;
  schema_version: number;
  person_id: string;
  project_id: string;
  period_start: string;
  period_end: string;
  allocated_bp: number;
  confirmed_by_id: string;
  confirmed_at: number | string | null;
  notes: string;
  etag: string;
}

interface RequestRow {
  tenant_id: string;
  app_id: string;
  request_id: string;
  fingerprint: string;
  response: Buffer;
  created_at: number | string;
}

const CAPACITIES = "capacities";
const REQUESTS = "capacity_requests";
const PERSONS = "capacity_persons";
const GET_SQL = "select * from `capacities` where `tenant_id` = ? and `id` = ? limit 1";
const GET_APP_SQL = "select * from `capacities` where `tenant_id` = ? and `id` = ? and `app_id` = ? limit 1";
/** The columns availability needs. */
const ALLOCATION_COLUMNS = ["id", "person_id", "period_start", "period_end", "allocated_bp"];

interface AllocationRow {
  id: string;
  person_id: string;
  period_start: string;
  period_end: string;
  allocated_bp: number;
}

function toAllocation(row: AllocationRow): PersonAllocation {
  return {
    id: row.id,
    personId: row.person_id,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    allocatedBp: Number(row.allocated_bp),
  };
}

/** Live allocations overlapping the window. */
function overlapping(query: Knex.QueryBuilder, window: Window): Knex.QueryBuilder {
  return query.andWhere("is_deleted", false).andWhere("period_start", "<=", window.end).andWhere("period_end", ">=", window.start);
}
/** Idempotency records are kept this long (the contract promises 24 hours). */
const REQUEST_RETENTION_MS = 48 * 3600_000;
const MAX_ATTEMPTS = 8;

function toRecord(row: CapacityRow): CapacityRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    appId: row.app_id,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    createdBy: row.created_by,
    updatedBy: row.updated_by,
    source: row.source,
    sourceType: Number(row.source_type),
    isDeleted: Boolean(row.is_deleted),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
    deletedBy: row.deleted_by,
    schemaVersion: Number(row.schema_version),
    personId: row.person_id,
    projectId: row.project_id,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    allocatedBp: Number(row.allocated_bp),
    confirmedById: row.confirmed_by_id,
    confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at),
    notes: row.notes,
    etag: row.etag,
  };
}

function toRow(record: CapacityRecord): CapacityRow {
  return {
    tenant_id: record.tenantId,
    id: record.id,
    app_id: record.appId,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    created_by: record.createdBy,
    updated_by: record.updatedBy,
    source: record.source,
    source_type: record.sourceType,
    is_deleted: record.isDeleted,
    deleted_at: record.deletedAt,
    deleted_by: record.deletedBy,
    schema_version: record.schemaVersion,
    person_id: record.personId,
    project_id: record.projectId,
    period_start: record.periodStart,
    period_end: record.periodEnd,
    allocated_bp: record.allocatedBp,
    confirmed_by_id: record.confirmedById,
    confirmed_at: record.confirmedAt,
    notes: record.notes,
    etag: record.etag,
  };
}

/** The tenant predicate, and the app predicate for app-scoped callers. */
function scoped(query: Knex.QueryBuilder, scope: Scope): Knex.QueryBuilder {
  query.where("tenant_id", scope.tenantId);
  if (scope.appId !== undefined) query.andWhere("app_id", scope.appId);
  return query;
}

/** Driver errors that mean "the database is not reachable right now". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
]);

function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  return err.name === "KnexTimeoutError" || /connection is in closed state|Can't add new command when connection is in closed state/i.test(err.message);
}

/** Errors after which running the whole transaction again is the right answer. */
function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ER_LOCK_DEADLOCK" || code === "ER_DUP_ENTRY_REQUEST" || code === "SQLITE_BUSY";
}

function isDuplicateKey(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ER_DUP_ENTRY" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** Raised inside a transaction when another writer saved the same request id first. */
class RequestRaceError extends Error {
  readonly code = "ER_DUP_ENTRY_REQUEST";
}

/** A query that ran out of the call's time (not a pool timeout, which means unavailable). */
function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === "KnexTimeoutError" && /query timeout/i.test(err.message);
}

/**
 * Driver failures leave as DeadlineExceededError, StoreUnavailableError, or
 * as themselves (to become INTERNAL).
 */
async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isQueryTimeout(err)) throw new DeadlineExceededError("deadline exceeded; nothing was written", { cause: err });
    if (isUnavailable(err)) throw new StoreUnavailableError("database unavailable", { cause: err });
    throw err;
  }
}

/** Gives a query the time left before the deadline as its timeout (MySQL cancels it server-side). */
function within<Q extends Knex.QueryBuilder | Knex.Raw>(query: Q, scope: Scope, dialect: Dialect): Q {
  if (scope.deadline === undefined) return query;
  const left = scope.deadline - Date.now();
  if (left <= 0) throw new DeadlineExceededError("deadline exceeded; nothing was written");
  return query.timeout(left, { cancel: dialect === "mysql" }) as Q;
}

class KnexWriter implements CapacityWriter {
  constructor(
    private readonly trx: Knex.Transaction,
    private readonly scope: Scope,
    private readonly dialect: Dialect,
  ) {}

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
    const count = await scoped(this.table(CAPACITIES), this.scope)
      .andWhere({ id: record.id, etag: expectedEtag })
      .update(changes);
    if (count !== 1) throw new Error(`update of ${record.id} matched ${count} rows`);
  }

  async findRequest(requestId: string): Promise<StoredRequest | undefined> {
    const row = (await this.table(REQUESTS)
      .select("*")
      .where({ tenant_id: this.scope.tenantId, app_id: this.scope.appId ?? "", request_id: requestId })
      .first()) as RequestRow | undefined;
    if (!row) return undefined;
    return {
      requestId: row.request_id,
      fingerprint: row.fingerprint,
      response: new Uint8Array(row.response),
      createdAt: Number(row.created_at),
    };
  }

  async saveRequest(request: StoredRequest): Promise<void> {
    try {
      await this.table(REQUESTS).insert({
        tenant_id: this.scope.tenantId,
        app_id: this.scope.appId ?? "",
        request_id: request.requestId,
        fingerprint: request.fingerprint,
        response: Buffer.from(request.response),
        created_at: request.createdAt,
      });
    } catch (err) {
      if (isDuplicateKey(err)) throw new RequestRaceError("request id saved concurrently", { cause: err });
      throw err;
    }
    // Now and then, forget this tenant's expired request ids.
    if (Math.random() < 0.01) {
      await this.table(REQUESTS)
        .where("tenant_id", this.scope.tenantId)
        .andWhere("created_at", "<", request.createdAt - REQUEST_RETENTION_MS)
        .delete();
    }
  }

  async lockPerson(personId: string): Promise<void> {
    // An upsert takes the row's write lock whether the row is new or not.
    await this.table(PERSONS)
      .insert({ tenant_id: this.scope.tenantId, person_id: personId, revision: 1 })
      .onConflict(["tenant_id", "person_id"])
      .merge({ revision: this.trx.raw("?? + 1", [`${PERSONS}.revision`]) });
  }

  async allocationsForUpdate(personId: string, window: Window): Promise<Allocation[]> {
    // Scoped like every read: an app-scoped caller sees (and counts) only its app's records.
    const query = overlapping(scoped(this.table(CAPACITIES).select(ALLOCATION_COLUMNS), this.scope).andWhere("person_id", personId), window);
    if (this.dialect === "mysql") query.forUpdate();
    return ((await query) as AllocationRow[]).map(toAllocation);
  }

  /** A query on a table, with the call's remaining time as its timeout. */
  private table(name: string): Knex.QueryBuilder {
    return within(this.trx(name), this.scope, this.dialect);
  }

  /** A record can only be written into the scope the writer was opened for. */
  private assertTenant(record: CapacityRecord): void {
    if (record.tenantId !== this.scope.tenantId) throw new Error("record written outside its tenant");
  }
}

/** CapacityStore on Knex, for MySQL (mysql2) and SQLite (better-sqlite3). */
export class KnexCapacityStore implements CapacityStore {
  private readonly dialect: Dialect;

  constructor(private readonly knex: Knex) {
    this.dialect = dialectOf(knex);
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
      const query = scoped(this.table(CAPACITIES, scope).select("*"), scope);
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
        query.andWhere((w) =>
          w
            .where("period_start", ">", after.periodStart)
            .orWhere((w2) => w2.where("period_start", after.periodStart).andWhere("id", ">", after.id)),
        );
      }
      const rows = (await query.orderBy([{ column: "period_start" }, { column: "id" }]).limit(q.limit)) as CapacityRow[];
      return rows.map(toRecord);
    });
  }

  allocations(scope: Scope, personIds: readonly string[], window: Window, confirmedOnly: boolean, page?: AllocationPage): Promise<PersonAllocation[]> {
    return guard(async () => {
      const query = overlapping(scoped(this.table(CAPACITIES, scope).select(ALLOCATION_COLUMNS), scope).whereIn("person_id", personIds), window);
      if (confirmedOnly) query.whereNotNull("confirmed_at");
      const after = page?.after;
      if (after !== undefined) {
        // Expanded keyset form: it lets MySQL use the (tenant_id, person_id, period_start, id) index.
        query.andWhere((w) =>
          w
            .where("person_id", ">", after.personId)
            .orWhere((p) =>
              p
                .where("person_id", after.personId)
                .andWhere((d) => d.where("period_start", ">", after.periodStart).orWhere((i) => i.where("period_start", after.periodStart).andWhere("id", ">", after.id))),
            ),
        );
      }
      if (page !== undefined) query.orderBy([{ column: "person_id" }, { column: "period_start" }, { column: "id" }]).limit(page.limit);
      return ((await query) as AllocationRow[]).map(toAllocation);
    });
  }

  transaction<T>(scope: Scope, work: (writer: CapacityWriter) => Promise<T>): Promise<T> {
    return guard(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.knex.transaction(async (trx) => {
            await this.begin(trx, scope);
            const result = await work(new KnexWriter(trx, scope, this.dialect));
            // Past the deadline the caller has been told DEADLINE_EXCEEDED: roll back.
            if (scope.deadline !== undefined && Date.now() > scope.deadline) {
              throw new DeadlineExceededError("deadline exceeded; nothing was written");
            }
            return result;
          });
        } catch (err) {
          if (!isRetryable(err) || attempt >= MAX_ATTEMPTS) throw err;
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        }
      }
    });
  }

  /**
   * SQLite's BEGIN is deferred: two processes could both read, then both try
   * to write. A first write statement (matching no row) takes the write lock
   * up front, so read-check-write is serialized.
   */
  private async begin(trx: Knex.Transaction, scope: Scope): Promise<void> {
    if (this.dialect !== "sqlite") return;
    await within(trx(REQUESTS), scope, this.dialect).where({ tenant_id: scope.tenantId, request_id: "" }).update({ request_id: "" });
  }

  /** A query on a table, with the call's remaining time as its timeout. */
  private table(name: string, scope: Scope): Knex.QueryBuilder {
    return within(this.knex(name), scope, this.dialect);
  }

  ping(): Promise<void> {
    return guard(async () => {
      await this.knex.raw("select 1");
    });
  }

  close(): Promise<void> {
    return this.knex.destroy();
  }
}
