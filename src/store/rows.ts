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
 * Boolean columns, which both drivers return as 0 or 1 (MySQL's TINYINT(1),
 * SQLite's integer): a boolean field's name starts with `is` (`isDeleted`, so
 * its column starts with `is_`), and the check below makes that a compile
 * error to forget. Integers (BIGINT timestamps included) come back as
 * numbers from both drivers (mysql2 with supportBigNumbers and without
 * bigNumberStrings; see database.ts).
 */
const isBooleanColumn = (column: string): boolean => column.startsWith("is_");

/** The record's boolean fields. */
type BooleanField = { [K in keyof CapacityRecord]: CapacityRecord[K] extends boolean ? K : never }[keyof CapacityRecord];
/** Fails to compile when a boolean field of CapacityRecord does not start with `is`: it would be read back as 0/1. */
const booleanFieldsStartWithIs: BooleanField extends `is${Uppercase<string>}${string}` ? true : never = true;
void booleanFieldsStartWithIs;

const fieldNames = new Map<string, string>();
const columnNames = new Map<string, string>();

/** `period_start` → `periodStart`, remembered: rows are mapped by the thousand. */
function fieldOf(column: string): string {
  let field = fieldNames.get(column);
  if (field === undefined) {
    field = column.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    fieldNames.set(column, field);
  }
  return field;
}

/** `periodStart` → `period_start`, remembered. */
function columnOf(field: string): string {
  let column = columnNames.get(field);
  if (column === undefined) {
    column = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    columnNames.set(field, column);
  }
  return column;
}

/** A stored row as the domain's record: every column under its field name, booleans normalized. */
export function toRecord(row: CapacityRow): CapacityRecord {
  const record: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    record[fieldOf(column)] = isBooleanColumn(column) ? Boolean(value) : value;
  }
  return record as unknown as CapacityRecord;
}

/** The row that stores a record: every field under its column name, for insert and update alike. */
export function toRow(record: CapacityRecord): CapacityRow {
  const row: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(record)) row[columnOf(field)] = value;
  return row as CapacityRow;
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
