import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { CapacityInput, CapacityRecord } from "../domain/capacity.js";
import { fromBasisPoints } from "../domain/percent.js";
import { CapacitySchema, type Capacity } from "../gen/work/v1/capacity_pb.js";

/** The wire form of a stored record. */
export function toCapacity(r: CapacityRecord): Capacity {
  return create(CapacitySchema, {
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
  });
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
