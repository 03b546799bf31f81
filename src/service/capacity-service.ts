/**
 * work.v1.CapacityService, independent of any server library: each RPC takes
 * the verified caller and the request message, validates it through the
 * domain, reads or writes the store and returns the response message, or
 * throws a domain error (mapped to a status once, in server/errors.ts).
 *
 * Beside it: capacity-writes.ts (the create/update builder, the person lock),
 * idempotency.ts (request ids), paging.ts (List pages and tokens) and
 * availability.ts (the two availability RPCs).
 */
import { scopeOf, type Call, type ServiceCore, type WorkLimits } from "./call.js";
import { buildWrite, checkOverallocation, checkSetCapacity, lockAndCheckPerson, writeStamp } from "./capacity-writes.js";
import { createAvailabilityRpcs } from "./availability.js";
import { idempotentWrite } from "./idempotency.js";
import { toCapacity } from "./mapping.js";
import { checkPageSize, listPage, pageSizeOf, queryDigest, resumeAfter } from "./paging.js";
import { capacityNotFound, confirmRecord, deleteRecord, undeleteRecord, type CapacityRecord, type WriteStamp } from "../domain/capacity.js";
import { checkPeriodOrder, optionalDate } from "../domain/dates.js";
import { Violations } from "../domain/errors.js";
import { checkCapacityId, newCapacityId, optionalReference } from "../domain/ids.js";
import { checkPolicy } from "../domain/overallocation.js";
import { CapacityService, OverallocationPolicy, type Capacity } from "../gen/work/v1/capacity_pb.js";
import type { CapacityStore } from "../store/store.js";

/** work.v1.CapacityService's core: one method per RPC of the generated descriptor. */
export type CapacityCore = ServiceCore<typeof CapacityService>;

/** What the service runs on. */
export interface CapacityServiceOptions {
  store: CapacityStore;
  /** Response cap and availability limits (from the configuration). */
  limits: WorkLimits;
  /** Epoch milliseconds; tests may pin it. */
  now?: () => number;
}

/** A change of one record's state (delete, undelete, confirm): the domain rule that computes it. */
type Transition = (existing: CapacityRecord, etag: string, stamp: WriteStamp) => CapacityRecord;

