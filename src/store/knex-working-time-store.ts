/**
 * The working-time queries on Knex, for MySQL (mysql2) and SQLite
 * (better-sqlite3): `KnexWorkingTimeStore` (lists, point reads, the
 * transaction around writes) and its writer. Every statement names the
 * tenant, and every statement on a record table the app of an app-scoped
 * caller. The transaction, request ids and the person lock are shared with
 * the capacity store (knex-shared.ts).
 */
import type { Knex } from "knex";
import type { DateWindow } from "../domain/dates.js";
import type { HolidayCalendarRecord, HolidayEntry, TimeOffRecord, WorkScheduleRecord } from "../domain/working-time.js";
import { tables, type Tables } from "./deadline.js";
import { dialectOf, type Dialect } from "./dialect.js";
import { guard } from "./driver-errors.js";
import { findRequest, lockPerson, runTransaction, saveRequest } from "./knex-shared.js";
import type { Scope, StoredRequest } from "./store.js";
import {
  CALENDAR_TABLE,
  HOLIDAYS,
  SCHEDULE_TABLE,
  SCHEDULES,
  TIME_OFF_TABLE,
  toHoliday,
  toHolidayRow,
  type HolidayRow,
  type RecordTable,
} from "./working-time-rows.js";
import type {
  CalendarQuery,
  HolidayQuery,
  KeysetPosition,
  ScheduleQuery,
  TimeOffQuery,
  WorkingTimeReads,
  WorkingTimeStore,
  WorkingTimeWriter,
} from "./working-time-store.js";

/** The tenant predicate, and the app predicate for app-scoped callers. */
function scoped(query: Knex.QueryBuilder, scope: Scope): Knex.QueryBuilder {
  query.where("tenant_id", scope.tenantId);
  if (scope.appId !== undefined) query.andWhere("app_id", scope.appId);
  return query;
}

/** Strictly after `after` in (`column`, id) order, in the expanded form that lets MySQL use the (…, column, id) index. */
function keysetAfter(query: Knex.QueryBuilder, column: string, after: KeysetPosition | undefined): void {
  if (after === undefined) return;
  query.andWhere((w) => {
    void w.where(column, ">", after.key).orWhere((w2) => {
      void w2.where(column, after.key).andWhere("id", ">", after.id);
    });
  });
}

/** Runs store work: `guard` on the pool; as is inside a transaction, whose runner guards (and retries) it whole. */
type Wrap = <T>(work: () => Promise<T>) => Promise<T>;
const inTransaction: Wrap = (work) => work();

/**
 * Point reads on the pool or in a transaction; `lock` adds FOR UPDATE on
 * MySQL (SQLite transactions are already exclusive writers).
 */
class KnexReads implements WorkingTimeReads {
  constructor(
    protected readonly table: Tables,
    protected readonly scope: Scope,
    private readonly lock: boolean,
    private readonly guard: Wrap,
  ) {}

  protected async read<R, Row>(kind: RecordTable<R, Row>, id: string): Promise<R | undefined> {
    const query = scoped(this.table(kind.name).select("*"), this.scope).andWhere("id", id);
    if (this.lock) query.forUpdate();
    const row = (await query.first()) as Row | undefined;
    return row && kind.toRecord(row);
  }

  getSchedule(id: string): Promise<WorkScheduleRecord | undefined> {
    return this.guard(() => this.read(SCHEDULE_TABLE, id));
  }

  getCalendar(id: string): Promise<HolidayCalendarRecord | undefined> {
    return this.guard(() => this.read(CALENDAR_TABLE, id));
  }

  getTimeOff(id: string): Promise<TimeOffRecord | undefined> {
    return this.guard(() => this.read(TIME_OFF_TABLE, id));
  }

  scheduleAt(personId: string, validFrom: string): Promise<string | undefined> {
    return this.guard(async () => {
      const query = scoped(this.table(SCHEDULES).select("id"), this.scope).andWhere({ person_id: personId, valid_from: validFrom, is_deleted: false });
      const row = (await query.first()) as { id: string } | undefined;
      return row?.id;
    });
  }

