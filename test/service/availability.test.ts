/** The availability RPCs over a fake store: the allocation limit, the deadline, yielding, and the size estimate. */
import { toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromEpochDay, toEpochDay } from "../../src/domain/dates.js";
import { DeadlineExceededError, LimitExceededError } from "../../src/domain/errors.js";
import { BatchGetPersonAvailabilityResponseSchema, PersonAvailabilitySchema } from "../../src/gen/work/v1/capacity_pb.js";
import { createAvailabilityRpcs, MAX_CONCURRENT_BATCHES } from "../../src/service/availability.js";
import type { Call } from "../../src/service/call.js";
import type { CapacityStore, PersonAllocation } from "../../src/store/store.js";
import { person } from "../helpers/ids.js";

/** A store that only answers allocations(), from a fixed list, and remembers the page limits it was given. */
function fakeStore(rows: PersonAllocation[], delayMs = 0): CapacityStore & { limits: Array<number | undefined> } {
  const limits: Array<number | undefined> = [];
  const unused = () => Promise.reject(new Error("not used here"));
  const key = (r: Pick<PersonAllocation, "personId" | "periodStart" | "id">): string => `${r.personId}|${r.periodStart}|${r.id}`;
  const sorted = [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    limits,
    async allocations(_scope, personIds, _window, _confirmedOnly, page) {
      limits.push(page?.limit);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const wanted = new Set(personIds);
      const after = page?.after === undefined ? "" : key(page.after);
      return sorted.filter((r) => wanted.has(r.personId) && key(r) > after).slice(0, page?.limit);
    },
    get: unused,
    list: unused,
    transaction: unused,
    ping: unused,
    close: () => Promise.resolve(),
  };
}

const call = (deadline = Date.now() + 60_000): Call => ({ tenantId: "t1", personId: person(), appId: undefined, deadline });
const WINDOW = { periodStart: "2027-01-01", periodEnd: "2029-12-31" };
const LIMITS = { maxResponseBytes: 4 * 1024 * 1024, availabilityMaxAllocations: 50_000 };

/** `n` allocations of a person, starting a day apart, ending at staggered days. */
function busy(personId: string, n: number): PersonAllocation[] {
  const first = toEpochDay("2027-01-01");
  return Array.from({ length: n }, (_, i) => ({
    id: `cap_${personId.slice(-8)}${String(i).padStart(18, "0")}`,
    personId,
    periodStart: fromEpochDay(first + (i % 1000)),
    periodEnd: fromEpochDay(first + (i % 1000) + 30 + (i % 7)),
    allocatedBp: 100,
  }));
}