/** The CapacityService core on a store; the server adapts it to every engine. */
export function createCapacityService({ store, limits, now = Date.now }: CapacityServiceOptions): CapacityCore {
  const stamp = (caller: Call): WriteStamp => writeStamp(caller, now());

  /**
   * Reads one record under a row lock, applies `apply` and writes it back.
   * Under REJECT, or when the change can add allocation (`adds`: undelete),
   * it first takes the person's lock (serializing the person's writers) and
   * checks the policy. Errors: INVALID_ARGUMENT (`id`, the policy), NOT_FOUND,
   * and whatever `apply` and the policy refuse.
   */
  async function transition(
    caller: Call,
    req: { id: string; etag: string; overallocationPolicy?: OverallocationPolicy },
    apply: Transition,
    adds = false,
  ): Promise<Capacity> {
    const v = new Violations();
    checkCapacityId(req.id, "id", v);
    const policy = req.overallocationPolicy ?? OverallocationPolicy.UNSPECIFIED;
    checkPolicy(policy, v);
    v.throwIfAny();
    return store.transaction(scopeOf(caller), async (w) => {
      const existing = await w.getForUpdate(req.id);
      if (!existing) throw capacityNotFound(req.id);
      const next = apply(existing, req.etag, stamp(caller));
      if (adds || policy === OverallocationPolicy.REJECT) await lockAndCheckPerson(w, next, policy);
      await w.update(next, existing.etag);
      return toCapacity(next);
    });
  }

  return {
    ...createAvailabilityRpcs(store, limits),

    /** Reads one record, deleted ones included; writes nothing. Errors: INVALID_ARGUMENT (`id`), NOT_FOUND. */
    async getCapacity(caller, req) {
      const v = new Violations();
      checkCapacityId(req.id, "id", v);
      v.throwIfAny();
      const record = await store.get(scopeOf(caller), req.id);
      if (!record) throw capacityNotFound(req.id);
      return toCapacity(record);
    },

    /**
     * Reads one page of records in (period_start, id) order, cut short to fit
     * the response cap; writes nothing. Errors: INVALID_ARGUMENT (`page_size`,
     * a filter, `page_token`).
     */
    async listCapacities(caller, req) {
      const v = new Violations();
      checkPageSize(req.pageSize, v);
      // The key order is part of the page token's digest: tokens must survive a deploy.
      const filters = {
        personId: optionalReference(req.personId, "person_id", v),
        projectId: optionalReference(req.projectId, "project_id", v),
        periodFrom: optionalDate(req.periodFrom, "period_from", v),
        periodTo: optionalDate(req.periodTo, "period_to", v),
        confirmed: req.confirmed,
        showDeleted: req.showDeleted,
      };
      // Order only once everything else is valid, so one mistake is reported once.
      if (filters.periodFrom !== undefined && filters.periodTo !== undefined && v.empty) {
        checkPeriodOrder(filters.periodFrom, filters.periodTo, "period_to", "period_from", v);
      }
      const digest = queryDigest([caller.tenantId, caller.appId ?? null, filters]);
      const after = resumeAfter(req.pageToken, digest, v);
      v.throwIfAny();
      const size = pageSizeOf(req.pageSize);
      const records = await store.list(scopeOf(caller), { ...filters, after: after && { periodStart: after.key, id: after.id }, limit: size + 1 });
      return listPage(records, size, limits.maxResponseBytes, digest);
    },

    /**
     * Creates (no `capacity.id`) or updates a record.
     * validate_only: reads the record and, under REJECT, the person's
     * allocations; writes nothing and mints no id.
     * Otherwise, in one transaction: replays a known `request_id`; reads the
     * record under a row lock; locks the person and, under REJECT, reads their
     * allocations; writes the record and the request id's result.
     * Errors: INVALID_ARGUMENT (a field, the mask, the policy, `request_id`
     * malformed or reused), NOT_FOUND, ABORTED (etag), FAILED_PRECONDITION
     * (deleted record; over-allocation under REJECT).
     */
    async setCapacity(caller, req) {
      const plan = checkSetCapacity(req);
      const scope = scopeOf(caller);
      if (req.validateOnly) {
        const { record } = await buildWrite(
          plan,
          stamp(caller),
          (id) => store.get(scope, id),
          () => "",
        );
        await checkOverallocation(record, plan.policy, (personId, days) => store.allocations(scope, [personId], days, false));
        return toCapacity(record);
      }
      const idempotent = idempotentWrite(caller, req);
      return store.transaction(scope, async (w) => {
        const first = await idempotent.replay(w);
        if (first) return first;
        const s = stamp(caller);
        const { record, existing } = await buildWrite(plan, s, (id) => w.getForUpdate(id), newCapacityId);
        // Every allocation-changing write takes the person's lock, so a REJECT check never races another write of the person.
        await lockAndCheckPerson(w, record, plan.policy);
        if (existing) await w.update(record, existing.etag);
        else await w.insert(record);
        const response = toCapacity(record);
        await idempotent.save(w, response, s.now);
        return response;
      });
    },

    /**
     * Soft-deletes a record: reads it under a row lock and writes it back.
     * Errors: INVALID_ARGUMENT (`id`), NOT_FOUND, ABORTED (etag),
     * FAILED_PRECONDITION (already deleted).
     */
    deleteCapacity: (caller, req) => transition(caller, req, deleteRecord),

    /**
     * Restores a deleted record: reads it under a row lock, locks the person
     * and, under REJECT, reads their allocations; writes the record.
     * Errors: INVALID_ARGUMENT (`id`, the policy), NOT_FOUND, ABORTED (etag),
     * ALREADY_EXISTS (not deleted), FAILED_PRECONDITION (over-allocation under REJECT).
     */
    undeleteCapacity: (caller, req) => transition(caller, req, undeleteRecord, true),

    /**
     * Stamps the caller's confirmation: reads the record under a row lock
     * and, under REJECT, locks the person and reads their allocations; writes
     * the record. Errors: INVALID_ARGUMENT (`id`, the policy), NOT_FOUND,
     * ABORTED (etag), FAILED_PRECONDITION (deleted; over-allocation under REJECT).
     */
    confirmCapacity: (caller, req) => transition(caller, req, confirmRecord),
  };
}