  holidays(calendarId: string, window: DateWindow): Promise<HolidayEntry[]> {
    return this.guard(async () => {
      const rows = (await this.table(HOLIDAYS)
        .select("*")
        .where({ tenant_id: this.scope.tenantId, calendar_id: calendarId })
        .andWhere("holiday_date", ">=", window.start)
        .andWhere("holiday_date", "<=", window.end)
        .orderBy("holiday_date")) as HolidayRow[];
      return rows.map(toHoliday);
    });
  }
}

class KnexWorkingTimeWriter extends KnexReads implements WorkingTimeWriter {
  /** Whether this transaction saved a request id (its tenant is then due a purge after commit). */
  savedRequests = false;

  constructor(
    private readonly trx: Knex.Transaction,
    scope: Scope,
    dialect: Dialect,
  ) {
    super(tables(trx, scope, dialect), scope, dialect === "mysql", inTransaction);
  }

  private async insert<R extends { tenantId: string }, Row extends object>(kind: RecordTable<R, Row>, record: R): Promise<void> {
    this.assertTenant(record);
    await this.table(kind.name).insert(kind.toRow(record));
  }

  private async update<R extends { tenantId: string; id: string }, Row extends object>(
    kind: RecordTable<R, Row>,
    record: R,
    expectedEtag: string,
  ): Promise<void> {
    this.assertTenant(record);
    const { tenant_id: _tenant, id: _id, ...changes } = kind.toRow(record) as Row & { tenant_id: string; id: string };
    const count = await scoped(this.table(kind.name), this.scope).andWhere({ id: record.id, etag: expectedEtag }).update(changes);
    if (count !== 1) throw new Error(`update of ${record.id} matched ${count} rows`);
  }

  insertSchedule(record: WorkScheduleRecord): Promise<void> {
    return this.insert(SCHEDULE_TABLE, record);
  }

  updateSchedule(record: WorkScheduleRecord, expectedEtag: string): Promise<void> {
    return this.update(SCHEDULE_TABLE, record, expectedEtag);
  }

  insertCalendar(record: HolidayCalendarRecord): Promise<void> {
    return this.insert(CALENDAR_TABLE, record);
  }

  updateCalendar(record: HolidayCalendarRecord, expectedEtag: string): Promise<void> {
    return this.update(CALENDAR_TABLE, record, expectedEtag);
  }

  insertTimeOff(record: TimeOffRecord): Promise<void> {
    return this.insert(TIME_OFF_TABLE, record);
  }

  updateTimeOff(record: TimeOffRecord, expectedEtag: string): Promise<void> {
    return this.update(TIME_OFF_TABLE, record, expectedEtag);
  }

  async replaceHolidays(calendarId: string, window: DateWindow, entries: readonly HolidayEntry[]): Promise<void> {
    await this.table(HOLIDAYS)
      .where({ tenant_id: this.scope.tenantId, calendar_id: calendarId })
      .andWhere("holiday_date", ">=", window.start)
      .andWhere("holiday_date", "<=", window.end)
      .delete();
    // 500 entries of 5 columns: one statement, well inside both engines' parameter limits.
    if (entries.length > 0) await this.table(HOLIDAYS).insert(entries.map((e) => toHolidayRow(this.scope.tenantId, calendarId, e)));
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

  /** A record can only be written into the scope the writer was opened for. */
  private assertTenant(record: { tenantId: string }): void {
    if (record.tenantId !== this.scope.tenantId) throw new Error("record written outside its tenant");
  }
}

/** Options of `KnexWorkingTimeStore`. */
export interface KnexWorkingTimeStoreOptions {
  /**
   * Told after a commit that saved request ids of a tenant (they share the
   * capacity store's table): the capacity store's `requestsSaved`, so its
   * purge covers them. Default: nothing.
   */
  onRequestsSaved?: (tenantId: string) => void;
}

/** WorkingTimeStore on Knex, for MySQL (mysql2) and SQLite (better-sqlite3). */
export class KnexWorkingTimeStore implements WorkingTimeStore {
  private readonly dialect: Dialect;
  private readonly onRequestsSaved: (tenantId: string) => void;

