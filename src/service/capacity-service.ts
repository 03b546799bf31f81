/**
 * CapacityService, independent of any server library: each RPC takes the
 * verified caller and the request message and returns the response message
 * or throws a domain error (mapped to a status in one place, errors.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { scopeOf, type Call, type ServiceCore, type WorkLimits } from "./call.js";
import {
  assertWritable,
  confirmRecord,
  createRecord,
  deleteRecord,
  resolveMask,
  undeleteRecord,
  updateRecord,
  type CapacityRecord,
  type WriteStamp,
} from "../domain/capacity.js";
import { firstOverallocation } from "../domain/availability.js";
import { DATE_RULE, isIsoDate } from "../domain/dates.js";
import { InvalidArgumentError, NotFoundError, OverallocatedError, Violations } from "../domain/errors.js";
import { isCapacityId, newCapacityId, optionalReference } from "../domain/ids.js";
import {
  CapacitySchema,
  ListCapacitiesResponseSchema,
  CapacityService,
  OverallocationPolicy,
  SetCapacityRequestSchema,
  type Capacity,
} from "../gen/work/v1/capacity_pb.js";
import type { CapacityStore, CapacityWriter, Window } from "../store/store.js";
import { createAvailabilityRpcs } from "./availability.js";
import { estimatedSize, toCapacity, toInput } from "./mapping.js";
import { decodePageToken, encodePageToken, queryDigest } from "./page-token.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** work.v1.CapacityService's core: one method per RPC of the generated descriptor. */
export type CapacityCore = ServiceCore<typeof CapacityService>;

export interface CapacityServiceOptions {
  store: CapacityStore;
  /** Response cap and availability limits (from the configuration). */
  limits: WorkLimits;
  /** Epoch milliseconds; tests may pin it. */
  now?: () => number;
}

function checkId(id: string, field: string, v: Violations): void {
  if (id === "") v.add(field, "is required");
  else if (!isCapacityId(id)) v.add(field, "must be a capacity id: cap_ followed by a ULID");
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`capacity ${id} not found`);
}

function filterDate(value: string, field: string, v: Violations): string | undefined {
  if (value === "") return undefined;
  if (!isIsoDate(value)) v.add(field, DATE_RULE);
  return value;
}

/**
 * OVERALLOCATION_POLICY_REJECT: no day of the record's period may end above
 * 100% for its person. `load` returns the person's other live allocations
 * over a window (a locking read inside a write transaction).
 */
async function enforcePolicy(
  record: CapacityRecord,
  policy: OverallocationPolicy,
  load: (personId: string, window: Window) => Promise<Array<{ id: string; periodStart: string; periodEnd: string; allocatedBp: number }>>,
): Promise<void> {
  if (policy !== OverallocationPolicy.REJECT || record.isDeleted || record.allocatedBp === 0) return;
  const others = (await load(record.personId, { start: record.periodStart, end: record.periodEnd })).filter((a) => a.id !== record.id);
  const run = firstOverallocation(record.periodStart, record.periodEnd, [...others, record]);
  if (run) throw new OverallocatedError(record.personId, run.periodStart, run.periodEnd, run.allocatedBp);
}

function checkPolicy(policy: OverallocationPolicy, v: Violations): void {
  if (OverallocationPolicy[policy] === undefined) v.add("overallocation_policy", "must be a known OverallocationPolicy value");
}

/** Room in a response for everything but the records: next_page_token, framing. */
const PAGE_OVERHEAD_BYTES = 1024;

/**
 * The longest prefix of `records` (at least one) whose estimated encoded size
 * stays within `maxBytes`: AIP-158 lets a page be short, so a list page never
 * fails on size; the next page continues after the last record kept.
 */
function fitPage(records: Capacity[], maxBytes: number): Capacity[] {
  let left = maxBytes - PAGE_OVERHEAD_BYTES;
  for (let i = 0; i < records.length; i++) {
    left -= estimatedSize(records[i]!);
    if (left < 0) return records.slice(0, Math.max(1, i));
  }
  return records;
}

