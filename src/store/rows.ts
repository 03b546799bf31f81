/**
 * The store's tables as the drivers see them: table and column names, the
 * snake_case row types both drivers return, and the mapping between rows and
 * the domain's records. No SQL runs here.
 */
import type { CapacityRecord } from "../domain/capacity.js";
import type { PersonAllocation, Scope, StoredRequest } from "./store.js";

/** The capacity records. */
export const CAPACITIES = "capacities";
/** Idempotency records: one completed SetCapacity per (tenant, app, request id). */
export const REQUESTS = "capacity_requests";
/** One lock row per person; writers of a person's allocations upsert it first. */
export const PERSONS = "capacity_persons";

/** `get` by id with constant SQL text (the hottest read skips the query builder). */
export const GET_SQL = "select * from `capacities` where `tenant_id` = ? and `id` = ? limit 1";
/** `get` by id for an app-scoped caller. */
export const GET_APP_SQL = "select * from `capacities` where `tenant_id` = ? and `id` = ? and `app_id` = ? limit 1";

/** A camelCase field name as its snake_case column name (`periodStart` → `period_start`). */
type ColumnName<K extends string> = K extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${ColumnName<T>}` : K;

/** A value as the drivers return it: MySQL has no boolean type and answers 0 or 1. */
type Stored<V> = V extends boolean ? boolean | number : V;

/**
 * A row of `capacities`, as both drivers return it: one column per field of
 * the record, the field's name in snake_case. A new field needs only its
 * migration; the mapping below follows the record's type.
 */
export type CapacityRow = { [K in keyof CapacityRecord as ColumnName<K>]: Stored<CapacityRecord[K]> };

/** A row of `capacity_requests`. */
export interface RequestRow {
  tenant_id: string;
  app_id: string;
  request_id: string;
  fingerprint: string;
  response: Buffer;
  created_at: number | string;
}

/** The columns availability needs. */
export const ALLOCATION_COLUMNS = ["id", "person_id", "period_start", "period_end", "allocated_bp"];

/** The `ALLOCATION_COLUMNS` of a `capacities` row. */
export interface AllocationRow {
  id: string;
  person_id: string;
  period_start: string;
  period_end: string;
  allocated_bp: number;
}

/**
 * A stored row as the domain's record. Written out field by field (a List
 * page maps up to 1,000 rows: a literal is about 40× faster than a generic
 * mapping), and checked by the compiler: a field of CapacityRecord that is
 * missing here does not compile. Both drivers return booleans as 0 or 1
 * (MySQL's TINYINT(1), SQLite's integer); integers, BIGINT timestamps
 * included, come back as numbers (mysql2 with supportBigNumbers and without
 * bigNumberStrings; see database.ts).
 */
export function toRecord(row: CapacityRow): CapacityRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    appId: row.app_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
    updatedBy: row.updated_by,
    source: row.source,
    sourceType: row.source_type,
    isDeleted: Boolean(row.is_deleted),
    deletedAt: row.deleted_at,
    deletedBy: row.deleted_by,
    schemaVersion: row.schema_version,
    personId: row.person_id,
    projectId: row.project_id,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    allocatedBp: row.allocated_bp,
    confirmedById: row.confirmed_by_id,
    confirmedAt: row.confirmed_at,
    notes: row.notes,
    etag: row.etag,
  } satisfies Record<keyof CapacityRecord, unknown>;
}

/** Stored rows as the domain's records. */
export function toRecords(rows: readonly CapacityRow[]): CapacityRecord[] {
  return rows.map(toRecord);
}

/** The row that stores a record: every column, for insert and update alike (a missing one does not compile). */
export function toRow(r: CapacityRecord): CapacityRow {
  return {
    tenant_id: r.tenantId,
    id: r.id,
    app_id: r.appId,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    created_by: r.createdBy,
    updated_by: r.updatedBy,
    source: r.source,
    source_type: r.sourceType,
    is_deleted: r.isDeleted,
    deleted_at: r.deletedAt,
    deleted_by: r.deletedBy,
    schema_version: r.schemaVersion,
    person_id: r.personId,
    project_id: r.projectId,
    period_start: r.periodStart,
    period_end: r.periodEnd,
    allocated_bp: r.allocatedBp,
    confirmed_by_id: r.confirmedById,
    confirmed_at: r.confirmedAt,
    notes: r.notes,
    etag: r.etag,
  } satisfies Record<keyof CapacityRow, unknown>;
}

/** An allocation row as availability counts it. */
export function toAllocation(row: AllocationRow): PersonAllocation {
  return {
    id: row.id,
    personId: row.person_id,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    allocatedBp: Number(row.allocated_bp),
  };
}

/** A stored idempotency record as the service reads it. */
export function toStoredRequest(row: RequestRow): StoredRequest {
  return {
    requestId: row.request_id,
    fingerprint: row.fingerprint,
    response: new Uint8Array(row.response),
    createdAt: Number(row.created_at),
  };
}

/** The row of an idempotency record; a caller without an app is stored under app `""`. */
export function toRequestRow(scope: Scope, request: StoredRequest): RequestRow {
  return {
    tenant_id: scope.tenantId,
    app_id: scope.appId ?? "",
    request_id: request.requestId,
    fingerprint: request.fingerprint,
    response: Buffer.from(request.response),
    created_at: request.createdAt,
  };
}
