/**
 * The pieces every write of a capacity record shares: the caller's stamp,
 * the checked SetCapacity request, the one create/update builder (used by
 * validate_only and by the write), and the over-allocation check under the
 * person's lock.
 */
import { randomBytes } from "node:crypto";
import type { Caller } from "../auth/caller.js";
import {
  assertWritable,
  capacityNotFound,
  createRecord,
  resolveMask,
  updateRecord,
  type CapacityInput,
  type CapacityRecord,
  type WritablePath,
  type WriteStamp,
} from "../domain/capacity.js";
import { InvalidArgumentError, Violations } from "../domain/errors.js";
import { checkCapacityId, checkRequestId } from "../domain/ids.js";
import { assertNotOverallocated, checkPolicy, overallocationWindow } from "../domain/overallocation.js";
import type { OverallocationPolicy, SetCapacityRequest } from "../gen/work/v1/capacity_pb.js";
import type { Allocation } from "../domain/availability.js";
import type { DateWindow } from "../domain/dates.js";
import type { CapacityWriter } from "../store/store.js";
import { toInput } from "./mapping.js";

/** Who writes, at `now`, with a fresh etag (96 random bits). */
export function writeStamp(caller: Caller, now: number): WriteStamp {
  return {
    tenantId: caller.tenantId,
    appId: caller.appId,
    actor: caller.personId,
    now,
    etag: randomBytes(12).toString("base64url"),
  };
}

/** A SetCapacity request whose shape has been checked; the fields themselves are checked by the builder. */
export interface SetCapacityPlan {
  /** The record to update; empty for a create. */
  id: string;
  /** `capacity.etag`: when set, the stored record must still have it. */
  etag: string;
  input: CapacityInput;
  /** The update mask's paths; undefined replaces every writable field. */
  mask: Set<WritablePath> | undefined;
  policy: OverallocationPolicy;
}

/**
 * Checks what SetCapacity can check before reading anything: `capacity`
 * present, `capacity.id` (updates), `request_id`, `update_mask` (updates
 * only) and `overallocation_policy`. Throws InvalidArgumentError.
 */
export function checkSetCapacity(req: SetCapacityRequest): SetCapacityPlan {
  const capacity = req.capacity;
  if (!capacity) throw new InvalidArgumentError([{ field: "capacity", description: "is required" }]);
  const v = new Violations();
  const isCreate = capacity.id === "";
  if (!isCreate) checkCapacityId(capacity.id, "capacity.id", v);
  checkRequestId(req.requestId, "request_id", v);
  const mask = resolveMask(req.updateMask?.paths, v);
  if (isCreate && mask !== undefined) v.add("update_mask", "applies to updates only (capacity.id set)");
  checkPolicy(req.overallocationPolicy, v);
  v.throwIfAny();
  return { id: capacity.id, etag: capacity.etag, input: toInput(capacity), mask, policy: req.overallocationPolicy };
}

/** Reads one record of the caller's scope: the store's `get` for a dry run, the writer's `getForUpdate` in a write. */
export type RecordReader = (id: string) => Promise<CapacityRecord | undefined>;

/**
 * The record a SetCapacity writes, and for an update the stored record it
 * replaces. A create gets `newId(stamp.now)`; an update reads its record with
 * `read`. Throws InvalidArgumentError (a field), NotFoundError, EtagMismatchError
 * and FailedPreconditionError (a deleted record).
 */
export async function buildWrite(
  plan: SetCapacityPlan,
  stamp: WriteStamp,
  read: RecordReader,
  newId: (now: number) => string,
): Promise<{ record: CapacityRecord; existing: CapacityRecord | undefined }> {
  if (plan.id === "") return { record: createRecord(plan.input, newId(stamp.now), stamp, new Violations()), existing: undefined };
  const existing = await read(plan.id);
  if (!existing) throw capacityNotFound(plan.id);
  assertWritable(existing, plan.etag);
  return { record: updateRecord(existing, plan.input, plan.mask, stamp, new Violations()), existing };
}

/**
 * Takes the person's lock, then checks the policy against the person's other
 * allocations read under it (only when the policy needs them): a REJECT check
 * never races a concurrent write of the same person. Throws OverallocatedError.
 */
export async function lockAndCheckPerson(w: CapacityWriter, record: CapacityRecord, policy: OverallocationPolicy): Promise<void> {
  await w.lockPerson(record.personId);
  await checkOverallocation(record, policy, (personId, days) => w.allocationsForUpdate(personId, days));
}

/**
 * Applies the over-allocation policy to `record`: `load` reads the person's
 * allocations over the record's days, and is called only when the policy
 * needs them. Throws OverallocatedError.
 */
export async function checkOverallocation(
  record: CapacityRecord,
  policy: OverallocationPolicy,
  load: (personId: string, days: DateWindow) => Promise<readonly Allocation[]>,
): Promise<void> {
  const days = overallocationWindow(record, policy);
  if (days) assertNotOverallocated(record, policy, await load(record.personId, days));
}
