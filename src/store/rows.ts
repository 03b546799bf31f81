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

/** A row of `capacities`, as both drivers return it. */
export interface CapacityRow {
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

/** A stored row as the domain's record (numbers and booleans normalized across drivers). */
export function toRecord(row: CapacityRow): CapacityRecord {
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

/** The row that stores a record: every column, for insert and update alike. */
export function toRow(record: CapacityRecord): CapacityRow {
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
