/**
 * Identifiers: capacity ids (minted here), references to people and projects
 * (UUIDs or type-prefixed ULIDs), request ids (UUIDs) and the tenant and app
 * ids of tokens, with the request rules that check each.
 */
import { monotonicFactory } from "ulid";
import type { Violations } from "./errors.js";

/** Crockford base32 ULID, 26 characters; the first one keeps the 48-bit timestamp in range. */
const ULID = "[0-7][0-9A-HJKMNP-TV-Z]{25}";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PREFIXED_ULID = new RegExp(`^([a-z][a-z0-9]{0,15})_(${ULID})$`, "i");
const CAPACITY_ID = new RegExp(`^cap_${ULID}$`);

const nextUlid = monotonicFactory();

/** A new capacity id: `cap_` + a ULID (time-ordered, monotonic within this process). */
export function newCapacityId(now: number = Date.now()): string {
  return `cap_${nextUlid(now)}`;
}

/** True for a well-formed capacity id (`cap_` + an upper-case ULID). */
export function isCapacityId(value: string): boolean {
  return CAPACITY_ID.test(value);
}

/** The violation description of a malformed capacity id. */
export const CAPACITY_ID_RULE = "must be a capacity id: cap_ followed by a ULID";

/** A required capacity id field: a violation when empty or malformed. */
export function checkCapacityId(id: string, field: string, v: Violations): void {
  if (id === "") v.add(field, "is required");
  else if (!isCapacityId(id)) v.add(field, CAPACITY_ID_RULE);
}

/** A new record id: `<prefix>_` + a ULID (time-ordered, monotonic within this process), e.g. `wsc_01HV…`. */
export function newRecordId(prefix: string, now: number = Date.now()): string {
  return `${prefix}_${nextUlid(now)}`;
}

const recordIdPatterns = new Map<string, RegExp>();

/** True for a well-formed id of the record kind with this prefix (`<prefix>_` + an upper-case ULID). */
export function isRecordId(prefix: string, value: string): boolean {
  let pattern = recordIdPatterns.get(prefix);
  if (!pattern) {
    pattern = new RegExp(`^${prefix}_${ULID}$`);
    recordIdPatterns.set(prefix, pattern);
  }
  return pattern.test(value);
}

/** A required record id field of the kind with this prefix: a violation when empty or malformed. */
export function checkRecordId(prefix: string, id: string, field: string, v: Violations): void {
  if (id === "") v.add(field, "is required");
  else if (!isRecordId(prefix, id)) v.add(field, `must be an id: ${prefix}_ followed by a ULID`);
}

/** True for a UUID in its 8-4-4-4-12 hex form, in either case. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** An optional request id (AIP-155): empty, or a UUID. */
export function checkRequestId(value: string, field: string, v: Violations): void {
  if (value !== "" && !isUuid(value)) v.add(field, "must be a UUID");
}

/**
 * Canonical form of a reference (person, project, caller): a UUID in lower
 * case, or a type-prefixed ULID with a lower-case prefix and an upper-case
 * ULID. Returns undefined for anything else.
 */
export function canonicalReference(value: string): string | undefined {
  if (isUuid(value)) return value.toLowerCase();
  const match = PREFIXED_ULID.exec(value);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return `${match[1].toLowerCase()}_${match[2].toUpperCase()}`;
}

/** The violation description of a malformed reference. */
export const REFERENCE_RULE = "must be a UUID or a type-prefixed ULID such as per_01HV6Z0Q6M3W3Y4X5V6T7S8R9P";

/** A required reference field in canonical form; a violation when empty or malformed. */
export function requiredReference(value: string, field: string, v: Violations): string {
  if (value === "") {
    v.add(field, "is required");
    return value;
  }
  return optionalReference(value, field, v) ?? value;
}

/** An optional reference (a filter): undefined when empty; a violation when malformed. */
export function optionalReference(value: string, field: string, v: Violations): string | undefined {
  if (value === "") return undefined;
  const canonical = canonicalReference(value);
  if (canonical === undefined) v.add(field, REFERENCE_RULE);
  return canonical;
}

/** Tenant and application ids from tokens: 1–64 characters, letters, digits, `_`, `-`, `.`. */
const SCOPE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** True for a tenant or application id a token may carry. */
export function isScopeId(value: unknown): value is string {
  return typeof value === "string" && SCOPE_ID.test(value);
}
