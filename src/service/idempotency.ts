/**
 * Idempotent SetCapacity (AIP-155): a request id names one write of one
 * caller. A retry with the same id and the same request gets the first
 * result back, read from the store; the same id with a different request is
 * refused. Replay and save run inside the write's transaction, so a result is
 * recorded exactly when the write commits.
 */
import { createHash } from "node:crypto";
import { create, fromBinary, toBinary, type DescMethodUnary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Caller } from "../auth/caller.js";
import { InvalidArgumentError } from "../domain/errors.js";
import { CapacitySchema, SetCapacityRequestSchema, type Capacity, type SetCapacityRequest } from "../gen/work/v1/capacity_pb.js";
import type { RequestLog } from "../store/store.js";

/**
 * What a retry must match: a hash of the caller (tenant, app, person) and the
 * request's bytes, its request id in lower case (the same UUID in capitals is
 * the same id). Stored with each result, so its recipe must never change: a
 * retry across a deploy would otherwise be refused.
 */
export function requestFingerprint(caller: Pick<Caller, "tenantId" | "appId" | "personId">, req: SetCapacityRequest): string {
  return hashRequest(caller, { ...req, requestId: req.requestId.toLowerCase() });
}

/** The caller and the request's bytes, hashed. */
function hashRequest(caller: Pick<Caller, "tenantId" | "appId" | "personId">, req: SetCapacityRequest): string {
  return createHash("sha256")
    .update(JSON.stringify([caller.tenantId, caller.appId ?? null, caller.personId]))
    .update(toBinary(SetCapacityRequestSchema, req))
    .digest("hex");
}

/** One write's idempotency: both methods do nothing when the request has no request id. */
export interface IdempotentWrite {
  /**
   * The first result of an earlier call with this request id, if there was
   * one. Throws InvalidArgumentError on `request_id` when that call sent a
   * different request (or came from another caller).
   */
  replay(w: RequestLog): Promise<Capacity | undefined>;
  /** Records `response` as the request id's result, in the write's transaction. */
  save(w: RequestLog, response: Capacity, now: number): Promise<void>;
}

/** The idempotency of one SetCapacity call. Request ids compare case-insensitively (a UUID's hex digits). */
export function idempotentWrite(caller: Pick<Caller, "tenantId" | "appId" | "personId">, req: SetCapacityRequest): IdempotentWrite {
  const requestId = req.requestId.toLowerCase();
  if (requestId === "") return { replay: () => Promise.resolve(undefined), save: () => Promise.resolve() };
  const fingerprint = requestFingerprint(caller, req);
  return {
    async replay(w) {
      const prior = await w.findRequest(requestId);
      if (!prior) return undefined;
      // Until 2026-12-04 (the 48 h retention after this recipe shipped), a result may have been stored under
      // the first recipe, which hashed the id as sent: a retry of it, capitals and all, still matches.
      if (prior.fingerprint !== fingerprint && prior.fingerprint !== hashRequest(caller, req)) {
        throw reusedRequestId();
      }
      return fromBinary(CapacitySchema, prior.response);
    },
    save: (w, response, now) => w.saveRequest({ requestId, fingerprint, response: toBinary(CapacitySchema, response), createdAt: now }),
  };
}

/** The refusal of a request id that an earlier, different request (or caller, or RPC) used. */
function reusedRequestId(): InvalidArgumentError {
  return new InvalidArgumentError([{ field: "request_id", description: "was already used for a different request; use a new UUID" }]);
}

/** A request of an idempotent write RPC: it carries `request_id`. */
type WithRequestId = { requestId: string };

/** One write's idempotency for any RPC: both methods do nothing when the request has no request id. */
export interface Idempotent<M> {
  /** The first result of an earlier call with this request id, if any; throws InvalidArgumentError on `request_id` when that call differed. */
  replay(log: RequestLog): Promise<M | undefined>;
  /** Records `response` as the request id's result, in the write's transaction. */
  save(log: RequestLog, response: M, now: number): Promise<void>;
}

/**
 * The idempotency of one call of `method` (AIP-155), stored in the same table
 * as SetCapacity's: the fingerprint hashes the caller, the RPC's full name and
 * the request's bytes (request id in lower case), so one request id can never
 * replay another RPC's result. Request ids compare case-insensitively.
 */
export function idempotentCall<I extends DescMessage, O extends DescMessage>(
  caller: Pick<Caller, "tenantId" | "appId" | "personId">,
  method: DescMethodUnary<I, O>,
  req: MessageShape<I> & WithRequestId,
): Idempotent<MessageShape<O>> {
  const requestId = req.requestId.toLowerCase();
  if (requestId === "") return { replay: () => Promise.resolve(undefined), save: () => Promise.resolve() };
  const normalized = create(method.input, { ...req, requestId } as never);
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([caller.tenantId, caller.appId ?? null, caller.personId, `${method.parent.typeName}/${method.name}`]))
    .update(toBinary(method.input, normalized))
    .digest("hex");
  return {
    async replay(log) {
      const prior = await log.findRequest(requestId);
      if (!prior) return undefined;
      if (prior.fingerprint !== fingerprint) throw reusedRequestId();
      return fromBinary(method.output, prior.response);
    },
    save: (log, response, now) => log.saveRequest({ requestId, fingerprint, response: toBinary(method.output, response), createdAt: now }),
  };
}
