/**
 * The fuzz properties' oracle: the tenant's acknowledged state, what an
 * accepted write must have stored, and, for calls built from valid values,
 * the one answer the contract allows (docs/api.md). Where several rules are
 * broken at once, the order is the service's: the request's shape (ids,
 * request id, mask, policy), a retried request id, existence, etag, deleted,
 * the fields, over-allocation.
 */
import { Code } from "@connectrpc/connect";
import type { CapacityInput } from "../../src/domain/capacity.js";
import { OverallocationPolicy, type Capacity } from "../../src/gen/work/v1/capacity_pb.js";
import { FIELDS, isWrite, selects, type CapacityFields, type EtagChoice, type Op, type SetOp, type Target } from "./fuzz-arbitraries.js";

/** A well-formed capacity id that no test creates (its ULID is from 2019). */
const MISSING_ID = "cap_01M8FMTT425T0SWT9WYGC66PKF";
const CAPACITY_ID = /^cap_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PREFIXED_ULID = /^([a-z][a-z0-9]{0,15})_([0-7][0-9A-HJKMNP-TV-Z]{25})$/i;
const WRITABLE_PATHS = new Set(["person_id", "project_id", "period_start", "period_end", "allocated_pct", "notes", "source", "source_type"]);
const FULL_BP = 10_000;

/** What the tenant was told: every record as its last acknowledged write left it, and each request id's first answer. */
export class TenantModel {
  readonly records = new Map<string, Capacity>();
  /** Lower-case request id → the answer of the write that first used it. */
  readonly requests = new Map<string, Capacity>();
  private readonly order: string[] = [];

  put(c: Capacity): void {
    if (!this.records.has(c.id)) this.order.push(c.id);
    this.records.set(c.id, c);
  }

  /** The id a target names: a record of this tenant by index (among the deleted or live ones, when there are any), a missing id, or the text itself. */
  resolve(t: Target): string {
    if (t.kind === "missing") return MISSING_ID;
    if (t.kind === "text") return t.value;
    const wanted = t.deleted === undefined ? [] : this.order.filter((id) => this.records.get(id)!.isDeleted === t.deleted);
    const from = wanted.length > 0 ? wanted : this.order;
    return from[t.index % from.length]!;
  }
}

/** The etag a call sends for a choice, given the record it names. */
export function etagFor(choice: EtagChoice, record: Capacity | undefined): string {
  if (choice.kind === "current") return record?.etag ?? "";
  return choice.kind === "text" ? choice.value : "";
}

/** The string the server receives: a client's UTF-8 encoder turns a lone surrogate into U+FFFD. */
const wire = (s: string): string => Buffer.from(s, "utf8").toString("utf8");

/** The server's spelling of a valid reference: UUIDs in lower case, prefixes lower and ULIDs upper. */
function canonical(v: string): string {
  if (UUID.test(v)) return v.toLowerCase();
  const m = PREFIXED_ULID.exec(v);
  return m ? `${m[1]!.toLowerCase()}_${m[2]!.toUpperCase()}` : v;
}

/** The writable part of a Capacity, as the API reports it (the domain's input, with the enum as a number). */
export type Writable = Omit<CapacityInput, "sourceType"> & { sourceType: number };

/** The writable fields of a record. */
export function writableOf(c: Capacity): Writable {
  const { personId, projectId, periodStart, periodEnd, allocatedPct, notes, source, sourceType } = c;
  return { personId, projectId, periodStart, periodEnd, allocatedPct, notes, source, sourceType };
}

/**
 * The writable fields an accepted write must have stored: the sent value for
 * each field the mask selects (canonical references, `edm` and SOURCE_TYPE_API
 * for empty source and type), the stored one for the others.
 */
export function expectedWritable(sent: CapacityFields, base: Capacity | undefined, paths: readonly string[] | undefined): Writable {
  const fromSent: Writable = {
    personId: canonical(wire(sent.personId ?? "")),
    projectId: canonical(wire(sent.projectId ?? "")),
    periodStart: wire(sent.periodStart ?? ""),
    periodEnd: wire(sent.periodEnd ?? ""),
    allocatedPct: sent.allocatedPct === undefined ? undefined : sent.allocatedPct + 0, // -0 is stored as 0
    notes: wire(sent.notes ?? ""),
    source: wire(sent.source ?? "") || "edm",
    sourceType: sent.sourceType || 5,
  };
  if (base === undefined) return fromSent;
  const old = writableOf(base);
  const out = { ...old };
  for (const f of FIELDS) if (selects(paths, f)) (out as Record<string, unknown>)[f] = fromSent[f];
  return out;
}

const bp = (pct: number | undefined): number => Math.round((pct ?? 0) * 100);

/**
 * Whether a live record would take its person above 100% on a day of its
 * period, counting the tenant's other live records (OVERALLOCATION_POLICY_REJECT).
 */
