/**
 * Generated requests for the HTTP/JSON API: a request that means something
 * (create, patch, delete, undelete, confirm, get, list, availability, batch,
 * or a random method on a random path), then a few hostile mutations of its
 * method, path, query, headers, token, body and framing. Every path stays
 * under /api/, so every answer is the API's own.
 */
import fc from "fast-check";
import { validCapacity, type CapacityFields } from "./fuzz-arbitraries.js";
import type { WireRequest } from "./rest-wire.js";

export const BASE = "/api/v1/work/capacity";
/** Request bodies are refused above this (the suite's CAPACITY_READ_MAX_BYTES). */
export const READ_MAX_BYTES = 65_536;

/** What a request starts from; `pick` names a record among the acknowledged ones. */
export type Seed =
  | { kind: "create"; capacity: CapacityFields }
  | { kind: "patch"; pick: number; capacity: CapacityFields; mask: string | undefined; ifMatch: boolean }
  | { kind: "delete" | "undelete" | "confirm"; pick: number; ifMatch: boolean }
  | { kind: "get"; pick: number; head: boolean }
  | { kind: "list"; person: string }
  | { kind: "availability"; person: string }
  | { kind: "batch"; people: string[] }
  | { kind: "random"; method: string; path: string };

type BodyDamage =
  | { kind: "flip"; at: number; xor: number }
  | { kind: "cut"; at: number }
  | { kind: "append"; text: string }
  | { kind: "replace"; json: string }
  | { kind: "key"; key: string; json: string }
  | { kind: "bom" }
  | { kind: "nest"; depth: number }
  | { kind: "oversize" }
  | { kind: "invalid utf-8" }
  | { kind: "drop" };

/** Who the request claims to be. */
export type Auth = "own" | "other tenant" | "none" | "junk" | "lower-case scheme" | "no scheme" | "in the query";

/** One hostile change to a request. */
export type Mutation =
  | { kind: "method"; method: string }
  | { kind: "segment"; at: number; value: string }
  | { kind: "suffix"; value: string }
  | { kind: "query"; params: Array<[string, string]> }
  | { kind: "params"; name: string; value: string; count: number }
  | { kind: "header"; name: string; value: string }
  | { kind: "auth"; auth: Auth }
  | { kind: "body"; damage: BodyDamage }
  | { kind: "framing"; chunked: boolean; splits: number[] };

