/**
 * Rules every stored record shares, whatever its kind: free-text checks,
 * update masks, the server's stamps on create and update, etag and
 * soft-delete preconditions. Pure functions; the kinds' own rules live in
 * capacity.ts and working-time.ts.
 */
import { EtagMismatchError, FailedPreconditionError, type Violations } from "./errors.js";

/** Who writes, when, and the etag the write gets. */
export interface WriteStamp {
  tenantId: string;
  appId: string | undefined;
  /** The caller's `sub`. */
  actor: string;
  now: number;
  etag: string;
}

/** The fields the server stamps on every record. Timestamps are epoch milliseconds. */
export interface StampedRecord {
  id: string;
  tenantId: string;
  /** Empty when the creating token had no app. */
  appId: string;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
  updatedBy: string;
  etag: string;
}

/** The fields of a record that can be soft deleted. */
export interface SoftDeletable {
  isDeleted: boolean;
  deletedAt: number | null;
  deletedBy: string;
}

/** Unicode characters (code points, not UTF-16 units: an emoji counts once), counted without building an array. */
export function charCount(value: string): number {
  let count = 0;
  for (const codePoint of value) {
    void codePoint;
    count++;
  }
  return count;
}

/**
 * Free text: stored and read back byte for byte, so it must be well-formed
 * Unicode (a lone surrogate has no UTF-8 form) and within its length.
 */
export function checkText(value: string, max: number, field: string, v: Violations): void {
  if (!value.isWellFormed()) v.add(field, "must be valid Unicode text (no lone surrogates)");
  else if (charCount(value) > max) v.add(field, `must be at most ${max} characters`);
}

/** Required free text: a violation when empty, else `checkText`. */
export function requiredText(value: string, max: number, field: string, v: Violations): string {
  if (value === "") v.add(field, "is required");
  else checkText(value, max, field, v);
  return value;
}

/** The output-only paths of every stamped record. */
export const STAMPED_PATHS = ["id", "tenant_id", "app_id", "created_at", "updated_at", "created_by", "updated_by", "etag"] as const;
/** The output-only paths of soft deletion. */
export const SOFT_DELETE_PATHS = ["is_deleted", "deleted_at", "deleted_by"] as const;

/**
 * Checks an update mask against a kind's writable paths and returns the ones
 * it selects, or undefined for "replace every writable field" (no mask, an
 * empty mask, or `*`). Output-only and unknown paths are violations on
 * `update_mask`.
 */
export function resolveMaskOf<P extends string>(
  paths: readonly string[] | undefined,
  writable: readonly P[],
  outputOnly: readonly string[],
  v: Violations,
): Set<P> | undefined {
  if (paths === undefined || paths.length === 0) return undefined;
  if (paths.length === 1 && paths[0] === "*") return undefined;
  const selected = new Set<P>();
  if (paths.length > MAX_MASK_PATHS) {
    // One violation, whatever the count: the answer stays small however large the mask.
    v.add("update_mask", `has ${paths.length} paths; at most ${MAX_MASK_PATHS} (writable paths are ${writable.join(", ")} or *)`);
    return selected;
  }
  for (const path of paths) {
    const shown = path.length > 64 ? `${path.slice(0, 64)}…` : path;
    if ((writable as readonly string[]).includes(path)) selected.add(path as P);
    else if (outputOnly.includes(path)) v.add("update_mask", `path "${shown}" is output only`);
    else v.add("update_mask", `unknown path "${shown}"; writable paths are ${writable.join(", ")} or *`);
  }
  return selected;
}

/** The most paths one update_mask may name: every writable and output-only field fits many times over. */
export const MAX_MASK_PATHS = 32;

/** The stamps of a record the stamp's actor creates now. */
export function created(id: string, stamp: WriteStamp): StampedRecord {
  return {
    id,
    tenantId: stamp.tenantId,
    appId: stamp.appId ?? "",
    createdAt: stamp.now,
    updatedAt: stamp.now,
    createdBy: stamp.actor,
    updatedBy: stamp.actor,
    etag: stamp.etag,
  };
}

/** The stamps of a live record nobody has deleted. */
export const LIVE: SoftDeletable = { isDeleted: false, deletedAt: null, deletedBy: "" };

/** `record` written again by the stamp's actor: new update time, writer and etag. */
export function touched<R extends StampedRecord>(record: R, stamp: WriteStamp): R {
  return { ...record, updatedAt: stamp.now, updatedBy: stamp.actor, etag: stamp.etag };
}

/** Refuses a write that sent an etag the record no longer has (`what` names the record in the message). */
export function assertEtag(record: StampedRecord, etag: string, what: string): void {
  if (etag !== "" && etag !== record.etag) throw new EtagMismatchError(`etag does not match: ${what} ${record.id} has changed; read it again`);
}

/** Refuses a write to a record whose etag moved on, or that is deleted. */
export function assertLive(record: StampedRecord & SoftDeletable, etag: string, what: string): void {
  assertEtag(record, etag, what);
  if (record.isDeleted) throw new FailedPreconditionError(`${what} ${record.id} is deleted`);
}

/** The record soft-deleted by the stamp's actor; a deleted record or a stale etag is refused. */
export function softDeleted<R extends StampedRecord & SoftDeletable>(record: R, etag: string, stamp: WriteStamp, what: string): R {
  assertLive(record, etag, what);
  return { ...touched(record, stamp), isDeleted: true, deletedAt: stamp.now, deletedBy: stamp.actor };
}
