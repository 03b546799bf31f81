/**
 * The rules of a capacity record: what a create or update may contain, how an
 * update mask applies, what confirmation, deletion and restoration do. Pure
 * functions: the caller supplies the clock, the new etag and the new id.
 */
import { SourceType } from "../gen/work/v1/capacity_pb.js";
import { checkPeriodOrder, requiredDate } from "./dates.js";
import { AlreadyExistsError, EtagMismatchError, FailedPreconditionError, NotFoundError, Violations } from "./errors.js";
import { requiredReference } from "./ids.js";
import { requiredPercent } from "./percent.js";
import { checkText, resolveMaskOf, type StampedRecord, type WriteStamp } from "./records.js";

export type { WriteStamp };

/** The record layout version stamped on every new record. */
export const SCHEMA_VERSION = 1;
/** `source` of a record whose client sent none. */
export const DEFAULT_SOURCE = "edm";
/** Longest `notes`, in Unicode characters. */
export const MAX_NOTES_CHARS = 4000;
/** Longest `source`, in Unicode characters. */
export const MAX_SOURCE_CHARS = 64;

/** A stored capacity, as the domain sees it: the server's stamps and its own fields. Timestamps are epoch milliseconds. */
export interface CapacityRecord extends StampedRecord {
  source: string;
  sourceType: SourceType;
  isDeleted: boolean;
  deletedAt: number | null;
  deletedBy: string;
  schemaVersion: number;
  personId: string;
  projectId: string;
  periodStart: string;
  periodEnd: string;
  /** Hundredths of a percent, 0–10,000. */
  allocatedBp: number;
  confirmedById: string;
  confirmedAt: number | null;
  notes: string;
}

/** The writable fields as a client sent them. */
export interface CapacityInput {
  personId: string;
  projectId: string;
  periodStart: string;
  periodEnd: string;
  allocatedPct: number | undefined;
  notes: string;
  source: string;
  sourceType: SourceType;
}

/** Mask paths a client may write; also the order in which violations are reported. */
export const WRITABLE_PATHS = ["person_id", "project_id", "period_start", "period_end", "allocated_pct", "notes", "source", "source_type"] as const;
/** One writable mask path, e.g. `allocated_pct`. */
export type WritablePath = (typeof WRITABLE_PATHS)[number];

/** Fields that exist on Capacity but only the server writes. */
const OUTPUT_ONLY_PATHS = [
  "id",
  "tenant_id",
  "app_id",
  "created_at",
  "updated_at",
  "created_by",
  "updated_by",
  "is_deleted",
  "deleted_at",
  "deleted_by",
  "schema_version",
  "confirmed_by_id",
  "confirmed_at",
  "etag",
];

/** The fields whose change voids a confirmation: the manager confirmed these numbers. */
const CONFIRMED_FIELDS = ["personId", "projectId", "periodStart", "periodEnd", "allocatedBp"] as const;

/**
 * Checks an update mask and returns the paths it selects, or undefined for
 * "replace every writable field" (no mask, an empty mask, or `*`).
 */
export function resolveMask(paths: readonly string[] | undefined, v: Violations): Set<WritablePath> | undefined {
  return resolveMaskOf(paths, WRITABLE_PATHS, OUTPUT_ONLY_PATHS, v);
}

/** The writable part of a record after validation, with references in canonical form. */
type Writable = Pick<CapacityRecord, "personId" | "projectId" | "periodStart" | "periodEnd" | "allocatedBp" | "notes" | "source" | "sourceType">;

/**
 * Validates the fields a write takes from the input: all of them, or the
 * masked ones over `base`. Violations name fields under `prefix`.
 */
function writable(input: CapacityInput, base: Writable | undefined, mask: Set<WritablePath> | undefined, prefix: string, v: Violations): Writable {
  const take = (path: WritablePath): boolean => base === undefined || mask === undefined || mask.has(path);
  const f = (path: WritablePath): string => `${prefix}${path}`;
  const out: Writable = base
    ? { ...base }
    : {
        personId: "",
        projectId: "",
        periodStart: "",
        periodEnd: "",
        allocatedBp: 0,
        notes: "",
        source: DEFAULT_SOURCE,
        sourceType: SourceType.API,
      };
  if (take("person_id")) out.personId = requiredReference(input.personId, f("person_id"), v);
  if (take("project_id")) out.projectId = requiredReference(input.projectId, f("project_id"), v);
  if (take("period_start")) out.periodStart = requiredDate(input.periodStart, f("period_start"), v);
  if (take("period_end")) out.periodEnd = requiredDate(input.periodEnd, f("period_end"), v);
  if (take("allocated_pct")) out.allocatedBp = requiredPercent(input.allocatedPct, f("allocated_pct"), v);
  if (take("notes")) {
    checkText(input.notes, MAX_NOTES_CHARS, f("notes"), v);
    out.notes = input.notes;
  }
  if (take("source")) {
    checkText(input.source, MAX_SOURCE_CHARS, f("source"), v);
    out.source = input.source === "" ? DEFAULT_SOURCE : input.source;
  }
  if (take("source_type")) {
    if (SourceType[input.sourceType] === undefined) v.add(f("source_type"), "must be a known SourceType value");
    out.sourceType = input.sourceType === SourceType.UNSPECIFIED ? SourceType.API : input.sourceType;
  }
  checkPeriodOrder(out.periodStart, out.periodEnd, f("period_end"), "period_start", v);
  return out;
}

