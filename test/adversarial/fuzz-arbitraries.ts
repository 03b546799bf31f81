/**
 * Generators for the fuzz properties. Hostile values for every field (the
 * noise), and valid writes with now and then a broken field, so that a good
 * share of the calls is accepted and the properties about accepted writes
 * (read-back, validate_only, over-allocation) are exercised, not only the
 * "a refusal changes nothing" one.
 */
import fc from "fast-check";
import { OverallocationPolicy } from "../../src/gen/work/v1/capacity_pb.js";

/** Strings that broke or could break something: SQL, JSON, HTML, controls, surrogates, very long text, ids of the wrong kind. */
const nasty = fc.constantFrom(
  "",
  " ",
  "'; DROP TABLE capacities; --",
  '" OR 1=1 --',
  "\\",
  "%_",
  '{"$ne": null}',
  "</script><script>alert(1)</script>",
  "\u0000",
  "\u0000\u0001\u001f\u007f",
  "\u202e\u200b\ufeff",
  "😀👩‍👩‍👧‍👦",
  "𝕏".repeat(100),
  "\ud800",
  "a\udfffb",
  "x".repeat(5000),
  "per_01M8FMTT425T0SWT9WYGC66PKF",
  "cap_01M8FMTT425T0SWT9WYGC66PKF",
  "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
);
/** Any text: the nasty strings, any code points (lone surrogates included), and short ordinary strings. */
export const text = fc.oneof(nasty, fc.string({ unit: "binary", maxLength: 60 }), fc.string({ maxLength: 20 }));
/** Dates, mostly broken: any day from year 1, impossible and misformatted ones, and any text. */
const date = fc.oneof(
  fc.date({ min: new Date("0001-01-01"), max: new Date("9999-12-31"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  fc.constantFrom(
    "2027-02-29",
    "2028-02-29",
    "2027-02-30",
    "2027-13-01",
    "0000-00-00",
    "9999-12-31",
    "1000-01-01",
    "0999-12-31",
    "2027-1-1",
    "27-01-01",
    "2027-01-01T00:00:00Z",
  ),
  text,
);
/** Any double, tenths around 0–100, and the edges (NaN, ±Infinity, −0, too many decimals). */
const number = fc.oneof(
  fc.double(),
  fc.integer({ min: -1000, max: 1000 }).map((n) => n / 10),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0, 100, 100.01, 33.33, 33.333, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER),
);
/** References, mostly broken: empty, an id of the wrong kind, any text. */
const ref = fc.oneof(fc.constant(""), fc.constantFrom("per_01M8FMTT425T0SWT9WYGC66PKF", "prj_01M8FMTT425T0SWT9WYGC66PKG"), text);
/** Mask paths: writable, output-only, `*`, and any text. */
const maskPath = fc.oneof(
  fc.constantFrom("person_id", "project_id", "period_start", "period_end", "allocated_pct", "notes", "source", "source_type", "*", "etag", "id", "tenant_id"),
  text,
);
/** Any int32, and the edges. */
const int32 = fc.oneof(fc.integer({ min: -2147483648, max: 2147483647 }), fc.constantFrom(0, -1, 1, 1000, 1001, 2147483647));

/** The writable fields of a Capacity as a client sends them (absent keys are sent as defaults). */
export interface CapacityFields {
  personId?: string;
  projectId?: string;
  periodStart?: string;
  periodEnd?: string;
  allocatedPct?: number;
  notes?: string;
  source?: string;
  sourceType?: number;
}
/** One writable field. */
export type Field = keyof CapacityFields;
/** Every writable field, in the order the server reports violations. */
export const FIELDS: readonly Field[] = ["personId", "projectId", "periodStart", "periodEnd", "allocatedPct", "notes", "source", "sourceType"];
/** Mask path of each field. */
const PATH: Record<Field, string> = {
  personId: "person_id",
  projectId: "project_id",
  periodStart: "period_start",
  periodEnd: "period_end",
  allocatedPct: "allocated_pct",
  notes: "notes",
  source: "source",
  sourceType: "source_type",
};

/** Whether a mask selects a field: no mask, an empty one and `*` select every field. */
export function selects(paths: readonly string[] | undefined, field: Field): boolean {
  if (paths === undefined || paths.length === 0 || (paths.length === 1 && paths[0] === "*")) return true;
  return paths.includes(PATH[field]);
}

/** Any value at all in any field, as before: mostly refused. */
const randomCapacity = fc.record(
  {
    personId: ref,
    projectId: ref,
    periodStart: date,
    periodEnd: date,
    allocatedPct: number,
    notes: text,
    source: text,
    sourceType: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: -5, max: 100 })),
  },
  { requiredKeys: [] },
);