/** The CapacityService core on a store; the server adapts it to every engine. */
export function createCapacityService({ store, limits, now = Date.now }: CapacityServiceOptions): CapacityCore {
  const stamp = (caller: Call): WriteStamp => ({
    tenantId: caller.tenantId,
    appId: caller.appId,
    actor: caller.personId,
    now: now(),
    etag: randomBytes(12).toString("base64url"),
  });

  /**
   * Reads, changes and writes back one record under a row lock. With a
   * policy, the person's writers are serialized and the result checked.
   */
  async function transition(
    caller: Call,
    req: { id: string; etag: string; overallocationPolicy?: OverallocationPolicy },
    apply: (existing: CapacityRecord, etag: string, stamp: WriteStamp) => CapacityRecord,
    /** The change can add allocation (undelete): always serialize with the person's other writers. */
    adds = false,
  ): Promise<Capacity> {
    const v = new Violations();
    checkId(req.id, "id", v);
    const policy = req.overallocationPolicy ?? OverallocationPolicy.UNSPECIFIED;
    checkPolicy(policy, v);
    v.throwIfAny();
    return store.transaction(scopeOf(caller), async (w) => {
      const existing = await w.getForUpdate(req.id);
      if (!existing) throw notFound(req.id);
      const next = apply(existing, req.etag, stamp(caller));
      if (adds || policy === OverallocationPolicy.REJECT) {
        await w.lockPerson(next.personId);
        await enforcePolicy(next, policy, (p, win) => w.allocationsForUpdate(p, win));
      }
      await w.update(next, existing.etag);
      return toCapacity(next);
    });
  }

  /** The first result of an earlier call with this request id, if there was one. */
  async function replay(w: CapacityWriter, requestId: string, fingerprint: string): Promise<Capacity | undefined> {
    const prior = await w.findRequest(requestId);
    if (!prior) return undefined;
    if (prior.fingerprint !== fingerprint) {
      throw new InvalidArgumentError([
        { field: "request_id", description: "was already used for a different request; use a new UUID" },
      ]);
    }
    return fromBinary(CapacitySchema, prior.response);
  }

  return {
    ...createAvailabilityRpcs(store, limits),

    async getCapacity(caller, req) {
      const v = new Violations();
      checkId(req.id, "id", v);
      v.throwIfAny();
      const record = await store.get(scopeOf(caller), req.id);
      if (!record) throw notFound(req.id);
      return toCapacity(record);
    },

    async listCapacities(caller, req) {
      const v = new Violations();
      if (req.pageSize < 0) v.add("page_size", "must not be negative");
      const personId = optionalReference(req.personId, "person_id", v);
      const projectId = optionalReference(req.projectId, "project_id", v);
      const periodFrom = filterDate(req.periodFrom, "period_from", v);
      const periodTo = filterDate(req.periodTo, "period_to", v);
      if (periodFrom !== undefined && periodTo !== undefined && v.empty && periodFrom > periodTo) {
        v.add("period_to", "must not be before period_from");
      }
      const filters = {
        personId,
        projectId,
        periodFrom,
        periodTo,
        confirmed: req.confirmed,
        showDeleted: req.showDeleted,
      };
      const digest = queryDigest([caller.tenantId, caller.appId ?? null, filters]);
      let after: { periodStart: string; id: string } | undefined;
      if (req.pageToken !== "") {
        const decoded = decodePageToken(req.pageToken, digest);
        if ("error" in decoded) v.add("page_token", decoded.error);
        else after = decoded;
      }
      v.throwIfAny();
      const size = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);
      const records = await store.list(scopeOf(caller), { ...filters, after, limit: size + 1 });
      const page = fitPage(records.slice(0, size).map(toCapacity), limits.maxResponseBytes);
      const last = page[page.length - 1];
      return create(ListCapacitiesResponseSchema, {
        capacities: page,
        nextPageToken: records.length > page.length && last ? encodePageToken(last, digest) : "",
      });
    },

    async setCapacity(caller, req) {
      const capacity = req.capacity;
      if (!capacity) throw new InvalidArgumentError([{ field: "capacity", description: "is required" }]);
      const v = new Violations();
      const isCreate = capacity.id === "";
      if (!isCreate) checkId(capacity.id, "capacity.id", v);
      if (req.requestId !== "" && !UUID.test(req.requestId)) v.add("request_id", "must be a UUID");
      const mask = resolveMask(req.updateMask?.paths, v);
      if (isCreate && mask !== undefined) v.add("update_mask", "applies to updates only (capacity.id set)");
      checkPolicy(req.overallocationPolicy, v);
      v.throwIfAny();
      const input = toInput(capacity);
      const scope = scopeOf(caller);

      if (req.validateOnly) {
        let record: CapacityRecord;
        if (isCreate) {
          record = createRecord(input, "", stamp(caller), v);
        } else {
          const existing = await store.get(scope, capacity.id);
          if (!existing) throw notFound(capacity.id);
          assertWritable(existing, capacity.etag);
          record = updateRecord(existing, input, mask, stamp(caller), v);
        }
        await enforcePolicy(record, req.overallocationPolicy, (p, win) => store.allocations(scope, [p], win, false));
        return toCapacity(record);
      }

      const fingerprint = createHash("sha256")
        .update(JSON.stringify([caller.tenantId, caller.appId ?? null, caller.personId]))
        .update(toBinary(SetCapacityRequestSchema, req))
        .digest("hex");
      return store.transaction(scope, async (w) => {
        const requestId = req.requestId.toLowerCase();
        if (requestId !== "") {
          const first = await replay(w, requestId, fingerprint);
          if (first) return first;
        }
        const s = stamp(caller);
        let record: CapacityRecord;
        let existing: CapacityRecord | undefined;
        if (isCreate) {
          record = createRecord(input, newCapacityId(s.now), s, new Violations());
        } else {
          existing = await w.getForUpdate(capacity.id);
          if (!existing) throw notFound(capacity.id);
          assertWritable(existing, capacity.etag);
          record = updateRecord(existing, input, mask, s, new Violations());
        }
        // Every allocation-changing write takes the person's lock, so a REJECT
        // check never races a concurrent write of the same person.
        await w.lockPerson(record.personId);
        await enforcePolicy(record, req.overallocationPolicy, (p, win) => w.allocationsForUpdate(p, win));
        if (existing) await w.update(record, existing.etag);
        else await w.insert(record);
        const response = toCapacity(record);
        if (requestId !== "") {
          await w.saveRequest({
            requestId,
            fingerprint,
            response: toBinary(CapacitySchema, response),
            createdAt: s.now,
          });
        }
        return response;
      });
    },

    deleteCapacity: (caller, req) => transition(caller, req, deleteRecord),
    undeleteCapacity: (caller, req) => transition(caller, req, undeleteRecord, true),
    confirmCapacity: (caller, req) => transition(caller, req, confirmRecord),
  };
}