/** A new record from a create request. Throws InvalidArgumentError listing every broken rule. */
export function createRecord(input: CapacityInput, id: string, stamp: WriteStamp, v: Violations): CapacityRecord {
  const fields = writable(input, undefined, undefined, "capacity.", v);
  v.throwIfAny();
  return {
    id,
    tenantId: stamp.tenantId,
    appId: stamp.appId ?? "",
    createdAt: stamp.now,
    updatedAt: stamp.now,
    createdBy: stamp.actor,
    updatedBy: stamp.actor,
    isDeleted: false,
    deletedAt: null,
    deletedBy: "",
    schemaVersion: SCHEMA_VERSION,
    confirmedById: "",
    confirmedAt: null,
    etag: stamp.etag,
    ...fields,
  };
}

/** The error for a capacity id that names no record the caller can see. */
export function capacityNotFound(id: string): NotFoundError {
  return new NotFoundError(`capacity ${id} not found`);
}

/** Rejects a write to a record whose etag moved on, or that is deleted. */
export function assertWritable(record: CapacityRecord, etag: string): void {
  assertEtag(record, etag);
  if (record.isDeleted) {
    throw new FailedPreconditionError(`capacity ${record.id} is deleted; undelete it first`);
  }
}

function assertEtag(record: CapacityRecord, etag: string): void {
  if (etag !== "" && etag !== record.etag) {
    throw new EtagMismatchError(`etag does not match: capacity ${record.id} has changed; read it again`);
  }
}

/** The record after an update; clears the confirmation when a confirmed number changed. */
export function updateRecord(
  existing: CapacityRecord,
  input: CapacityInput,
  mask: Set<WritablePath> | undefined,
  stamp: WriteStamp,
  v: Violations,
): CapacityRecord {
  const fields = writable(input, existing, mask, "capacity.", v);
  v.throwIfAny();
  const next: CapacityRecord = { ...existing, ...fields, updatedAt: stamp.now, updatedBy: stamp.actor, etag: stamp.etag };
  if (CONFIRMED_FIELDS.some((k) => next[k] !== existing[k])) {
    next.confirmedById = "";
    next.confirmedAt = null;
  }
  return next;
}

/** The record soft-deleted by the stamp's actor; a deleted record or a stale etag is refused. */
export function deleteRecord(existing: CapacityRecord, etag: string, stamp: WriteStamp): CapacityRecord {
  assertWritable(existing, etag);
  return {
    ...existing,
    isDeleted: true,
    deletedAt: stamp.now,
    deletedBy: stamp.actor,
    updatedAt: stamp.now,
    updatedBy: stamp.actor,
    etag: stamp.etag,
  };
}

/** The deleted record restored; a live record (ALREADY_EXISTS) or a stale etag is refused. */
export function undeleteRecord(existing: CapacityRecord, etag: string, stamp: WriteStamp): CapacityRecord {
  assertEtag(existing, etag);
  if (!existing.isDeleted) throw new AlreadyExistsError(`capacity ${existing.id} is not deleted`);
  return {
    ...existing,
    isDeleted: false,
    deletedAt: null,
    deletedBy: "",
    updatedAt: stamp.now,
    updatedBy: stamp.actor,
    etag: stamp.etag,
  };
}

/** The record confirmed by the stamp's actor (again, if it was); a deleted record or a stale etag is refused. */
export function confirmRecord(existing: CapacityRecord, etag: string, stamp: WriteStamp): CapacityRecord {
  assertWritable(existing, etag);
  return {
    ...existing,
    confirmedById: stamp.actor,
    confirmedAt: stamp.now,
    updatedAt: stamp.now,
    updatedBy: stamp.actor,
    etag: stamp.etag,
  };
}