/** A hostile value for one field (which may still happen to be valid). */
const HOSTILE: Record<Field, fc.Arbitrary<unknown>> = {
  personId: ref,
  projectId: ref,
  periodStart: date,
  periodEnd: date,
  allocatedPct: number,
  notes: text,
  source: text,
  sourceType: fc.oneof(fc.integer({ min: -5, max: 100 }), int32),
};

/**
 * People shared by many writes, so that over-allocation (REJECT) really
 * happens; every test has its own tenant, so sharing them across tests is safe.
 */
export const POOLED_PEOPLE = ["per_01J8ZZ00000000000000000001", "per_01J8ZZ00000000000000000002", "per_01J8ZZ00000000000000000003"] as const;

const ulid = fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
/** Valid references in every spelling the server accepts (and canonicalizes). */
const validRef = (prefix: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: ulid.map((u) => `${prefix}_${u}`) },
    { weight: 1, arbitrary: ulid.map((u) => `${prefix.toUpperCase()}_${u.toLowerCase()}`) },
    { weight: 1, arbitrary: fc.tuple(fc.uuid(), fc.boolean()).map(([u, upper]) => (upper ? u.toUpperCase() : u)) },
  );
const validPerson = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...POOLED_PEOPLE) }, { weight: 3, arbitrary: validRef("per") });

const DAY_MS = 86_400_000;
const dayOf = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / DAY_MS;
const isoOf = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
const FIRST_DAY = dayOf("1000-01-01");
const LAST_DAY = dayOf("9999-12-31");
const NEAR = dayOf("2027-01-01");
/** Valid periods: mostly short ones in 2027 (so people overlap), some anywhere in 1000–9999, and the edges. */
const period = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 150 }), fc.integer({ min: 0, max: 45 })).map(([s, n]) => [isoOf(NEAR + s), isoOf(NEAR + s + n)] as const),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: FIRST_DAY, max: LAST_DAY }), fc.integer({ min: 0, max: 4000 }))
      .map(([s, n]) => [isoOf(s), isoOf(Math.min(LAST_DAY, s + n))] as const),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<[string, string]>(
      ["1000-01-01", "1000-01-01"],
      ["9999-12-31", "9999-12-31"],
      ["2028-02-29", "2028-03-01"],
      ["1000-01-01", "9999-12-31"],
    ),
  },
);
const validPct = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 10_000 }).map((bp) => bp / 100) },
  { weight: 1, arbitrary: fc.constantFrom(0, 100, 33.33, 0.01, 99.99, 12.5) },
);
const wellFormed = (s: string): boolean => s.isWellFormed();
const chars = (s: string): number => [...s].length;
const validNotes = fc.oneof(
  fc.constant(""),
  nasty.filter((s) => wellFormed(s) && chars(s) <= 4000),
  fc.string({ unit: "binary", maxLength: 40 }).filter(wellFormed),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constant(`${"é".repeat(3998)}😀\u0000`),
);
const validSource = fc.oneof(
  fc.constant(""),
  fc.string({ unit: "binary", maxLength: 64 }).filter(wellFormed),
  fc.constantFrom("hris-import", "x".repeat(64), "𝕏".repeat(64), "\u0000"),
);

/** Every field valid (optional ones sometimes left out). */
export const validCapacity: fc.Arbitrary<CapacityFields> = fc
  .record(
    {
      personId: validPerson,
      projectId: validRef("prj"),
      period,
      allocatedPct: validPct,
      notes: validNotes,
      source: validSource,
      sourceType: fc.integer({ min: 0, max: 5 }),
    },
    { requiredKeys: ["personId", "projectId", "period", "allocatedPct"] },
  )
  .map(({ period: [periodStart, periodEnd], ...rest }) => ({ ...rest, periodStart, periodEnd }));

/** Replace one field with a hostile value, or leave it out. */
type Breakage = { field: Field; drop: true } | { field: Field; drop: false; value: unknown };
const breakage: fc.Arbitrary<Breakage> = fc
  .constantFrom(...FIELDS)
  .chain((field) =>
    fc.oneof(
      { weight: 1, arbitrary: fc.constant<Breakage>({ field, drop: true }) },
      { weight: 4, arbitrary: HOSTILE[field].map((value): Breakage => ({ field, drop: false, value })) },
    ),
  );

/** A capacity and the fields deliberately broken in it (which may by chance still be valid). */
interface Fuzzed {
  capacity: CapacityFields;
  broken: Field[];
}
/** Four in five writes valid; the rest with one or two fields broken. */
const fuzzedCapacity: fc.Arbitrary<Fuzzed> = fc
  .tuple(validCapacity, fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(breakage, { minLength: 1, maxLength: 2 }) }))
  .map(([valid, breaks]) => {
    const capacity: Record<string, unknown> = { ...valid };
    for (const b of breaks) {
      if (b.drop) delete capacity[b.field];
      else capacity[b.field] = b.value;
    }
    return { capacity: capacity, broken: breaks.map((b) => b.field) };
  });

