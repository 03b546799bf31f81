/**
 * OVERALLOCATION_POLICY_REJECT: a write may not take any day of its person
 * above 100%. Pure: the caller loads the person's other allocations (under
 * the person's lock, for a write) and passes them in.
 */
import { OverallocationPolicy } from "../gen/work/v1/capacity_pb.js";
import { firstOverallocation, type Allocation } from "./availability.js";
import type { CapacityRecord } from "./capacity.js";
import type { DateWindow } from "./dates.js";
import { OverallocatedError, type Violations } from "./errors.js";

/** The fields of a record the rule looks at. */
export type PolicyCandidate = Pick<CapacityRecord, "id" | "personId" | "periodStart" | "periodEnd" | "allocatedBp" | "isDeleted">;

/** `overallocation_policy` must be a value of the enum (an unknown number can arrive in binary). */
export function checkPolicy(policy: OverallocationPolicy, v: Violations): void {
  if (OverallocationPolicy[policy] === undefined) v.add("overallocation_policy", "must be a known OverallocationPolicy value");
}

/**
 * The days over which the policy must see the person's other allocations, or
 * undefined when it needs none: no REJECT, or a record that adds nothing
 * (deleted, or 0%). The caller loads only when this is set.
 */
export function overallocationWindow(record: PolicyCandidate, policy: OverallocationPolicy): DateWindow | undefined {
  if (policy !== OverallocationPolicy.REJECT || record.isDeleted || record.allocatedBp === 0) return undefined;
  return { start: record.periodStart, end: record.periodEnd };
}

/**
 * Throws OverallocatedError (the first run of days above 100%) when the policy
 * is REJECT and `record`, with the person's `others` over its days, would go
 * above 100%. `others` may include the stored version of `record` itself
 * (same id); it is left out, as the write replaces it.
 */
export function assertNotOverallocated(record: PolicyCandidate, policy: OverallocationPolicy, others: readonly Allocation[]): void {
  if (!overallocationWindow(record, policy)) return;
  const rest = others.filter((a) => a.id !== record.id);
  const run = firstOverallocation(record.periodStart, record.periodEnd, [...rest, record]);
  if (run) throw new OverallocatedError(record.personId, run.periodStart, run.periodEnd, run.allocatedBp);
}