describe("availability limits", () => {
  it("reads at most the allocation limit plus one, and past it names CAPACITY_AVAILABILITY_MAX_ALLOCATIONS", async () => {
    const p = person();
    const store = fakeStore(busy(p, 11));
    const rpcs = createAvailabilityRpcs(store, { ...LIMITS, availabilityMaxAllocations: 10 });
    const err = await rpcs.getPersonAvailability(call(), { personId: p, ...WINDOW } as never).catch((e: unknown) => e);
    expect(store.limits).toEqual([11]);
    expect(err).toBeInstanceOf(LimitExceededError);
    expect(err).toMatchObject({ reason: "AVAILABILITY_TOO_LARGE", limit: "CAPACITY_AVAILABILITY_MAX_ALLOCATIONS", max: 10 });
    expect((err as Error).message).toMatch(/more than 10 capacities .*shorter window/);
    // Exactly at the limit is fine, and the batch counts all its people together.
    const q = person();
    const two = fakeStore([...busy(p, 5), ...busy(q, 5)]);
    const batch = createAvailabilityRpcs(two, { ...LIMITS, availabilityMaxAllocations: 10 });
    expect((await batch.batchGetPersonAvailability(call(), { personIds: [p, q], ...WINDOW } as never)).availabilities).toHaveLength(2);
    const tight = createAvailabilityRpcs(two, { ...LIMITS, availabilityMaxAllocations: 9 });
    await expect(tight.batchGetPersonAvailability(call(), { personIds: [p, q], ...WINDOW } as never)).rejects.toThrow(
      /these 2 people together have more than 9/,
    );
  });

  it(`runs at most ${MAX_CONCURRENT_BATCHES} batch reads at once; the rest wait their turn and are answered`, async () => {
    const p = person();
    const base = fakeStore(busy(p, 3), 30);
    let inFlight = 0;
    let most = 0;
    const counting: CapacityStore = {
      ...base,
      async allocations(...args) {
        most = Math.max(most, ++inFlight);
        try {
          return await base.allocations(...args);
        } finally {
          inFlight--;
        }
      },
    };
    const rpcs = createAvailabilityRpcs(counting, LIMITS);
    const answers = await Promise.all(
      Array.from({ length: 3 * MAX_CONCURRENT_BATCHES }, () => rpcs.batchGetPersonAvailability(call(), { personIds: [p], ...WINDOW } as never)),
    );
    expect(answers.map((a) => a.availabilities.length)).toEqual(Array<number>(3 * MAX_CONCURRENT_BATCHES).fill(1));
    expect(most).toBe(MAX_CONCURRENT_BATCHES);
  });

  it("reads a person in pages of 2,000 rows and answers the same as one read", async () => {
    const p = person();
    const rows = busy(p, 4500);
    const store = fakeStore(rows);
    const rpcs = createAvailabilityRpcs(store, { ...LIMITS, maxResponseBytes: 256 * 1024 * 1024 });
    const got = await rpcs.getPersonAvailability(call(), { personId: p, ...WINDOW, includeCapacityIds: true } as never);
    expect(store.limits).toEqual([2000, 2000, 2000]);
    const ids = new Set(got.segments.flatMap((s) => s.capacityIds));
    expect(ids.size).toBe(4500);
  });

  it("answers DEADLINE_EXCEEDED when the deadline passes before the computation", async () => {
    const p = person();
    const rpcs = createAvailabilityRpcs(fakeStore(busy(p, 50), 60), LIMITS);
    const deadline = Date.now() + 30; // passes while the store "queries"
    await expect(rpcs.getPersonAvailability(call(deadline), { personId: p, ...WINDOW } as never)).rejects.toBeInstanceOf(DeadlineExceededError);
    await expect(rpcs.batchGetPersonAvailability(call(deadline), { personIds: [p], ...WINDOW } as never)).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it("gives way to other work while a big batch computes", async () => {
    const people = Array.from({ length: 500 }, () => person());
    const rows = people.flatMap((p) => busy(p, 40)); // 20,000 allocations, 40,000 segments: many 10 ms slices of work
    const rpcs = createAvailabilityRpcs(fakeStore(rows), { ...LIMITS, availabilityMaxAllocations: 200_000, maxResponseBytes: 256 * 1024 * 1024 });
    let ticks = 0;
    let done = false;
    const tick = (): void => {
      if (done) return;
      ticks++;
      setImmediate(tick);
    };
    const answer = rpcs.batchGetPersonAvailability(call(), { personIds: people, ...WINDOW } as never);
    setImmediate(tick);
    const got = await answer;
    done = true;
    expect(got.availabilities).toHaveLength(500);
    expect(ticks).toBeGreaterThan(1);
  });

  it("estimates no less than the real encoded size, so an answer over the cap never leaves the domain", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), async (n, people, includeCapacityIds) => {
        const ids = Array.from({ length: people }, () => person());
        const rows = ids.flatMap((p, i) => busy(p, n + i));
        const req = { personIds: ids, ...WINDOW, includeCapacityIds } as never;
        const roomy = createAvailabilityRpcs(fakeStore(rows), LIMITS);
        const answer = await roomy.batchGetPersonAvailability(call(), req);
        const size = toBinary(BatchGetPersonAvailabilityResponseSchema, answer).byteLength;
        const single = await roomy.getPersonAvailability(call(), { personId: ids[0]!, ...WINDOW, includeCapacityIds } as never);
        // A cap one byte below the real size must be refused by the estimate.
        const tight = createAvailabilityRpcs(fakeStore(rows), { ...LIMITS, maxResponseBytes: size - 1 });
        await expect(tight.batchGetPersonAvailability(call(), req)).rejects.toBeInstanceOf(LimitExceededError);
        const tightOne = createAvailabilityRpcs(fakeStore(rows), { ...LIMITS, maxResponseBytes: toBinary(PersonAvailabilitySchema, single).byteLength - 1 });
        await expect(tightOne.getPersonAvailability(call(), { personId: ids[0]!, ...WINDOW, includeCapacityIds } as never)).rejects.toBeInstanceOf(
          LimitExceededError,
        );
      }),
      { numRuns: 40 },
    );
  });
});