const PEOPLE = ["per_01J8ZZ00000000000000000001", "per_01J8ZZ00000000000000000002", "per_01J8ZZ00000000000000000003"];
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "get", "FOO"];
/** Path segments that broke or could break routing: escapes (broken, of `/`, of NUL, of a lone surrogate), dots, verbs, wildcards, long ones. */
const SEGMENTS = [
  "..",
  ".",
  "%2F",
  "a%2Fb",
  "%2e%2e",
  "%",
  "%zz",
  "%E0%A4%A",
  "%ED%A0%80",
  "%00",
  "%C3%A9",
  "%F0%9F%98%80",
  ":confirm",
  "x:undelete",
  "availability:batchGet",
  "capacity",
  "people",
  "availability",
  "cap_01M8FMTT425T0SWT9WYGC66PKF",
  "CAP_01m8fmtt425t0swt9wygc66pkf",
  "",
  "*",
  "**",
  "{id}",
  "a".repeat(3000),
  "';--",
  '"<>\\^`{|}',
  "__proto__",
];
const SUFFIXES = [":confirm", ":undelete", ":batchGet", ":", "::", ":confirm:confirm", "/", "/x", "/availability", "%3Aconfirm", "#x", "?", "??"];
/** Query values for the API's parameters and for names it does not have. */
const QUERY_NAMES = [
  "page_size",
  "pageSize",
  "page_token",
  "person_id",
  "personId",
  "project_id",
  "period_from",
  "period_to",
  "confirmed",
  "show_deleted",
  "update_mask",
  "updateMask",
  "validate_only",
  "validateOnly",
  "overallocation_policy",
  "request_id",
  "timeout",
  "id",
  "etag",
  "capacity.notes",
  "capacity.id",
  "period_start",
  "period_end",
  "exclude_weekends",
  "include_capacity_ids",
  "person_ids",
  "min_available_pct",
  "__proto__",
  "constructor",
  "access_token",
  "",
  "%",
  "a.b.c",
];
const QUERY_VALUES = [
  "",
  "true",
  "false",
  "1",
  "-1",
  "0",
  "2147483647",
  "9999999999",
  "99999999999999999999",
  "1e3",
  "NaN",
  "Infinity",
  "ten",
  "notes",
  "notes,allocated_pct",
  "*",
  "a..b",
  "Notes",
  "OVERALLOCATION_POLICY_REJECT",
  "7",
  "0s",
  "1ms",
  "5s",
  "soon",
  "2027-02-30",
  "2027-01-01",
  "per_01J8ZZ00000000000000000001",
  "%",
  "%zz",
  "%00",
  "%C3%A9",
  "%ED%A0%80",
  "a".repeat(2000),
];
const HEADERS: Array<[string, fc.Arbitrary<string>]> = [
  ["Content-Type", fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-16", "application/x+json", "application/grpc", "", "*/*")],
  ["If-Match", fc.constantFrom("*", '""', 'W/"x"', '"a", "b"', "unquoted", '"stale"', `"${"e".repeat(4000)}"`)],
  ["If-None-Match", fc.constantFrom("*", '"x"', 'W/"x"', Array.from({ length: 500 }, () => '"a"').join(","))],
  ["Idempotency-Key", fc.constantFrom("fresh", "fresh", "junk", "k".repeat(8000), "", "3F2504E0-4F89-11D3-9A0C-0305E82C3301 ")],
  ["X-Request-Id", fc.constantFrom("", "x".repeat(500), "a b", "{}")],
  ["Content-Encoding", fc.constantFrom("gzip", "identity", "br, gzip")],
  ["Origin", fc.constantFrom("https://evil.example", "null")],
  ["Grpc-Timeout", fc.constantFrom("1x", "99999999H", "0m", "1n")],
  ["Connect-Timeout-Ms", fc.constantFrom("0", "-1", "99999999999")],
  ["Accept", fc.constantFrom("application/proto", "*/*", "")],
  ["Expect", fc.constant("100-continue")],
];
const JUNK_JSON = ["null", "[]", "{}", '"x"', "1e400", "-0", "true", "[{}]", '{"capacity":{}}', '{"a":'.repeat(50) + "1" + "}".repeat(50)];
const JUNK_KEYS = ["__proto__", "constructor", "prototype", "person_id", "personId", "id", "etag", "isDeleted", "tenantId", "allocatedPct", "bogus"];
const JUNK_VALUES = ["null", '"NaN"', '"Infinity"', "1e400", "9007199254740993", "-0", "[]", "{}", '"x"', `"${"z".repeat(5000)}"`, '{"__proto__":{"a":1}}'];

const visible = (max: number) => fc.string({ minLength: 0, maxLength: max, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });

export const seed: fc.Arbitrary<Seed> = fc.oneof(
  { weight: 5, arbitrary: validCapacity.map((capacity): Seed => ({ kind: "create", capacity })) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        pick: fc.nat(),
        capacity: validCapacity,
        mask: fc.option(fc.constantFrom("notes", "allocated_pct,notes", "*", "person_id,project_id,period_start,period_end,allocated_pct"), { nil: undefined }),
        ifMatch: fc.boolean(),
      })
      .map((s): Seed => ({ kind: "patch", ...s })),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constantFrom("delete" as const, "undelete" as const, "confirm" as const), pick: fc.nat(), ifMatch: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("get" as const), pick: fc.nat(), head: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("list" as const), person: fc.constantFrom(...PEOPLE) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("availability" as const), person: fc.constantFrom(...PEOPLE) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("batch" as const), people: fc.subarray(PEOPLE) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("random" as const),
      method: fc.constantFrom(...METHODS),
      path: fc.oneof(
        fc.constantFrom(
          BASE,
          `${BASE}/x`,
          "/api/v1/work/people/x/availability",
          "/api/v1/work/people/availability:batchGet",
          "/api/v1/openapi.json",
          "/api/",
          "/api/v2",
        ),
        fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 5 }).map((s) => `/api/v1/work/${s.join("/")}`),
      ),
    }),
  },
);

