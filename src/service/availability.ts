/**
 * GetPersonAvailability and BatchGetPersonAvailability: validate the window,
 * load the allocations in one query, let the domain do the arithmetic.
 */
import { create } from "@bufbuild/protobuf";
import { scopeOf, type Call } from "./call.js";
import { FULL_BP, summarize, withinThreeYears, type Allocation } from "../domain/availability.js";
import { DATE_RULE, isIsoDate } from "../domain/dates.js";
import { Violations } from "../domain/errors.js";
import { requiredReference } from "../domain/ids.js";
import { fromBasisPoints, PERCENT_RULE, toBasisPoints } from "../domain/percent.js";
import {
  BatchGetPersonAvailabilityResponseSchema,
  PersonAvailabilitySchema,
  type BatchGetPersonAvailabilityRequest,
  type BatchGetPersonAvailabilityResponse,
  type GetPersonAvailabilityRequest,
  type PersonAvailability,
} from "../gen/work/v1/capacity_pb.js";
import type { CapacityStore, PersonAllocation, Window } from "../store/store.js";

export const MAX_BATCH_PERSONS = 500;
/**
 * Batch reads are the heaviest calls (up to 500 people, thousands of rows):
 * at most this many run at once per process, the rest queue. That bounds
 * memory under load and keeps cheap calls from starving behind them.
 */
export const MAX_CONCURRENT_BATCHES = 4;

/** A counting semaphore. */
class Gate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

export interface AvailabilityRpcs {
  getPersonAvailability(caller: Call, req: GetPersonAvailabilityRequest): Promise<PersonAvailability>;
  batchGetPersonAvailability(caller: Call, req: BatchGetPersonAvailabilityRequest): Promise<BatchGetPersonAvailabilityResponse>;
}

/** The window of an availability read: both dates valid, ordered, at most three years apart. */
function checkWindow(start: string, end: string, v: Violations): Window {
  const startOk = start !== "" && isIsoDate(start);
  const endOk = end !== "" && isIsoDate(end);
  if (!startOk) v.add("period_start", start === "" ? "is required" : DATE_RULE);
  if (!endOk) v.add("period_end", end === "" ? "is required" : DATE_RULE);
  if (startOk && endOk) {
    if (end < start) v.add("period_end", "must not be before period_start");
    else if (!withinThreeYears(start, end)) v.add("period_end", "the window must be at most three years long");
  }
  return { start, end };
}

function toAvailability(
  personId: string,
  window: Window,
  allocations: readonly Allocation[],
  excludeWeekends: boolean,
  minAvailableBp: number | undefined,
): PersonAvailability {
  const s = summarize(window.start, window.end, allocations, excludeWeekends);
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

export function createAvailabilityRpcs(store: CapacityStore): AvailabilityRpcs {
  const batches = new Gate(MAX_CONCURRENT_BATCHES);
  return {
    async getPersonAvailability(caller, req) {
      const v = new Violations();
      const personId = requiredReference(req.personId, "person_id", v);
      const window = checkWindow(req.periodStart, req.periodEnd, v);
      v.throwIfAny();
      const allocations = await store.allocations(scopeOf(caller), [personId], window, req.confirmedOnly);
      return toAvailability(personId, window, allocations, req.excludeWeekends, undefined);
    },

    async batchGetPersonAvailability(caller, req) {
      const v = new Violations();
      if (req.personIds.length === 0) v.add("person_ids", "must name at least one person");
      if (req.personIds.length > MAX_BATCH_PERSONS) v.add("person_ids", `must name at most ${MAX_BATCH_PERSONS} people`);
      const personIds = req.personIds.slice(0, MAX_BATCH_PERSONS).map((p, i) => requiredReference(p, `person_ids[${i}]`, v));
      const seen = new Set<string>();
      personIds.forEach((p, i) => {
        if (seen.has(p)) v.add(`person_ids[${i}]`, "is a duplicate; name each person once");
        seen.add(p);
      });
      const window = checkWindow(req.periodStart, req.periodEnd, v);
      let minAvailableBp: number | undefined;
      if (req.minAvailablePct !== undefined) {
        minAvailableBp = toBasisPoints(req.minAvailablePct);
        if (minAvailableBp === undefined) v.add("min_available_pct", PERCENT_RULE);
      }
      v.throwIfAny();
      return batches.run(async () => {
        const byPerson = new Map<string, PersonAllocation[]>(personIds.map((p) => [p, []]));
        for (const a of await store.allocations(scopeOf(caller), personIds, window, req.confirmedOnly)) {
          byPerson.get(a.personId)?.push(a);
        }
        return create(BatchGetPersonAvailabilityResponseSchema, {
          availabilities: personIds.map((p) => toAvailability(p, window, byPerson.get(p) ?? [], req.excludeWeekends, minAvailableBp)),
        });
      });
    },
  };
}
