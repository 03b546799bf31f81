/**
 * GetPersonAvailability and BatchGetPersonAvailability: validate the request
 * (domain/availability-query.ts), load the allocations (a batch 50 people per
 * query), let the domain do the arithmetic (domain/availability.ts).
 *
 * Bounded work: the query reads at most the allocation limit plus one row,
 * the domain charges every segment and id to a budget of the response cap
 * before building it, and the computation checks the deadline and gives way
 * to other calls between people.
 */
import { create } from "@bufbuild/protobuf";
import { scopeOf, type Call, type ServiceCore, type WorkLimits } from "./call.js";
import { Gate } from "./gate.js";
import { toPersonAvailability } from "./mapping.js";
import { pacer } from "./pacing.js";
import { AVAILABILITY_TOO_LARGE, ResponseBudget, summarize, type SegmentOptions } from "../domain/availability.js";
import { availabilityWindow, batchPersonIds } from "../domain/availability-query.js";
import type { DateWindow } from "../domain/dates.js";
import { LimitExceededError, Violations } from "../domain/errors.js";
import { requiredReference } from "../domain/ids.js";
import { optionalPercent } from "../domain/percent.js";
import { BatchGetPersonAvailabilityResponseSchema, CapacityService, type PersonAvailability } from "../gen/work/v1/capacity_pb.js";
import type { CapacityStore, PersonAllocation } from "../store/store.js";

/**
 * Batch reads are the heaviest calls (up to 500 people, thousands of rows):
 * at most this many run at once per process, the rest queue. That bounds
 * memory under load and keeps cheap calls from starving behind them.
 */
export const MAX_CONCURRENT_BATCHES = 4;

/** The availability RPCs of CapacityService's core. */
export type AvailabilityRpcs = Pick<ServiceCore<typeof CapacityService>, "getPersonAvailability" | "batchGetPersonAvailability">;

/**
 * People per allocation query of a batch. Parsing a query's rows is one
 * uninterrupted stretch of work (about 10 ms per 2,000 rows), so reads go in
 * groups and keyset pages, giving way in between.
 */
export const PERSONS_PER_QUERY = 50;
/** Rows per allocation query (see PERSONS_PER_QUERY). */
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
  window: DateWindow,
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

/** The availability RPCs on a store, within the configured limits. */
export function createAvailabilityRpcs(store: CapacityStore, limits: WorkLimits): AvailabilityRpcs {
  const batches = new Gate(MAX_CONCURRENT_BATCHES);
  const options = (includeIds: boolean): SegmentOptions => ({
    includeIds,
    budget: new ResponseBudget(limits.maxResponseBytes, "CAPACITY_MAX_RESPONSE_BYTES"),
  });
  return {
    /**
     * Reads one person's live allocations over the window; writes nothing.
     * Errors: INVALID_ARGUMENT (`person_id`, the dates, a window over three
     * years), RESOURCE_EXHAUSTED (allocation limit, response cap),
     * DEADLINE_EXCEEDED.
     */
    async getPersonAvailability(caller, req) {
      const v = new Violations();
      const personId = requiredReference(req.personId, "person_id", v);
      const window = availabilityWindow(req.periodStart, req.periodEnd, v);
      v.throwIfAny();
      const pace = pacer(caller, "availability");
      const allocations = await loadBounded(store, caller, [personId], window, req.confirmedOnly, limits.availabilityMaxAllocations, pace);
      await pace.step();
      const summary = summarize(window.start, window.end, allocations, req.excludeWeekends, options(req.includeCapacityIds));
      return toPersonAvailability(personId, window, summary, undefined);
    },

    /**
     * Reads the live allocations of up to 500 people over one window (at
     * most MAX_CONCURRENT_BATCHES batches at once); writes nothing.
     * Errors: INVALID_ARGUMENT (`person_ids`, the dates, the window,
     * `min_available_pct`), RESOURCE_EXHAUSTED (allocation limit over all
     * the people, response cap), DEADLINE_EXCEEDED.
     */
    async batchGetPersonAvailability(caller, req) {
      const v = new Violations();
      const personIds = batchPersonIds(req.personIds, v);
      const window = availabilityWindow(req.periodStart, req.periodEnd, v);
      const minAvailableBp = optionalPercent(req.minAvailablePct, "min_available_pct", v);
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
          const summary = summarize(window.start, window.end, byPerson.get(p) ?? [], req.excludeWeekends, shared);
          availabilities.push(toPersonAvailability(p, window, summary, minAvailableBp));
        }
        await pace.handOver();
        return create(BatchGetPersonAvailabilityResponseSchema, { availabilities });
      });
    },
  };
}