const bodyDamage: fc.Arbitrary<BodyDamage> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("append" as const), text: fc.constantFrom("}", ",", "x", '{"a":1}', "\u0000", " ".repeat(100)) }),
  fc.record({ kind: fc.constant("replace" as const), json: fc.constantFrom(...JUNK_JSON) }),
  fc.record({ kind: fc.constant("key" as const), key: fc.constantFrom(...JUNK_KEYS), json: fc.constantFrom(...JUNK_VALUES) }),
  fc.constantFrom<BodyDamage>({ kind: "bom" }, { kind: "oversize" }, { kind: "invalid utf-8" }, { kind: "drop" }),
  fc.record({ kind: fc.constant("nest" as const), depth: fc.constantFrom(100, 5000, 30_000) }),
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("method" as const), method: fc.constantFrom(...METHODS) }),
  fc.record({ kind: fc.constant("segment" as const), at: fc.nat(), value: fc.constantFrom(...SEGMENTS) }),
  fc.record({ kind: fc.constant("suffix" as const), value: fc.constantFrom(...SUFFIXES) }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("query" as const),
      params: fc.array(fc.tuple(fc.constantFrom(...QUERY_NAMES), fc.constantFrom(...QUERY_VALUES)), { minLength: 1, maxLength: 4 }),
    }),
  },
  fc.record({
    kind: fc.constant("params" as const),
    name: fc.constantFrom("page_size", "update_mask", "x", "person_ids"),
    value: fc.constantFrom("1", "a"),
    count: fc.integer({ min: 2, max: 1500 }),
  }),
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(...HEADERS)
      .chain(([name, value]) => fc.record({ kind: fc.constant("header" as const), name: fc.constant(name), value: fc.oneof(value, visible(20)) })),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("auth" as const),
      auth: fc.constantFrom<Auth>("other tenant", "none", "junk", "lower-case scheme", "no scheme", "in the query"),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("body" as const), damage: bodyDamage }) },
  fc.record({ kind: fc.constant("framing" as const), chunked: fc.boolean(), splits: fc.array(fc.nat(), { maxLength: 6 }) }),
);

/** Up to three mutations; none for a third of the requests, so that many are accepted. */
export const mutations: fc.Arbitrary<Mutation[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Mutation[]>([]) },
  { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
);

/** What the request is built from: the records acknowledged so far (id → etag). */
export interface Known {
  ids: string[];
  etag(id: string): string;
}

/** A built request, and who it claims to be (withToken adds that). */
export interface Built {
  req: WireRequest;
  auth: Auth;
}

const JSON_TYPE: [string, string] = ["Content-Type", "application/json"];

/** The request a seed stands for, given the records acknowledged so far. */
export function fromSeed(s: Seed, known: Known): WireRequest {
  const id = (pick: number) => known.ids[pick % Math.max(1, known.ids.length)] ?? "cap_01M8FMTT425T0SWT9WYGC66PKF";
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  const plain = (method: string, target: string, headers: Array<[string, string]> = [], body?: Buffer): WireRequest => ({
    method,
    target,
    headers,
    body,
    chunked: false,
    splits: [],
  });
  switch (s.kind) {
    case "create":
      return plain("POST", BASE, [JSON_TYPE], json(s.capacity));
    case "patch": {
      const target = id(s.pick);
      const ifMatch: Array<[string, string]> = s.ifMatch ? [["If-Match", `"${known.etag(target)}"`]] : [];
      const query = s.mask === undefined ? "" : `?update_mask=${s.mask}`;
      return plain("PATCH", `${BASE}/${target}${query}`, [JSON_TYPE, ...ifMatch], json(s.capacity));
    }
    case "delete":
    case "undelete":
    case "confirm": {
      const target = id(s.pick);
      const ifMatch: Array<[string, string]> = s.ifMatch ? [["If-Match", `"${known.etag(target)}"`]] : [];
      if (s.kind === "delete") return plain("DELETE", `${BASE}/${target}`, ifMatch);
      return plain("POST", `${BASE}/${target}:${s.kind}`, [JSON_TYPE, ...ifMatch], Buffer.from("{}"));
    }
    case "get":
      return plain(s.head ? "HEAD" : "GET", `${BASE}/${id(s.pick)}`);
    case "list":
      return plain("GET", `${BASE}?person_id=${s.person}&page_size=5`);
    case "availability":
      return plain("GET", `/api/v1/work/people/${s.person}/availability?period_start=2027-01-01&period_end=2027-03-31&include_capacity_ids=true`);
    case "batch":
      return plain(
        "POST",
        "/api/v1/work/people/availability:batchGet",
        [JSON_TYPE],
        json({ personIds: s.people, periodStart: "2027-01-01", periodEnd: "2027-12-31" }),
      );
    case "random":
      return plain(s.method, s.path, [JSON_TYPE], s.method === "GET" || s.method === "HEAD" ? undefined : Buffer.from("{}"));
  }
}

