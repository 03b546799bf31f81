/**
 * GetPersonAvailability and BatchGetPersonAvailability: validate the window,
 * load the allocations (a batch 50 people per query), let the domain do the
 * arithmetic.
 *
 * Bounded work: the query reads at most the allocation limit plus one row,
 * the domain charges every segment and id to a budget of the response cap
 * before building it, and the computation checks the deadline and gives way
 * to other calls between people.
 */
import { create } from "@bufbuild/protobuf";
import { scopeOf, type Call, type ServiceCore, type WorkLimits } from "./call.js";
import { pacer } from "./pacing.js";
import {
  AVAILABILITY_TOO_LARGE,
  FULL_BP,
  ResponseBudget,
  summarize,
  withinThreeYears,
  type Allocation,
  type SegmentOptions,
} from "../domain/availability.js";
import { DATE_RULE, isIsoDate } from "../domain/dates.js";
import { LimitExceededError, Violations } from "../domain/errors.js";
import { requiredReference } from "../domain/ids.js";
import { fromBasisPoints, PERCENT_RULE, toBasisPoints } from "../domain/percent.js";
import {
  BatchGetPersonAvailabilityResponseSchema,
  CapacityService,
  PersonAvailabilitySchema,
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

/** The availability RPCs of CapacityService's core. */
export type AvailabilityRpcs = Pick<ServiceCore<typeof CapacityService>, "getPersonAvailability" | "batchGetPersonAvailability">;

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
  options: SegmentOptions,
): PersonAvailability {
  const s = summarize(window.start, window.end, allocations, excludeWeekends, options);
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

/**
 * People per allocation query of a batch, and rows per query. Parsing a
 * query's rows is one uninterrupted stretch of work (about 10 ms per 2,000
 * rows), so reads go in groups and keyset pages, giving way in between.
 */
export const PERSONS_PER_QUERY = 50;
export const ROWS_PER_QUERY = 2000;

/**
 * The people's allocations over the window, at most `max` of them: one more
 * is read so that "too many" costs one extra row, not the whole set.
 * Queries go 50 people and 2,000 rows at a time, pacing in between.
 */
async function loadBounded(
  store: CapacityStore,
  caller: Call,
  personIds: string[],
  window: Window,
  confirmedOnly: boolean,
  max: number,
  pace: { step(): Promise<void> },
): Promise<PersonAllocation[]> {
  const rows: PersonAllocation[] = [];
  for (let i = 0; i < personIds.length && rows.length <= max; i += PERSONS_PER_QUERY) {
    const group = personIds.slice(i, i + PERSONS_PER_QUERY);
    let after: PersonAllocation | undefined;
    for (;;) {
      await pace.step();
      const limit = Math.min(ROWS_PER_QUERY, max + 1 - rows.length);
      const page = await store.allocations(scopeOf(caller), group, window, confirmedOnly, { limit, after });
      for (const row of page) rows.push(row);
      if (page.length < limit || rows.length > max) break;
      after = page[page.length - 1];
    }
  }
  if (rows.length > max) {
    const who = personIds.length === 1 ? `person ${personIds[0]} has` : `these ${personIds.length} people together have`;
    throw new LimitExceededError(
      `${who} more than ${max} capacities from ${window.start} to ${window.end}, the most one availability call ` +
        "considers (CAPACITY_AVAILABILITY_MAX_ALLOCATIONS); ask for a shorter window or fewer people",
      AVAILABILITY_TOO_LARGE,
      "CAPACITY_AVAILABILITY_MAX_ALLOCATIONS",
      max,
    );
  }
  return rows;
}

export function createAvailabilityRpcs(store: CapacityStore, limits: WorkLimits): AvailabilityRpcs {
  const batches = new Gate(MAX_CONCURRENT_BATCHES);
  const options = (includeIds: boolean): SegmentOptions => ({
    includeIds,
    budget: new ResponseBudget(limits.maxResponseBytes, "CAPACITY_MAX_RESPONSE_BYTES"),
  });
  return {
    async getPersonAvailability(caller, req) {
      const v = new Violations();
      const personId = requiredReference(req.personId, "person_id", v);
      const window = checkWindow(req.periodStart, req.periodEnd, v);
      v.throwIfAny();
      const pace = pacer(caller, "availability");
      const allocations = await loadBounded(store, caller, [personId], window, req.confirmedOnly, limits.availabilityMaxAllocations, pace);
      await pace.step();
      return toAvailability(personId, window, allocations, req.excludeWeekends, undefined, options(req.includeCapacityIds));
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
        // The first step also catches a call that waited for the gate past its deadline.
        const pace = pacer(caller, "availability");
        const byPerson = new Map<string, PersonAllocation[]>(personIds.map((p) => [p, []]));
        const rows = await loadBounded(store, caller, personIds, window, req.confirmedOnly, limits.availabilityMaxAllocations, pace);
        for (const a of rows) byPerson.get(a.personId)?.push(a);
        const shared = options(req.includeCapacityIds);
        const availabilities: PersonAvailability[] = [];
        for (const p of personIds) {
          await pace.step();
          availabilities.push(toAvailability(p, window, byPerson.get(p) ?? [], req.excludeWeekends, minAvailableBp, shared));
        }
        await pace.handOver();
        return create(BatchGetPersonAvailabilityResponseSchema, { availabilities });
      });
    },
  };
}
