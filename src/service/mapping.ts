/** Between the domain's values and the proto messages, both ways. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { FULL_BP, type AvailabilitySummary } from "../domain/availability.js";
import type { CapacityInput, CapacityRecord } from "../domain/capacity.js";
import type { DateWindow } from "../domain/dates.js";
import { fromBasisPoints } from "../domain/percent.js";
import { CapacitySchema, PersonAvailabilitySchema, type Capacity, type PersonAvailability } from "../gen/work/v1/capacity_pb.js";

/** Every field of the Capacity message: toCapacity must set each one (a new field that is forgotten does not compile). */
type CapacityFields = Record<Exclude<keyof Capacity, "$typeName" | "$unknown">, unknown>;

/** The wire form of a stored record. */
export function toCapacity(r: CapacityRecord): Capacity {
  const fields = {
    id: r.id,
    tenantId: r.tenantId,
    appId: r.appId,
    createdAt: timestampFromMs(r.createdAt),
    updatedAt: timestampFromMs(r.updatedAt),
    createdBy: r.createdBy,
    updatedBy: r.updatedBy,
    source: r.source,
    sourceType: r.sourceType,
    isDeleted: r.isDeleted,
    deletedAt: r.deletedAt === null ? undefined : timestampFromMs(r.deletedAt),
    deletedBy: r.deletedBy,
    schemaVersion: r.schemaVersion,
    personId: r.personId,
    projectId: r.projectId,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    allocatedPct: fromBasisPoints(r.allocatedBp),
    confirmedById: r.confirmedById,
    confirmedAt: r.confirmedAt === null ? undefined : timestampFromMs(r.confirmedAt),
    notes: r.notes,
    etag: r.etag,
  } satisfies CapacityFields;
  return create(CapacitySchema, fields);
}

/** The writable fields of a request's Capacity; output-only fields are not read. */
export function toInput(c: Capacity): CapacityInput {
  return {
    personId: c.personId,
    projectId: c.projectId,
    periodStart: c.periodStart,
    periodEnd: c.periodEnd,
    allocatedPct: c.allocatedPct,
    notes: c.notes,
    source: c.source,
    sourceType: c.sourceType,
  };
}

/** Field names, quotes, numbers and timestamps of one Capacity in JSON; far more than in binary. */
const CAPACITY_FIXED_BYTES = 640;

/**
 * An upper estimate of one Capacity's (or, with its own `fixedBytes`, any
 * record message's) encoded size in the larger of the two
 * encodings (protobuf JSON: field names, quotes, escapes; binary is smaller),
 * so a list page can stop before it passes the response cap. Every string
 * field counts as JSON counts it (escapes included), so a new text field is
 * counted without a change here.
 */
export function estimatedSize(c: object, fixedBytes: number = CAPACITY_FIXED_BYTES): number {
  let bytes = fixedBytes;
  for (const value of Object.values(c)) {
    if (typeof value !== "string") continue;
    // Most strings need no escape: their UTF-8 bytes and two quotes. The rest as JSON writes them (a page
    // of 1,000 records runs this 15,000 times, so JSON.stringify only where it changes the count).
    bytes += NEEDS_ESCAPE.test(value) ? Buffer.byteLength(JSON.stringify(value)) : Buffer.byteLength(value) + 2;
  }
  return bytes;
}

/** Characters JSON.stringify escapes: quote, backslash, control characters, surrogates (lone ones become \uXXXX). */
// eslint-disable-next-line no-control-regex -- the control characters are exactly what this looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * The wire form of one person's availability summary; with `minAvailableBp`
 * (a batch's min_available_pct), also whether the person has that much free
 * on every counted day.
 */
export function toPersonAvailability(personId: string, window: DateWindow, s: AvailabilitySummary, minAvailableBp: number | undefined): PersonAvailability {
  return create(PersonAvailabilitySchema, {
    personId,
    periodStart: window.start,
    periodEnd: window.end,
    segments: s.segments.map((seg) => ({
      periodStart: seg.periodStart,
      periodEnd: seg.periodEnd,
      allocatedPct: fromBasisPoints(seg.allocatedBp),
      availablePct: fromBasisPoints(Math.max(0, FULL_BP - seg.allocatedBp)),
      overallocated: seg.allocatedBp > FULL_BP,
      capacityIds: seg.capacityIds,
    })),
    averageAllocatedPct: fromBasisPoints(s.averageBp),
    peakAllocatedPct: fromBasisPoints(s.peakBp),
    overallocatedDays: s.overallocatedDays,
    availableDays: s.availableDays,
    countedDays: s.countedDays,
    meetsMinAvailable: minAvailableBp === undefined ? undefined : s.minAvailableBp >= minAvailableBp,
  });
}