function overallocated(model: TenantModel, id: string, w: Writable): boolean {
  if (bp(w.allocatedPct) === 0) return false;
  const all = [...model.records.values()]
    .filter((c) => c.id !== id && !c.isDeleted && c.personId === w.personId && c.periodStart <= w.periodEnd && c.periodEnd >= w.periodStart)
    .map((c) => ({ start: c.periodStart, end: c.periodEnd, bp: bp(c.allocatedPct) }));
  all.push({ start: w.periodStart, end: w.periodEnd, bp: bp(w.allocatedPct) });
  // The daily sum only rises where a record starts: check those days.
  for (const day of all.map((a) => (a.start > w.periodStart ? a.start : w.periodStart))) {
    if (all.filter((a) => a.start <= day && day <= a.end).reduce((s, a) => s + a.bp, 0) > FULL_BP) return true;
  }
  return false;
}

/** Whether any string in a request is not well-formed Unicode (a lone surrogate), which a JSON body cannot carry as text. */
export function hasIllFormedText(value: unknown): boolean {
  if (typeof value === "string") return !value.isWellFormed();
  if (Array.isArray(value)) return value.some(hasIllFormedText);
  if (value !== null && typeof value === "object") return Object.values(value).some(hasIllFormedText);
  return false;
}

/** A call's predicted answer: a code, OK, a replay of an earlier answer (or INVALID_ARGUMENT), or unknown (undefined). */
export type Prediction = { code: Code | "ok" } | { replayOf: Capacity } | undefined;

const knownPolicy = (p: number): boolean => OverallocationPolicy[p] !== undefined;
const reject = (p: number): boolean => p === (OverallocationPolicy.REJECT as number);

/** Whether a mask replaces every writable field (none, empty, or `*` alone). */
const whole = (paths: readonly string[] | undefined): boolean => paths === undefined || paths.length === 0 || (paths.length === 1 && paths[0] === "*");

/** Whether a mask is one the server takes: writable paths only, or `*` alone. */
function maskAccepted(paths: readonly string[] | undefined): boolean {
  return whole(paths) || paths!.every((p) => WRITABLE_PATHS.has(p));
}

/** The etag check: none sent, or the stored one. */
const etagMatches = (sent: string, record: Capacity): boolean => sent === "" || sent === record.etag;

/** Where the call is fully determined by the model, its answer; undefined where it hangs on a value fuzzed to be (possibly) invalid. */
export function predict(op: Op, model: TenantModel, id: string, sentEtag: string): Prediction {
  if (!isWrite(op)) return undefined;
  // An unknown policy or a malformed id is a field violation, found before anything is read.
  // (DeleteCapacityRequest has no policy: the client drops the field.)
  if (op.rpc !== "deleteCapacity" && !knownPolicy(op.policy)) return { code: Code.InvalidArgument };
  const isCreate = op.rpc === "setCapacity" && id === "";
  if (!isCreate && !CAPACITY_ID.test(wire(id))) return { code: Code.InvalidArgument };
  if (op.rpc === "setCapacity") return predictSet(op, model, id, sentEtag);
  // Every record of the tenant is in the model: any other well-formed id is missing.
  const existing = model.records.get(id);
  if (!existing) return { code: Code.NotFound };
  if (!etagMatches(sentEtag, existing)) return { code: Code.Aborted };
  if (op.rpc === "undeleteCapacity") {
    if (!existing.isDeleted) return { code: Code.AlreadyExists };
  } else if (existing.isDeleted) return { code: Code.FailedPrecondition };
  if (op.rpc !== "deleteCapacity" && reject(op.policy) && overallocated(model, id, writableOf(existing))) return { code: Code.FailedPrecondition };
  return { code: "ok" };
}

function predictSet(op: SetOp, model: TenantModel, id: string, sentEtag: string): Prediction {
  const isCreate = id === "";
  if (op.requestId !== "" && !UUID.test(op.requestId)) return { code: Code.InvalidArgument };
  if (!maskAccepted(op.paths) || (isCreate && !whole(op.paths))) return { code: Code.InvalidArgument };
  if (!op.validateOnly && op.requestId !== "") {
    const first = model.requests.get(op.requestId.toLowerCase());
    if (first) return { replayOf: first };
  }
  let existing: Capacity | undefined;
  if (!isCreate) {
    existing = model.records.get(id);
    if (!existing) return { code: Code.NotFound };
    if (!etagMatches(sentEtag, existing)) return { code: Code.Aborted };
    if (existing.isDeleted) return { code: Code.FailedPrecondition };
  }
  // A deliberately broken field the write takes: the answer depends on whether it happens to be valid.
  if (op.broken.some((f) => isCreate || selects(op.paths, f))) return undefined;
  const next = expectedWritable(op.capacity, existing, isCreate ? undefined : op.paths);
  if (next.periodStart > next.periodEnd) return { code: Code.InvalidArgument };
  if (reject(op.policy) && overallocated(model, id, next)) return { code: Code.FailedPrecondition };
  return { code: "ok" };
}