/** Known policies mostly, and numbers the enum does not have. */
const policy = fc.oneof(
  { weight: 5, arbitrary: fc.constant(OverallocationPolicy.UNSPECIFIED) },
  { weight: 4, arbitrary: fc.constant(OverallocationPolicy.ALLOW) },
  { weight: 5, arbitrary: fc.constant(OverallocationPolicy.REJECT) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom(3, -1, 99, 2147483647, -2147483648),
      fc.integer({ min: -2147483648, max: 2147483647 }).filter((n) => n < 0 || n > 2),
    ),
  },
);

/** A few request ids that come back, so retries (replays, or a different request under a used id) happen. */
const REUSED_REQUEST_IDS = ["0f6b3a8e-9d4c-4e21-8a57-3c2d1e0f9b7a", "5b1c7e2d-3a4f-4b6c-9d8e-7f0a1b2c3d4e", "c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f"];
/** Request ids: mostly none, fresh UUIDs in both cases, reused ones, and garbage. */
const requestId = fc.oneof(
  { weight: 12, arbitrary: fc.constant("") },
  { weight: 3, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom(...REUSED_REQUEST_IDS) },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.oneof(text, fc.constant("retry-1")) },
);

/**
 * Which record a by-id call names: one the test made (by index; mostly among
 * the live or the deleted ones, as the call needs), a well-formed id that
 * does not exist, or any text.
 */
export type Target = { kind: "pool"; index: number; deleted?: boolean } | { kind: "missing" } | { kind: "text"; value: string };
const targetOf = (deleted: boolean): fc.Arbitrary<Target> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.nat().map((index): Target => ({ kind: "pool", index, deleted })) },
    { weight: 4, arbitrary: fc.nat().map((index): Target => ({ kind: "pool", index })) },
    { weight: 1, arbitrary: fc.constant<Target>({ kind: "missing" }) },
    { weight: 1, arbitrary: text.map((value): Target => ({ kind: "text", value })) },
  );
/** A target for a call that needs a live record. */
const target = targetOf(false);
/** The etag a by-id call sends: none, the record's current one, or any text. */
export type EtagChoice = { kind: "none" } | { kind: "current" } | { kind: "text"; value: string };
const etag: fc.Arbitrary<EtagChoice> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<EtagChoice>({ kind: "none" }) },
  { weight: 4, arbitrary: fc.constant<EtagChoice>({ kind: "current" }) },
  { weight: 1, arbitrary: text.map((value): EtagChoice => ({ kind: "text", value })) },
);

/** One generated SetCapacity call: a create (no target) or an update. */
export interface SetOp {
  rpc: "setCapacity";
  target: Target | undefined;
  etag: EtagChoice;
  capacity: CapacityFields;
  /** Fields of `capacity` deliberately broken; only those the mask selects matter. */
  broken: Field[];
  /** undefined: no update_mask at all. */
  paths: string[] | undefined;
  validateOnly: boolean;
  policy: number;
  requestId: string;
}
/** One generated Delete, Undelete or Confirm call. */
export interface TransitionOp {
  rpc: "deleteCapacity" | "undeleteCapacity" | "confirmCapacity";
  target: Target;
  etag: EtagChoice;
  policy: number;
}
type ReadRpc = "getCapacity" | "listCapacities" | "getPersonAvailability" | "batchGetPersonAvailability";
/** One generated read; `<record>` in it stands for the first record of the test. */
export interface ReadOp {
  rpc: ReadRpc;
  req: Record<string, unknown>;
}
/** Send the last accepted write that carried a request id again, byte for byte: it must replay. */
export interface RetryOp {
  rpc: "retry";
}
/** One generated call. */
export type Op = SetOp | TransitionOp | ReadOp | RetryOp;
/** A generated call that writes. */
export type WriteOp = SetOp | TransitionOp;

/** Whether a generated call writes (and so has a target, an etag and a policy). */
export function isWrite(o: Op): o is WriteOp {
  return o.rpc === "setCapacity" || o.rpc === "deleteCapacity" || o.rpc === "undeleteCapacity" || o.rpc === "confirmCapacity";
}

const WRITABLE_PATHS = FIELDS.map((f) => PATH[f]);
const validateOnly = fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const create: fc.Arbitrary<SetOp> = fc.record({ f: fuzzedCapacity, v: validateOnly, p: policy, r: requestId }).map(({ f, v, p, r }) => ({
  rpc: "setCapacity",
  target: undefined,
  etag: { kind: "none" },
  ...f,
  paths: undefined,
  validateOnly: v,
  policy: p,
  requestId: r,
}));