  constructor(
    private readonly knex: Knex,
    options: KnexWorkingTimeStoreOptions = {},
  ) {
    this.dialect = dialectOf(knex);
    this.onRequestsSaved = options.onRequestsSaved ?? (() => {});
  }

  reads(scope: Scope): WorkingTimeReads {
    return new KnexReads(tables(this.knex, scope, this.dialect), scope, false, guard);
  }

  private async page<R, Row>(
    kind: RecordTable<R, Row>,
    query: Knex.QueryBuilder,
    column: string,
    after: KeysetPosition | undefined,
    limit: number,
  ): Promise<R[]> {
    keysetAfter(query, column, after);
    const rows = (await query.orderBy([{ column }, { column: "id" }]).limit(limit)) as Row[];
    return rows.map((row) => kind.toRecord(row));
  }

  listSchedules(scope: Scope, q: ScheduleQuery): Promise<WorkScheduleRecord[]> {
    return guard(() => {
      const query = scoped(tables(this.knex, scope, this.dialect)(SCHEDULES).select("*"), scope);
      if (q.personId !== undefined) query.andWhere("person_id", q.personId);
      if (!q.showDeleted) query.andWhere("is_deleted", false);
      return this.page(SCHEDULE_TABLE, query, "valid_from", q.after, q.limit);
    });
  }

  listCalendars(scope: Scope, q: CalendarQuery): Promise<HolidayCalendarRecord[]> {
    return guard(async () => {
      const query = scoped(tables(this.knex, scope, this.dialect)(CALENDAR_TABLE.name).select("*"), scope);
      if (q.region !== undefined) query.andWhere("region", q.region);
      if (q.after !== undefined) query.andWhere("id", ">", q.after);
      const rows = (await query.orderBy("id").limit(q.limit)) as Array<Parameters<typeof CALENDAR_TABLE.toRecord>[0]>;
      return rows.map((row) => CALENDAR_TABLE.toRecord(row));
    });
  }

  listHolidays(scope: Scope, q: HolidayQuery): Promise<HolidayEntry[]> {
    return guard(async () => {
      const query = tables(this.knex, scope, this.dialect)(HOLIDAYS).select("*").where({ tenant_id: scope.tenantId, calendar_id: q.calendarId });
      if (q.periodFrom !== undefined) query.andWhere("holiday_date", ">=", q.periodFrom);
      if (q.periodTo !== undefined) query.andWhere("holiday_date", "<=", q.periodTo);
      if (q.after !== undefined) query.andWhere("holiday_date", ">", q.after);
      return ((await query.orderBy("holiday_date").limit(q.limit)) as HolidayRow[]).map(toHoliday);
    });
  }

  listTimeOff(scope: Scope, q: TimeOffQuery): Promise<TimeOffRecord[]> {
    return guard(() => {
      const query = scoped(tables(this.knex, scope, this.dialect)(TIME_OFF_TABLE.name).select("*"), scope);
      if (q.personId !== undefined) query.andWhere("person_id", q.personId);
      if (q.periodFrom !== undefined) query.andWhere("period_end", ">=", q.periodFrom);
      if (q.periodTo !== undefined) query.andWhere("period_start", "<=", q.periodTo);
      if (q.status !== undefined) query.andWhere("status", q.status);
      if (!q.showDeleted) query.andWhere("is_deleted", false);
      return this.page(TIME_OFF_TABLE, query, "period_start", q.after, q.limit);
    });
  }

  transaction<T>(scope: Scope, work: (writer: WorkingTimeWriter) => Promise<T>): Promise<T> {
    return runTransaction<KnexWorkingTimeWriter, T>(
      this.knex,
      this.dialect,
      scope,
      (trx) => new KnexWorkingTimeWriter(trx, scope, this.dialect),
      work,
      (tenantId) => this.onRequestsSaved(tenantId),
    );
  }
}
