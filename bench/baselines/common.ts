/** What the baseline servers share: the same row → Capacity mapping the service does, and a success counter. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CapacitySchema, type Capacity } from "../../src/gen/work/v1/capacity_pb.js";

export const SELECT = "SELECT * FROM capacities WHERE tenant_id = ? AND id = ?";

export function toCapacity(r: Record<string, unknown>): Capacity {
  return create(CapacitySchema, {
    id: r.id as string,
    tenantId: r.tenant_id as string,
    appId: r.app_id as string,
    createdAt: timestampFromMs(Number(r.created_at)),
    updatedAt: timestampFromMs(Number(r.updated_at)),
    createdBy: r.created_by as string,
    updatedBy: r.updated_by as string,
    source: r.source as string,
    sourceType: Number(r.source_type),
    isDeleted: Boolean(r.is_deleted),
    deletedBy: r.deleted_by as string,
    schemaVersion: Number(r.schema_version),
    personId: r.person_id as string,
    projectId: r.project_id as string,
    periodStart: r.period_start as string,
    periodEnd: r.period_end as string,
    allocatedPct: Number(r.allocated_bp) / 100,
    confirmedById: r.confirmed_by_id as string,
    confirmedAt: r.confirmed_at === null ? undefined : timestampFromMs(Number(r.confirmed_at)),
    notes: r.notes as string,
    etag: r.etag as string,
  });
}

/** Successful calls, reported on stdout as JSON when the process is told to stop. */
export function successCounter(): { ok(): void } {
  let ok = 0;
  process.once("SIGTERM", () => {
    process.stdout.write(`${JSON.stringify({ ok })}\n`, () => process.exit(0));
  });
  return {
    ok() {
      ok++;
    },
  };
}