function damaged(body: Buffer | undefined, d: BodyDamage): Buffer | undefined {
  const b = Buffer.from(body ?? Buffer.from("{}"));
  switch (d.kind) {
    case "flip":
      if (b.length > 0) b[d.at % b.length]! ^= d.xor;
      return b;
    case "cut":
      return b.subarray(0, d.at % (b.length + 1));
    case "append":
      return Buffer.concat([b, Buffer.from(d.text)]);
    case "replace":
      return Buffer.from(d.json);
    case "key":
      return b[0] === 0x7b ? Buffer.concat([Buffer.from(`{"${d.key}":${d.json},`), b.subarray(1)]) : Buffer.from(`{"${d.key}":${d.json}}`);
    case "bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
    case "nest":
      return Buffer.from(`{"notes":${"[".repeat(d.depth)}${"]".repeat(d.depth)}}`);
    case "oversize":
      return Buffer.from(JSON.stringify({ notes: "n".repeat(READ_MAX_BYTES + 100) }));
    case "invalid utf-8":
      return b[0] === 0x7b ? Buffer.concat([Buffer.from('{"notes":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('",'), b.subarray(1)]) : b;
    case "drop":
      return undefined;
  }
}

/** Applies the mutations in order. */
export function mutate(req: WireRequest, ms: readonly Mutation[]): Built {
  let { method, target, body, chunked, splits } = req;
  const headers = [...req.headers];
  let auth: Auth = "own";
  for (const m of ms) {
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? "" : target.slice(q);
    switch (m.kind) {
      case "method":
        method = m.method;
        break;
      case "segment": {
        // Never the /api/ prefix: every answer stays the API's.
        const parts = path.split("/");
        const at = 2 + (m.at % Math.max(1, parts.length - 2));
        parts[at] = m.value;
        target = parts.join("/") + query;
        break;
      }
      case "suffix":
        target = path + m.value + query;
        break;
      case "query":
        target += (target.includes("?") ? "&" : "?") + m.params.map(([n, v]) => `${n}=${v}`).join("&");
        break;
      case "params":
        target += (target.includes("?") ? "&" : "?") + Array.from({ length: m.count }, () => `${m.name}=${m.value}`).join("&");
        break;
      case "header":
        headers.push([m.name, m.value]);
        break;
      case "auth":
        auth = m.auth;
        break;
      case "body":
        body = damaged(body, m.damage);
        break;
      case "framing":
        chunked = m.chunked;
        splits = m.splits;
        break;
    }
  }
  return { req: { method, target, headers, body, chunked, splits }, auth };
}

/** The Authorization header (or query parameter) for `auth`. */
export function withToken(built: Built, own: string, other: string): WireRequest {
  const { req, auth } = built;
  const add = (value: string): WireRequest => ({ ...req, headers: [["Authorization", value], ...req.headers] });
  switch (auth) {
    case "own":
      return add(`Bearer ${own}`);
    case "other tenant":
      return add(`Bearer ${other}`);
    case "none":
      return req;
    case "junk":
      return add("Bearer x.y.z");
    case "lower-case scheme":
      return add(`bearer ${own}`);
    case "no scheme":
      return add(own);
    case "in the query":
      return { ...req, target: `${req.target}${req.target.includes("?") ? "&" : "?"}access_token=${own}` };
  }
}

/** Did the request ask for validate_only (either spelling, exactly `true`)? Its answer then wrote nothing. */
export function validateOnly(target: string): boolean {
  const q = target.indexOf("?");
  if (q < 0) return false;
  return [...new URLSearchParams(target.slice(q + 1))].some(([k, v]) => (k === "validate_only" || k === "validateOnly") && v === "true");
}
