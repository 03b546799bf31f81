/**
 * The one shape of every working-time write: a builder computes the record
 * from what it reads (the store's reads for validate_only, the transaction's
 * locking reads otherwise); validate_only answers the would-be result; a
 * real write replays a known `request_id`, builds, persists and records the
 * result, all in one transaction.
 */
import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import type { Caller } from "../auth/caller.js";
import { InvalidArgumentError, Violations } from "../domain/errors.js";
import { checkRecordId, checkRequestId, newRecordId } from "../domain/ids.js";
import type { WriteStamp } from "../domain/records.js";
import type { WorkingTimeReads, WorkingTimeStore, WorkingTimeWriter } from "../store/working-time-store.js";
import { scopeOf, type Call } from "./call.js";
import { writeStamp } from "./capacity-writes.js";
import { idempotentCall } from "./idempotency.js";

/** What a builder may do: read (locking inside a transaction), and take a person's lock (nothing under validate_only). */
export interface BuildContext {
  reads: WorkingTimeReads;
  lockPerson: (personId: string) => Promise<void>;
  stamp: WriteStamp;
  /** A new id of the record's kind; `""` under validate_only (a would-be record has no id). */
  newId: () => string;
}

/** One write RPC: how it builds, persists and answers. */
export interface WriteSpec<O extends DescMessage, B> {
  build(ctx: BuildContext): Promise<B>;
  persist(writer: WorkingTimeWriter, built: B): Promise<void>;
  respond(built: B): MessageShape<O>;
}

/** The request fields every write RPC has. */
interface WriteRequest {
  requestId: string;
  validateOnly: boolean;
}

/** Runs one write RPC of `method` for `caller`: validate_only, or idempotent in one transaction. */
export async function runWrite<I extends DescMessage, O extends DescMessage, B>(
  store: WorkingTimeStore,
  caller: Call,
  method: DescMethodUnary<I, O>,
  req: MessageShape<I> & WriteRequest,
  idPrefix: string,
  spec: WriteSpec<O, B>,
  now: () => number,
): Promise<MessageShape<O>> {
  const scope = scopeOf(caller);
  if (req.validateOnly) {
    const built = await spec.build({ reads: store.reads(scope), lockPerson: () => Promise.resolve(), stamp: stampOf(caller, now), newId: () => "" });
    return spec.respond(built);
  }
  const idempotent = idempotentCall(caller, method, req);
  return store.transaction(scope, async (w) => {
    const first = await idempotent.replay(w);
    if (first) return first;
    const stamp = stampOf(caller, now);
    const built = await spec.build({ reads: w, lockPerson: (p) => w.lockPerson(p), stamp, newId: () => newRecordId(idPrefix, stamp.now) });
    await spec.persist(w, built);
    const response = spec.respond(built);
    await idempotent.save(w, response, stamp.now);
    return response;
  });
}

function stampOf(caller: Caller, now: () => number): WriteStamp {
  return writeStamp(caller, now());
}

/**
 * The shape checks of a Set request before anything is read: the record
 * present (`field`), its id well formed on update, `request_id` a UUID, the
 * mask only on updates. `resolveMask` checks the mask's paths. Throws
 * InvalidArgumentError; returns the mask.
 */
export function checkSetRequest<P>(
  field: string,
  record: { id: string } | undefined,
  requestId: string,
  idPrefix: string,
  resolveMask: (v: Violations) => Set<P> | undefined,
): Set<P> | undefined {
  if (!record) throw new InvalidArgumentError([{ field, description: "is required" }]);
  const v = new Violations();
  if (record.id !== "") checkRecordId(idPrefix, record.id, `${field}.id`, v);
  checkRequestId(requestId, "request_id", v);
  const mask = resolveMask(v);
  if (record.id === "" && mask !== undefined) v.add("update_mask", `applies to updates only (${field}.id set)`);
  v.throwIfAny();
  return mask;
}