/** A mask, mostly of writable paths; sometimes `*`, empty, or with a path that does not exist. */
const paths: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 6, arbitrary: fc.subarray(WRITABLE_PATHS, { minLength: 1 }) },
  { weight: 1, arbitrary: fc.constant<string[]>(["*"]) },
  { weight: 1, arbitrary: fc.constant<string[]>([]) },
  { weight: 1, arbitrary: fc.tuple(fc.subarray(WRITABLE_PATHS), maskPath).map(([ps, extra]) => [...ps, extra]) },
);
/** An update with a mask: the fields outside it carry garbage, which the server must ignore. */
const maskedUpdate: fc.Arbitrary<SetOp> = fc
  .record({ t: target, e: etag, f: fuzzedCapacity, m: paths, garbage: randomCapacity, v: validateOnly, p: policy, r: requestId })
  .map(({ t, e, f, m, garbage, v, p, r }) => {
    const capacity: Record<string, unknown> = { ...f.capacity };
    const broken = [...f.broken];
    for (const field of FIELDS) {
      if (selects(m, field) || !(field in garbage)) continue;
      capacity[field] = garbage[field];
      // Broken too: a mask can reach the server changed (Connect JSON sends [""] as no path, that is all of them).
      broken.push(field);
    }
    return { rpc: "setCapacity", target: t, etag: e, capacity: capacity, broken, paths: m, validateOnly: v, policy: p, requestId: r };
  });
/** An update without a mask: every writable field replaced. */
const fullUpdate: fc.Arbitrary<SetOp> = fc
  .record({ t: target, e: etag, f: fuzzedCapacity, v: validateOnly, p: policy, r: requestId })
  .map(({ t, e, f, v, p, r }) => ({
    rpc: "setCapacity",
    target: t,
    etag: e,
    ...f,
    paths: undefined,
    validateOnly: v,
    policy: p,
    requestId: r,
  }));
const transition: fc.Arbitrary<TransitionOp> = fc
  .constantFrom("deleteCapacity" as const, "undeleteCapacity" as const, "confirmCapacity" as const, "confirmCapacity" as const)
  .chain((rpc) => fc.record({ rpc: fc.constant(rpc), target: targetOf(rpc === "undeleteCapacity"), etag, policy }));

/** The old broad generator: anything in every field of every RPC. */
const noiseWrite: fc.Arbitrary<SetOp> = fc
  .record({
    c: randomCapacity,
    update: fc.boolean(),
    m: fc.array(maskPath, { maxLength: 4 }),
    v: fc.boolean(),
    r: fc.oneof(fc.constant(""), text, fc.uuid()),
    e: fc.oneof(fc.constant(""), text),
    p: policy,
  })
  .map(({ c, update, m, v, r, e, p }) => ({
    rpc: "setCapacity",
    target: update ? { kind: "pool", index: 0 } : undefined,
    etag: e === "" ? { kind: "none" } : { kind: "text", value: e },
    capacity: c,
    broken: [...FIELDS],
    paths: update ? m : undefined,
    validateOnly: v,
    policy: p,
    requestId: r,
  }));
const read: fc.Arbitrary<ReadOp> = fc.oneof(
  fc.oneof(fc.constant("<record>"), text).map((id): ReadOp => ({ rpc: "getCapacity", req: { id } })),
  fc
    .record(
      {
        pageSize: int32,
        pageToken: fc.oneof(text, fc.base64String({ maxLength: 80 })),
        personId: ref,
        projectId: ref,
        periodFrom: date,
        periodTo: date,
        confirmed: fc.boolean(),
        showDeleted: fc.boolean(),
      },
      { requiredKeys: [] },
    )
    .map((req): ReadOp => ({ rpc: "listCapacities", req })),
  fc
    .record({ personId: ref, periodStart: date, periodEnd: date, confirmedOnly: fc.boolean(), excludeWeekends: fc.boolean() }, { requiredKeys: [] })
    .map((req): ReadOp => ({ rpc: "getPersonAvailability", req })),
  fc
    .record({ personIds: fc.array(ref, { maxLength: 6 }), periodStart: date, periodEnd: date, minAvailablePct: number }, { requiredKeys: [] })
    .map((req): ReadOp => ({ rpc: "batchGetPersonAvailability", req })),
);

/**
 * The mix: seven in ten calls are creates and updates built from valid
 * values (a fifth of those with a broken field), one in ten a delete,
 * undelete or confirm, and the rest retries, the old anything-goes writes
 * and reads.
 */
export const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 7, arbitrary: create },
  { weight: 5, arbitrary: maskedUpdate },
  { weight: 3, arbitrary: fullUpdate },
  { weight: 2, arbitrary: transition },
  { weight: 1, arbitrary: fc.constant<RetryOp>({ rpc: "retry" }) },
  { weight: 1, arbitrary: noiseWrite },
  { weight: 2, arbitrary: read },
);
